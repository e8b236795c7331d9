// crash_kexec() and __crash_kexec() (kernel/kexec_core.c): the jump into the capture image, with
// Linux's exclusion. crash_kexec claims panic_cpu itself, so an oops on one CPU racing a panic on
// another yields one dump; CrashKexecTrylock (__crash_kexec) takes the kexec lock by trylock
// itself, so a nested panic inside it cannot loop or wait. Without a capture image armed, both
// return and the panic goes on. Nothing here allocates.
using System;

static unsafe partial class Kexec
{
    /// <summary>crash_kexec(regs): from die(); proceeds only if this call claims panic_cpu.</summary>
    public static void CrashKexec(TrapFrame* regs)
    {
        int me = PerCpuArea.ThisCpu;
        if (!Panic.State.ClaimForCrashKexec(me)) return;
        Panic.MarkStart();
        CrashKexecTrylock(regs);
        // No jump happened: give panic_cpu back, so the panic() that follows can claim it.
        Panic.State.ReleaseAfterCrashKexec(me);
    }

    /// <summary>Purgatory's check (the same KexecImage.Verify the host tests run), then the jump; on a mismatch the panic goes on.</summary>
    static void MachineKexecChecked()
    {
        ulong t0 = Cpu.Rdtsc();
        byte* actual = stackalloc byte[Sha256.DigestSize];
        if (!s_image.Verify(Region, new Span<byte>(actual, Sha256.DigestSize)))
        {
            byte* expected = stackalloc byte[Sha256.DigestSize];
            s_image.CopyDigest(new Span<byte>(expected, Sha256.DigestSize));
            LogLine l = default;
            KexecImage.DescribeMismatch(ref l, new ReadOnlySpan<byte>(expected, Sha256.DigestSize), new ReadOnlySpan<byte>(actual, Sha256.DigestSize));
            Log.Emerg(ref l);
            return;
        }
        Log.Emerg($"kexec: jumping to the capture image at 0x{s_image.Entry:x}");
        ulong jumpTsc = Cpu.Rdtsc();
        VmcoreinfoNote.UpdateAtJump(Clock.TicksToNs(jumpTsc - t0, Clock.TscKhz) / 1000, jumpTsc);
        MachineKexec.Jump(s_image.Base, s_image.RegionSize, s_image.Entry, s_coreHeader, s_cr3);
        Log.Emerg("kexec: the hand-over code does not fit its control page; no jump");
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
            VmcoreinfoNote.UpdateAtCrash(panicTsc);
            MachineKexecChecked();
        }
        else if (System.Threading.Interlocked.Exchange(ref s_reportedNoImage, 1) == 0)
        {
            Log.Emerg("kdump: no capture image armed; the panic goes on without a dump");
        }
        Panic.State.UnlockKexec();
    }
}
