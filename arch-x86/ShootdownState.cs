// The NMI shootdown's shared state as atomics with no hardware in it, so host tests can race real
// threads through it: which CPU is crashing, how many CPUs are still to answer (counted as those
// stopped, so a CPU that stopped before the shootdown began is not waited for), and whether the
// crash NMI went out (Linux: crashing_cpu, waiting_for_crash_ipi, crash_ipi_issued in
// arch/x86/kernel/reboot.c).
using System.Threading;

public struct ShootdownState
{
    int _crashingCpu;   // CPU + 1, 0 while no shootdown has begun
    int _others;        // CPUs to stop, set by Begin
    int _stopped;       // CPUs that saved their registers, before Begin too (a CPU that lost the panic in NMI context)
    int _ipiIssued;     // the NMI IPI went out: CPUs looping in NMI context may now save theirs

    /// <summary>The CPU doing the shootdown, -1 before one began.</summary>
    public readonly int CrashingCpu => Volatile.Read(in _crashingCpu) - 1;

    /// <summary>
    /// nmi_shootdown_cpus()'s start: records the crashing CPU and the CPUs to wait for. False when a
    /// shootdown already began (Linux returns at once rather than re-arm the callback).
    /// </summary>
    public bool Begin(int crashingCpu, int others)
    {
        if (Interlocked.CompareExchange(ref _crashingCpu, crashingCpu + 1, 0) != 0) return false;
        Volatile.Write(ref _others, others);
        return true;
    }

    /// <summary>Set only after the NMI IPI went out: before that, a CPU that saved its registers would not be counted.</summary>
    public void MarkIpiIssued() => Volatile.Write(ref _ipiIssued, 1);
    public readonly bool IpiIssued => Volatile.Read(in _ipiIssued) != 0;

    /// <summary>A stopped CPU saved its registers (during the shootdown, or before it began).</summary>
    public void Answered() => Interlocked.Increment(ref _stopped);
    public readonly int Waiting => Volatile.Read(in _others) - Volatile.Read(in _stopped);
}
