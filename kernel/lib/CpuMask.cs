// A set of CPU numbers as a bitmap updated with atomics: Linux's struct cpumask and its
// cpumask_set_cpu()/cpumask_test_cpu()/cpumask_weight(). Sized by the one CPU limit (CpuLimit in
// arch-x86/BootDefs.cs), so a CPU number past it is a bug, never a silently dropped bit.
using System.Threading;

public unsafe struct CpuMask
{
    public const int Words = (CpuLimit.MaxCpus + 63) / 64;

    fixed ulong _bits[Words];

    /// <summary>cpumask_test_cpu(); false for a number outside the mask.</summary>
    public readonly bool Test(int cpu)
    {
        if ((uint)cpu >= CpuLimit.MaxCpus) return false;
        fixed (ulong* b = _bits) return (Volatile.Read(ref b[cpu >> 6]) & (1UL << (cpu & 63))) != 0;
    }

    /// <summary>cpumask_set_cpu(): atomic, so CPUs coming online together never lose each other's bit. False if it was set already.</summary>
    public bool Set(int cpu)
    {
        Bug.On((uint)cpu >= CpuLimit.MaxCpus, "CpuMask.Set: every CPU number is below CpuLimit.MaxCpus");
        ulong bit = 1UL << (cpu & 63);
        fixed (ulong* b = _bits)
        {
            ulong* word = &b[cpu >> 6];
            ulong old = Volatile.Read(ref *word);
            while (true)
            {
                if ((old & bit) != 0) return false;
                ulong seen = Interlocked.CompareExchange(ref *word, old | bit, old);
                if (seen == old) return true;
                old = seen;
            }
        }
    }

    /// <summary>cpumask_weight(): how many CPUs are in the set.</summary>
    public readonly int Weight
    {
        get
        {
            int n = 0;
            for (int cpu = 0; cpu < CpuLimit.MaxCpus; cpu++)
                if (Test(cpu)) n++;
            return n;
        }
    }
}
