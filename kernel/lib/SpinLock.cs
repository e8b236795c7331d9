// A spin lock that knows its owner, for the console and the log ring. Waits are bounded: a CPU
// stopped by the crash NMI may hold the lock forever, and the same CPU re-entering (an NMI that
// lands while this CPU holds it) must not wait for itself. The caller learns which case it is in:
// a re-entered writer must not touch what the interrupted one was half-way through, and a panic
// may break a lock whose holder will never run again (Linux: bust_spinlocks, printk's zap_locks).
using System.Threading;

public enum LockResult
{
    /// <summary>Taken: release it.</summary>
    Acquired,
    /// <summary>This CPU already holds it (an NMI or fault inside the critical section).</summary>
    Reentered,
    /// <summary>Another CPU held it for the whole bound.</summary>
    TimedOut,
}

public struct SpinLock
{
    int _owner;     // CPU number + 1 while held, 0 when free (zero-initialised statics start free)

    /// <summary>Takes the lock, or gives up once the TSC passes <paramref name="deadline"/> (Clock.DeadlineAfterUs).</summary>
    public LockResult Acquire(int cpu, ulong deadline)
    {
        int me = cpu + 1;
        if (Volatile.Read(ref _owner) == me) return LockResult.Reentered;
        while (true)
        {
            if (Volatile.Read(ref _owner) == 0 && Interlocked.CompareExchange(ref _owner, me, 0) == 0)
                return LockResult.Acquired;
            if (Clock.Passed(deadline)) return LockResult.TimedOut;
            Clock.CpuRelax();
        }
    }

    public void Release(int cpu)
    {
        Interlocked.CompareExchange(ref _owner, 0, cpu + 1);
    }

    /// <summary>Takes the lock from whoever holds it: only for a panic, when the holder is stopped for good.</summary>
    public void Break(int cpu) => Volatile.Write(ref _owner, cpu + 1);

    public bool HeldBy(int cpu) => Volatile.Read(ref _owner) == cpu + 1;
}
