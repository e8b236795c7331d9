// crash_kexec() and __crash_kexec() (kernel/kexec_core.c): the jump into the capture image, with
// Linux's exclusion. crash_kexec claims panic_cpu itself, so an oops on one CPU racing a panic on
// another yields one dump; CrashKexecTrylock (__crash_kexec) takes the kexec lock by trylock
// itself, so a nested panic inside it cannot loop or wait. Without a capture image armed, both
// return and the panic goes on. Nothing here allocates.
using System;

static unsafe partial class Kexec
{
    static bool s_jumpRefused;

    /// <summary>A dump will follow this panic: a capture image is armed and its jump was not refused (pvpanic's "crash loaded").</summary>
    public static bool DumpComing => s_imageArmed && !s_jumpRefused;

    /// <summary>
    /// crash_kexec(regs): from die(); proceeds only if this call claims panic_cpu. The oops
    /// headline becomes the crash's reason (PANIC_MESSAGE), its lines starting at fromSeq.
    /// </summary>
    public static void CrashKexec(TrapFrame* regs, scoped ReadOnlySpan<byte> reason, ulong fromSeq)
    {
        int me = PerCpuArea.ThisCpu;
        if (!Panic.State.ClaimForCrashKexec(me)) return;
        Panic.MarkStart();
        Panic.RecordReason(reason, fromSeq);
        CrashKexecTrylock(regs);
        // No jump happened: give panic_cpu (and the reason) back, so the panic() that follows,
        // on this CPU or another, claims it afresh.
        Panic.ForgetReason();
        Panic.State.ReleaseAfterCrashKexec(me);
    }

    /// <summary>
    /// Purgatory's check (the same digests the host tests run) of everything the jump executes: the
    /// capture image, the hand-over code in its control page, the page tables. On a mismatch the
    /// jump is refused and the panic goes on.
    /// </summary>
    static void MachineKexecChecked()
    {
        ulong t0 = Cpu.Rdtsc();
        byte* actual = stackalloc byte[Sha256.DigestSize];
        byte* expected = stackalloc byte[Sha256.DigestSize];
        var got = new Span<byte>(actual, Sha256.DigestSize);
        var want = new Span<byte>(expected, Sha256.DigestSize);
        string failed = null;
        if (!s_image.Verify(Region, got)) { failed = "capture image"; s_image.CopyDigest(want); }
        else if (!s_handOver.Verify(Region, s_image.Base, got)) { failed = "hand-over code"; s_handOver.CopyDigest(want); }
        else if (!s_pageTables.Verify(Region, s_image.Base, got)) { failed = "page tables"; s_pageTables.CopyDigest(want); }
        if (failed != null)
        {
            LogLine l = default;
            KexecImage.DescribeMismatch(ref l, failed, want, got);
            Log.Emerg(ref l);
            s_jumpRefused = true;
            return;
        }
        Purgatory.Run();
        LogLine jump = $"kexec: jumping to the capture image at 0x{s_image.Entry:x}";
        Log.LastBeforeJump(KernLevel.Emerg, ref jump);
        ulong jumpTsc = Cpu.Rdtsc();
        VmcoreinfoNote.UpdateAtJump(Clock.TicksToNs(jumpTsc - t0, Clock.TscKhz) / 1000, jumpTsc);
        MachineKexec.Jump(s_image.Base, s_image.RegionSize, s_image.Entry, s_coreHeader, s_cr3);
    }

    /// <summary>__crash_kexec(regs): no panic_cpu check; takes the kexec lock itself, by trylock only.</summary>
    public static void CrashKexecTrylock(TrapFrame* regs)
    {
        if (!Panic.State.TryLockKexec()) return;
        CrashPoints.Hit(CrashPoint.CrashKexec);
        if (s_imageArmed)
        {
            ulong panicTsc = Cpu.Rdtsc();
            CrashShutdown.MachineCrashShutdown(regs);
            Crashlog.Save();
            // As the shootdown's lines (CrashNotes.ReportShootdown): the console gets it only if the jump fails.
            Log.ReportDroppedInPanic(console: Params.Current.CrashKexecPostNotifiers);
            VmcoreinfoNote.UpdateAtCrash(panicTsc, Clock.TicksToNs(Cpu.Rdtsc() - panicTsc, Clock.TscKhz) / 1000);
            MachineKexecChecked();
            // Still here: no jump, so no capture report either. The next console line (the panic
            // going on) flushes the deferred ones: the shootdown's and the per-CPU lines.
        }
        else if (System.Threading.Interlocked.Exchange(ref s_reportedNoImage, 1) == 0)
        {
            Log.Emerg("kdump: no capture image armed; the panic goes on without a dump");
        }
        Panic.State.UnlockKexec();
    }
}
