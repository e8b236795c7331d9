// Crash triggers for tests, modelled on Linux's LKDTM: `crashtest=NAME` makes a chosen CPU
// (crashtest_cpu=, default 0) fail in a known way crashtest_delay_ms= after every CPU is online.
// The multi-CPU scenarios replay the races Linux's panic/NMI fixes were made for: a victim that
// cannot take interrupts (or is stuck in NMI context) while another CPU panics, an oops racing a
// panic, two panics at once, and an NMI landing inside crash_kexec on the panicking CPU; the holes
// the crash path had to close are in CrashtestHoles.cs. Every scenario is self-contained: it turns
// on what it needs and hooks the kernel by registration only.
using System.Runtime;
using System.Runtime.CompilerServices;
using System.Threading;

static unsafe partial class Crashtest
{
    [MethodImpl(MethodImplOptions.InternalCall), RuntimeImport("*", "crashtest_ud2")] static extern void Ud2();
    [MethodImpl(MethodImplOptions.InternalCall), RuntimeImport("*", "crashtest_null_write")] static extern void NullWrite();
    [MethodImpl(MethodImplOptions.InternalCall), RuntimeImport("*", "crashtest_gp")] static extern void GeneralProtection();

    /// <summary>How long after the victim starts the other CPU panics (PANIC_STOP_IRQOFF, HARDLOCKUP, NMI_HANG).</summary>
    const ulong PanickerLagUs = 100_000;
    /// <summary>Lead time before the shared TSC deadline, so both CPUs are waiting for it when it comes.</summary>
    const ulong RaceLeadUs = 20_000;

    static CrashTestType s_test = CrashTestType.None;
    static int s_victim = -1, s_panicker = -1;
    static ulong s_victimStartTsc, s_panickerTsc;
    static int s_nestedArmed, s_nestedSeen;
    static ulong s_hardlockupCounter;

    /// <summary>Boot CPU, once every CPU is online: choose the CPUs, then start the scenario.</summary>
    public static void RunIfRequested()
    {
        CrashTestType test = (CrashTestType)Params.Current.Choice(BootParam.Crashtest);
        if (test == CrashTestType.None) return;
        int victim = Params.Current.CrashtestCpu;
        if (!SmpBoot.IsOnline(victim))
        {
            Log.Emerg($"crashtest: crashtest_cpu={victim} is not online ({SmpBoot.OnlineCount} CPUs); nothing done");
            return;
        }
        int panicker = -1;
        if (CrashtestScenario.NeedsSecondCpu(test))
        {
            for (int cpu = 0; cpu < SmpBoot.PossibleCount && panicker < 0; cpu++)
                if (cpu != victim && SmpBoot.IsOnline(cpu)) panicker = cpu;
            if (panicker < 0)
            {
                LogLine n = default;
                n.Append("crashtest: ");
                Params.AppendValue(ref n, BootParam.Crashtest);
                n.Append(" needs at least two CPUs; nothing done");
                Log.Err(ref n);
                return;
            }
        }
        ulong delayMs = (ulong)Params.Current.CrashtestDelayMs;
        if (delayMs > 0)
        {
            ulong until = Clock.DeadlineAfterUs(delayMs * 1000);
            while (!Clock.Passed(until)) Idle.HaltBriefly(10_000);
        }

        s_test = test;
        s_victim = victim;
        s_panicker = panicker;
        s_victimStartTsc = Clock.DeadlineAfterUs(RaceLeadUs);
        s_panickerTsc = CrashtestScenario.Simultaneous(test) ? s_victimStartTsc : s_victimStartTsc + (Clock.DeadlineAfterUs(PanickerLagUs) - Cpu.Rdtsc());
        // Each scenario hooks what it needs before any CPU starts its part.
        Interrupts.Register(Vectors.TestTriggerIpi, &StartIpi);
        if (test == CrashTestType.NmiHang) Nmi.Register(NmiType.Local, &NmiHangHandler);
        if (test == CrashTestType.NestedNmiPanic)
        {
            Nmi.Register(NmiType.Local, &NestedNmiHandler);
            CrashPoints.Register(CrashPoint.CrashKexec, &InsideCrashKexec);
        }
        if (test == CrashTestType.UnknownNmiBroadcast) UnknownNmiBroadcast.Hook(victim);
        RegisterHoleHooks(test);

        LogLine l = default;
        l.Append("crashtest: performing ");
        Params.AppendValue(ref l, BootParam.Crashtest);
        l.Append(" on CPU ");
        l.AppendDecimal(victim);
        if (panicker >= 0) { l.Append(", CPU "); l.AppendDecimal(panicker); l.Append(" panics"); }
        Log.Info(ref l);

        // Start the other CPUs' parts first: the boot CPU's own part may never return.
        if (test == CrashTestType.PrintkStorm)
        {
            Ipi.SendFixedAllButSelf(Vectors.TestTriggerIpi);
            RunOnThisCpu();
            return;
        }
        if (victim != 0) Ipi.SendFixed(victim, Vectors.TestTriggerIpi);
        if (panicker > 0) Ipi.SendFixed(panicker, Vectors.TestTriggerIpi);
        if (victim == 0 || panicker == 0) RunOnThisCpu();
    }

    /// <summary>The trigger IPI: play this CPU's part (it may never return; the IPI is already acknowledged).</summary>
    static void StartIpi(TrapFrame* regs) => RunOnThisCpu();

    /// <summary>The boot CPU directly, the others through the trigger IPI: play this CPU's part.</summary>
    static void RunOnThisCpu()
    {
        int me = PerCpuArea.ThisCpu;
        if (s_test == CrashTestType.PrintkStorm) StormPart(me == s_victim);
        else if (me == s_panicker) PanickerPart();
        else if (me == s_victim) VictimPart();
    }

    static void WaitForTsc(ulong tsc)
    {
        while ((long)(Cpu.Rdtsc() - tsc) < 0) Cpu.Pause();
    }

    static void PanickerPart()
    {
        Cpu.DisableInterrupts();
        WaitForTsc(s_panickerTsc);
        LogLine m = default;
        m.Append("crashtest: ");
        Params.AppendValue(ref m, BootParam.Crashtest);
        Panic.KernelPanic(ref m, null);
    }

    static void VictimPart()
    {
        Cpu.DisableInterrupts();
        WaitForTsc(s_victimStartTsc);
        switch (s_test)
        {
            case CrashTestType.Panic:
                Panic.KernelPanic("crashtest: PANIC");
                break;
            case CrashTestType.Bug:
            case CrashTestType.OopsPanicRace:
                Ud2();
                break;
            case CrashTestType.Exception:
                NullWrite();
                break;
            case CrashTestType.DoubleFault:
                DoubleFault();
                break;
            case CrashTestType.StackOverflow:
                Recurse(0);
                break;
            case CrashTestType.PanicStopIrqoff:
                SpinWithInterruptsOff();
                break;
            case CrashTestType.Hardlockup:
                HardLockup();
                break;
            case CrashTestType.NmiHang:
                // The handler (NmiHangHandler) never returns: this CPU stays in NMI context.
                Ipi.SendNmi(PerCpuArea.ThisCpu);
                SpinWithInterruptsOff();
                break;
            case CrashTestType.DoublePanic:
                Panic.KernelPanic("crashtest: DOUBLE_PANIC");
                break;
            case CrashTestType.NestedNmiPanic:
                Panic.KernelPanic("crashtest: NESTED_NMI_PANIC");
                break;
            case CrashTestType.UnknownNmiBroadcast:
                UnknownNmiBroadcast.TakeUnknownNmi();
                // Without unknown_nmi_panic a broadcast NMI is survived, as on Linux: every CPU said
                // it was dazed and runs on, and so does this one (back to its idle loop).
                if (!Params.Current.UnknownNmiPanic)
                {
                    Log.Info("crashtest: UNKNOWN_NMI_BROADCAST: no unknown_nmi_panic, so no CPU panicked; running on");
                    return;
                }
                break;
            case CrashTestType.WriteCrashkernel:
                WriteCrashKernel();
                break;
            default:
                HoleVictimPart();
                break;
        }
        LogLine f = default;
        f.Append("crashtest: ");
        Params.AppendValue(ref f, BootParam.Crashtest);
        f.Append(" did not crash the kernel");
        Log.Err(ref f);
        Power.ExitFailure();
    }

    /// <summary>
    /// A stray write into the loaded capture image (lkdtm's WRITE_RO, aimed at the crash region):
    /// the region is read-only since the load, so the store faults before it changes a byte, and the
    /// oops that follows jumps to an image whose digest still matches.
    /// </summary>
    static void WriteCrashKernel()
    {
        PhysRange region = Kexec.ProtectedRegion;
        if (region.Size == 0)
        {
            Log.Err("crashtest: WRITE_CRASHKERNEL needs a capture image armed (a multiboot module and crashkernel=); nothing done");
            return;
        }
        uint* target = (uint*)region.Start;
        Log.Info($"crashtest: writing into the crash region at 0x{region.Start:x}");
        Volatile.Write(ref *target, ~Volatile.Read(ref *target));
    }

    /// <summary>
    /// With the #GP gate absent, the #GP raises #NP while it is delivered: a contributory fault
    /// during a contributory fault is a double fault (SDM Vol. 3A table 6-5).
    /// </summary>
    static void DoubleFault()
    {
        Idt.SetPresent(Vectors.GeneralProtection, false);
        GeneralProtection();
    }

    /// <summary>Spins in this very function (no call out), so the saved RIP names it.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    static void SpinWithInterruptsOff()
    {
        Cpu.DisableInterrupts();
        while (Volatile.Read(ref s_never) == 0) { }
    }

    static int s_never;

    [MethodImpl(MethodImplOptions.NoInlining)]
    static void HardLockup()
    {
        Cpu.DisableInterrupts();
        while (true) Volatile.Write(ref s_hardlockupCounter, Volatile.Read(ref s_hardlockupCounter) + 1);
    }

    /// <summary>Eats the stack 512 bytes a call until the guard page below it faults.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    static int Recurse(int depth)
    {
        byte* frame = stackalloc byte[512];
        for (int i = 0; i < 512; i += 64) frame[i] = (byte)depth;
        return Recurse(depth + 1) + frame[depth & 511];
    }

    /// <summary>NMI_HANG: the victim's NMI never returns and ignores the crash callback.</summary>
    static bool NmiHangHandler(TrapFrame* regs)
    {
        if (s_test != CrashTestType.NmiHang || PerCpuArea.ThisCpu != s_victim) return false;
        Log.Emerg($"crashtest: CPU {s_victim} stuck in its NMI handler");
        while (true) Cpu.Pause();
    }

    /// <summary>The crash_kexec crash point: NESTED_NMI_PANIC sends the panicking CPU an NMI right here.</summary>
    static void InsideCrashKexec()
    {
        if (s_test != CrashTestType.NestedNmiPanic || PerCpuArea.ThisCpu != s_victim) return;
        if (Interlocked.Exchange(ref s_nestedArmed, 1) != 0) return;
        Ipi.SendNmi(s_victim);
        ulong deadline = Clock.DeadlineAfterUs(100_000);
        while (Volatile.Read(ref s_nestedSeen) == 0 && !Clock.Passed(deadline)) Cpu.Pause();
        Log.Emerg(Volatile.Read(ref s_nestedSeen) != 0
            ? "crashtest: nested nmi_panic returned on the panicking CPU; the panic goes on"
            : "crashtest: the nested NMI never arrived");
    }

    static bool NestedNmiHandler(TrapFrame* regs)
    {
        if (Volatile.Read(ref s_nestedArmed) == 0 || PerCpuArea.ThisCpu != s_victim) return false;
        Log.Emerg($"crashtest: NMI inside crash_kexec on CPU {s_victim}; calling nmi_panic");
        Panic.NmiPanic(regs, "crashtest: nested NMI");
        Volatile.Write(ref s_nestedSeen, 1);
        return true;
    }
}
