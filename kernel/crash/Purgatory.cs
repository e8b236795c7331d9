// The hand-over stage between the digest check and the capture entry, where kexec-tools' purgatory
// runs (after the checks, before the new kernel's entry): what the platform must hear of the crash
// while a dump follows. It runs on the panicking CPU whatever crash_kexec_post_notifiers says (it is
// not a panic notifier), after every other CPU is stopped, and takes none of the first kernel's
// locks (Bmc.cs says how the BMC's interface does without one). Its lines go into the log only:
// the capture kernel prints the log.
static class Purgatory
{
    public static void Run()
    {
        // The SEL record first: it outlives the machine, whatever becomes of the jump.
        Bmc.LogCrash(deferred: true);
        int seconds = Params.Current.CrashWatchdog;
        if (seconds <= 0 || !Bmc.Present) return;
        LogLine l;
        if (Bmc.ArmWatchdog(seconds)) l = $"purgatory: BMC watchdog armed: a hard reset in {seconds} s unless the capture kernel pets it";
        else l = $"purgatory: the BMC did not arm its watchdog (crash_watchdog={seconds}); a hung capture kernel stays hung";
        Log.Deferred(KernLevel.Emerg, ref l);
    }
}
