// The crashtest= scenarios as data: their names (same order as the parameter table's words) and
// what each needs, so host tests can check the table against the enum and the rules without QEMU.
// The scenarios themselves run in Crashtest.cs.

/// <summary>crashtest=: the crash scenario a test boot asks for; same order as the table's words.</summary>
public enum CrashTestType
{
    None = -1,
    Panic,
    Bug,
    Exception,
    DoubleFault,
    StackOverflow,
    PanicStopIrqoff,
    Hardlockup,
    NmiHang,
    OopsPanicRace,
    DoublePanic,
    NestedNmiPanic,
    UnknownNmiBroadcast,
    ReasonLockPanic,
    RunawayWriter,
    PrintkStorm,
    NmiOopsRace,
    NotifierOops,
    PanicDoubleFault,
    WriteCrashkernel,
}

public static class CrashtestScenario
{
    /// <summary>The scenarios with a second CPU that panics while the target is busy failing.</summary>
    public static bool NeedsSecondCpu(CrashTestType t) =>
        t == CrashTestType.PanicStopIrqoff || t == CrashTestType.Hardlockup || t == CrashTestType.NmiHang ||
        t == CrashTestType.OopsPanicRace || t == CrashTestType.DoublePanic || t == CrashTestType.ReasonLockPanic ||
        t == CrashTestType.RunawayWriter || t == CrashTestType.NmiOopsRace;

    /// <summary>The scenarios whose two CPUs start at the same TSC deadline (the others: the panicking CPU lags).</summary>
    public static bool Simultaneous(CrashTestType t) => t == CrashTestType.OopsPanicRace || t == CrashTestType.DoublePanic;

    /// <summary>
    /// The scenarios whose target never answers the shootdown (it spins in NMI context and ignores
    /// the crash callback): the only CPU a dump may name missing.
    /// </summary>
    public static bool WedgesTarget(CrashTestType t) => t == CrashTestType.NmiHang || t == CrashTestType.RunawayWriter;

    /// <summary>
    /// Whether the scenario ends in a crash on a machine with <paramref name="cpus"/> CPUs online:
    /// a two-CPU race needs two, and the unknown-NMI broadcast panics only with unknown_nmi_panic.
    /// </summary>
    public static bool Crashes(CrashTestType t, int cpus, bool unknownNmiPanic) =>
        t != CrashTestType.None && (cpus >= 2 || !NeedsSecondCpu(t)) && (t != CrashTestType.UnknownNmiBroadcast || unknownNmiPanic);

    /// <summary>
    /// The scenarios that fault inside the panic on purpose (a panic notifier that oopses or double
    /// faults): panic() is re-entered on its own CPU, says so, and goes straight to crash_kexec.
    /// </summary>
    public static bool FaultsInsidePanic(CrashTestType t) => t == CrashTestType.NotifierOops || t == CrashTestType.PanicDoubleFault;

    /// <summary>Whether every CPU runs a part of the scenario (none of them is idle when it crashes).</summary>
    public static bool EveryCpuTakesPart(CrashTestType t) => t == CrashTestType.PrintkStorm;
}
