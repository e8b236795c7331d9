// A spin lock that knows its owner, for the console and the log ring. Waits are bounded: a CPU
// stopped by the crash NMI may hold the lock forever, and the same CPU re-entering (an NMI that
// lands while this CPU holds it) must not wait for itself. Either case proceeds without the lock,
// as Linux's printk does in panic (bust_spinlocks); a garbled line beats a silent hang.
using System.Threading;

struct SpinLock
{
    int _owner;     // CPU number + 1 while held, 0 when free (zero-initialised statics start free)

    /// <summary>Takes the lock, or gives up after maxSpins and reports false (caller proceeds unlocked).</summary>
    public bool Acquire(int cpu, long maxSpins)
    {
        int me = cpu + 1;
        if (Volatile.Read(ref _owner) == me) return false;   // re-entered on this CPU
        for (long i = 0; i < maxSpins; i++)
        {
            if (Volatile.Read(ref _owner) == 0 && Interlocked.CompareExchange(ref _owner, me, 0) == 0)
                return true;
            SpinPause();
        }
        return false;
    }

    public void Release(int cpu)
    {
        Interlocked.CompareExchange(ref _owner, 0, cpu + 1);
    }

    public bool HeldBy(int cpu) => Volatile.Read(ref _owner) == cpu + 1;

    static void SpinPause()
    {
#if KERNEL
        Cpu.Pause();
#endif
    }
}
