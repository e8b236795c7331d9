// crash_kexec() and __crash_kexec() (kernel/kexec_core.c): the jump into the capture image, with
// Linux's exclusion. crash_kexec claims panic_cpu itself, so an oops on one CPU racing a panic on
// another yields one dump; __crash_kexec takes the kexec lock by trylock only, so a nested panic
// inside it cannot loop or wait. Without a capture image armed, both return and the panic goes on.
static unsafe class Kexec
{
    static bool s_imageArmed;
    static int s_reportedNoImage;

    public static bool ImageArmed => s_imageArmed;

    /// <summary>crash_kexec(regs): from die(); proceeds only if this call claims panic_cpu.</summary>
    public static void CrashKexec(TrapFrame* regs)
    {
        int me = PerCpuArea.ThisCpu;
        if (!Panic.State.ClaimForCrashKexec(me)) return;
        CrashKexecLocked(regs);
        // No jump happened: give panic_cpu back, so the panic() that follows can claim it.
        Panic.State.ReleaseAfterCrashKexec(me);
    }

    /// <summary>__crash_kexec(regs): no panic_cpu check; the kexec lock by trylock.</summary>
    public static void CrashKexecLocked(TrapFrame* regs)
    {
        if (!Panic.State.TryLockKexec()) return;
        Crashtest.InsideCrashKexec();
        if (s_imageArmed)
        {
            CrashShutdown.MachineCrashShutdown(regs);
            // machine_kexec arrives with the capture image.
        }
        else if (System.Threading.Interlocked.Exchange(ref s_reportedNoImage, 1) == 0)
        {
            Log.Emerg("kdump: no capture image armed; the panic goes on without a dump");
        }
        Panic.State.UnlockKexec();
    }
}
