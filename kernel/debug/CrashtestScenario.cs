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
}
