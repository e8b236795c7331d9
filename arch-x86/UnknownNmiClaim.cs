// Hyper-V's unknown-NMI policy as one atomic with no hardware in it (Linux: hv_nmi_unknown in
// arch/x86/kernel/cpu/mshyperv.c, its static nmi_cpu), so host tests can race threads through it.
// The first CPU to take an unknown NMI claims it and is let through to unknown_nmi_error (and its
// panic); every later unknown NMI, on any CPU, is swallowed. The claim is never given back.
using System.Threading;

public struct UnknownNmiClaim
{
    public const int NoCpu = -1;

    int _nmiCpu;    // the claiming CPU + 1, 0 while no CPU has claimed (so zeroed memory means none)

    /// <summary>The CPU that took the first unknown NMI, or NoCpu.</summary>
    public readonly int NmiCpu => Volatile.Read(in _nmiCpu) - 1;

    /// <summary>
    /// The NMI_UNKNOWN handler's answer: true ("handled") swallows the NMI, so the CPU returns from
    /// it and can take interrupts again. Only unknown NMIs are ever swallowed: SERR and IOCHK report
    /// hardware errors and keep their own handlers, claim or no claim. Without unknown_nmi_panic
    /// nothing is claimed: no unknown NMI stops the machine, so every CPU reports its own.
    /// </summary>
    public bool Swallow(NmiType type, int cpu, bool unknownNmiPanic)
    {
        if (type != NmiType.Unknown || !unknownNmiPanic) return false;
        return Interlocked.CompareExchange(ref _nmiCpu, cpu + 1, 0) != 0;
    }
}
