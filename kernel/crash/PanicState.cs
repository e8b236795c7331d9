// The decisions of panic(), nmi_panic() and crash_kexec(), as one set of atomics with no hardware in
// it, so host tests can race real threads through them. Linux keeps the same state in panic_cpu
// (kernel/panic.c), kexec_lock (kernel/kexec_core.c) and cpus_stopped (crash_smp_send_stop). The
// shootdown's own state (crash_ipi_issued) is the arch's: arch-x86/ShootdownState.cs.
using System.Threading;

/// <summary>What a CPU that tried to claim the panic CPU must do next.</summary>
public enum PanicClaim
{
    /// <summary>It claimed panic_cpu: it is the one CPU that panics.</summary>
    Won,
    /// <summary>It already held panic_cpu (nmi_panic claimed it first, or a fault inside panic).</summary>
    AlreadyMine,
    /// <summary>Another CPU panics: stop this one.</summary>
    OtherCpu,
}

public struct PanicState
{
    public const int PanicCpuInvalid = -1;

    int _panicCpu;          // the CPU that panics, PanicCpuInvalid until one claims it (stored +1 so zeroed memory means invalid)
    int _kexecLock;         // 1 while a CPU is inside __crash_kexec
    int _cpusStopped;       // crash_smp_send_stop ran (it must run once)

    public readonly int PanicCpu => Volatile.Read(in _panicCpu) - 1;

    /// <summary>panic(): claim panic_cpu by compare-exchange from invalid to this CPU.</summary>
    public PanicClaim ClaimPanic(int cpu)
    {
        int old = Interlocked.CompareExchange(ref _panicCpu, cpu + 1, 0) - 1;
        if (old == PanicCpuInvalid) return PanicClaim.Won;
        return old == cpu ? PanicClaim.AlreadyMine : PanicClaim.OtherCpu;
    }

    /// <summary>
    /// crash_kexec(): proceeds only when this call claims panic_cpu itself; a CPU that already
    /// holds it (a nested panic) or loses to another returns and does nothing.
    /// </summary>
    public bool ClaimForCrashKexec(int cpu) => Interlocked.CompareExchange(ref _panicCpu, cpu + 1, 0) == 0;

    /// <summary>crash_kexec() returning without a jump gives panic_cpu back, so a later panic can claim it.</summary>
    public void ReleaseAfterCrashKexec(int cpu) => Interlocked.CompareExchange(ref _panicCpu, 0, cpu + 1);

    /// <summary>__crash_kexec(): the kexec lock, taken by trylock only (never waited for on the crash path).</summary>
    public bool TryLockKexec() => Interlocked.CompareExchange(ref _kexecLock, 1, 0) == 0;
    public void UnlockKexec() => Volatile.Write(ref _kexecLock, 0);

    /// <summary>crash_smp_send_stop(): true for the first caller only; panic and machine_crash_shutdown both reach it.</summary>
    public bool FirstToStopOtherCpus() => Interlocked.Exchange(ref _cpusStopped, 1) == 0;
}
