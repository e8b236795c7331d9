// The crashtest scenarios for the holes the crash path had to close (issue "no lost dump, no lost
// CPU, no lost log line"): each replays the one timing that lost a dump, a CPU's registers or the
// panic's own lines, and hooks the kernel only by registration (Nmi.Register, CrashPoints.Register,
// PanicNotifiers.Register) and the test overrides of boot parameters it needs.
//   REASON_LOCK_PANIC  CPU B holds the NMI reason lock in nmi_panic, lost to CPU A; A takes an NMI
//                      before its shootdown: A must not wait for that lock.
//   RUNAWAY_WRITER     CPU B never answers the shootdown and writes RAM throughout the export.
//   PRINTK_STORM       every CPU prints without pause; the target panics mid-storm, while the
//                      next CPU is half-way through a record (a writer the host descheduled).
//   NMI_OOPS_RACE      CPU B oopses inside an NMI handler while CPU A panics.
//   NOTIFIER_OOPS      a panic notifier faults (crash_kexec_post_notifiers).
//   PANIC_DOUBLE_FAULT the same, with a double fault: panic() re-entered from the #DF stack.
using System;
using System.Runtime.CompilerServices;
using System.Threading;

static unsafe partial class Crashtest
{
    /// <summary>How long a CPU waits for the other CPU's step of a race before giving up on it.</summary>
    const ulong RaceStepBoundUs = 2_000_000;
    /// <summary>PRINTK_STORM: how long every CPU prints before the target panics.</summary>
    const ulong StormUs = 300_000;

    static int s_reasonLockHeld, s_holeArmed;

    // The runaway writer's counter, alone in its page (the page the test reads back from the vmcore).
    struct RunawayPage { public fixed byte Bytes[2 * 4096]; }
    static RunawayPage s_runaway;
    static ulong* RunawayCounter { get { fixed (byte* p = s_runaway.Bytes) return (ulong*)(((ulong)p + 4095) & ~4095UL); } }

    /// <summary>Boot CPU, before any CPU starts its part: what each hole's scenario needs, hooked in.</summary>
    static void RegisterHoleHooks(CrashTestType test)
    {
        switch (test)
        {
            case CrashTestType.ReasonLockPanic:
                // nmi_reason=iochk and panic_on_io_nmi, turned on here: the victim's NMI reads IOCHK
                // and panics from io_check_error, with the reason lock held.
                Params.OverrideForTest(BootParam.PanicOnIoNmi, 1);
                Nmi.OverrideReason(NmiReasonOverride.Iochk);
                Log.Info("crashtest: sets nmi_reason=iochk");
                Nmi.Register(NmiType.IoCheck, &ReasonLockIoCheck);
                CrashPoints.Register(CrashPoint.CrashKexec, &ReasonLockAtCrashKexec);
                break;
            case CrashTestType.RunawayWriter:
                Nmi.Register(NmiType.Local, &RunawayNmi);
                CrashPoints.Register(CrashPoint.CrashKexec, &RunawayAtCrashKexec);
                break;
            case CrashTestType.NmiOopsRace:
                Nmi.Register(NmiType.Local, &OopsInNmi);
                break;
            case CrashTestType.PrintkStorm:
                CrashPoints.Register(CrashPoint.CrashKexec, &StormAtCrashKexec);
                break;
            case CrashTestType.NotifierOops:
            case CrashTestType.PanicDoubleFault:
                Params.OverrideForTest(BootParam.CrashKexecPostNotifiers, 1);
                PanicNotifiers.Register(&FaultingNotifier, 100);
                break;
        }
    }

    /// <summary>The victim's part of a hole's scenario (the panicking CPU's is PanickerPart).</summary>
    static void HoleVictimPart()
    {
        switch (s_test)
        {
            case CrashTestType.ReasonLockPanic:
            case CrashTestType.RunawayWriter:
            case CrashTestType.NmiOopsRace:
                // The victim's part runs in its own NMI handler (registered above), which never returns.
                Volatile.Write(ref s_holeArmed, 1);
                Ipi.SendNmi(PerCpuArea.ThisCpu);
                SpinWithInterruptsOff();
                break;
            case CrashTestType.NotifierOops:
                Panic.KernelPanic("crashtest: NOTIFIER_OOPS");
                break;
            case CrashTestType.PanicDoubleFault:
                Panic.KernelPanic("crashtest: PANIC_DOUBLE_FAULT");
                break;
        }
    }

    // ---- REASON_LOCK_PANIC ------------------------------------------------------------------------

    /// <summary>The victim, in io_check_error with the reason lock: waits for the other CPU's panic, then lets nmi_panic lose to it.</summary>
    static bool ReasonLockIoCheck(TrapFrame* regs)
    {
        if (PerCpuArea.ThisCpu != s_victim) return false;
        ulong deadline = Clock.DeadlineAfterUs(RaceStepBoundUs);
        while (!Panic.InProgress && !Clock.Passed(deadline)) Cpu.Pause();
        // Not handled: io_check_error goes on to nmi_panic, which loses to the panicking CPU and
        // waits for its shootdown, the reason lock still held.
        Volatile.Write(ref s_reasonLockHeld, 1);
        return false;
    }

    /// <summary>The panicking CPU at its crash_kexec, before the shootdown: an NMI of its own while the victim holds the lock.</summary>
    static void ReasonLockAtCrashKexec()
    {
        if (PerCpuArea.ThisCpu != s_panicker) return;
        ulong deadline = Clock.DeadlineAfterUs(RaceStepBoundUs);
        while (Volatile.Read(ref s_reasonLockHeld) == 0 && !Clock.Passed(deadline)) Cpu.Pause();
        Clock.Udelay(20_000);       // the victim is in nmi_panic's wait by now
        Log.Emerg($"crashtest: CPU {s_victim} holds the NMI reason lock in nmi_panic; CPU {s_panicker} sends itself an NMI");
        int before = Nmi.Received;
        Ipi.SendNmi(s_panicker);
        deadline = Clock.DeadlineAfterUs(RaceStepBoundUs);
        while (Nmi.Received == before && !Clock.Passed(deadline)) Cpu.Pause();
        Log.Emerg(Nmi.Received != before
            ? "crashtest: the NMI on the panicking CPU returned; the panic goes on"
            : "crashtest: the NMI on the panicking CPU never arrived");
    }

    // ---- RUNAWAY_WRITER ---------------------------------------------------------------------------

    /// <summary>The victim, in NMI context with NMIs blocked: writes its counter forever and never looks at the shootdown.</summary>
    static bool RunawayNmi(TrapFrame* regs)
    {
        if (PerCpuArea.ThisCpu != s_victim || Volatile.Read(ref s_holeArmed) == 0) return false;
        ulong* counter = RunawayCounter;
        Log.Emerg($"crashtest: CPU {s_victim} increments the counter at 0x{(ulong)counter:x} forever, in NMI context");
        RunawayLoop(counter);
        return true;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    static void RunawayLoop(ulong* counter)
    {
        while (true) Volatile.Write(ref *counter, Volatile.Read(ref *counter) + 1);
    }

    static void RunawayAtCrashKexec()
    {
        Log.Emerg($"crashtest: the runaway counter at 0x{(ulong)RunawayCounter:x} reads {Volatile.Read(ref *RunawayCounter)} at crash_kexec");
    }

    // ---- PRINTK_STORM -----------------------------------------------------------------------------

    /// <summary>
    /// Every CPU prints (to the ring only: KERN_DEBUG) without pause; the target panics StormUs in,
    /// once the next CPU (the stalled writer) holds a record it has reserved and not finished, as
    /// a vCPU the host deschedules mid-printk does. The panic's lines must reach the console past it.
    /// The other CPUs hold their lines from the stall until the panic begins, then storm on against
    /// it: otherwise, if the host deschedules the target's vCPU for a few milliseconds there, they
    /// could fill the whole ring up to the stalled record before the panic, and whether that record
    /// is still in the dump (unfinished) or was pushed out by the panic's lines (lost) would depend
    /// on the host's scheduling.
    /// </summary>
    static void StormPart(bool target)
    {
        Cpu.DisableInterrupts();
        WaitForTsc(s_victimStartTsc);
        int me = PerCpuArea.ThisCpu;
        int online = SmpBoot.OnlineCount;
        bool stalls = online > 1 && me == (s_victim + 1) % online;
        bool holdsForThePanic = !target && !stalls;
        ulong until = Clock.DeadlineAfterUs(StormUs);
        ulong giveUp = Clock.DeadlineAfterUs(StormUs + RaceStepBoundUs);   // TSC ticks, like until
        for (ulong i = 0; ; i++)
        {
            if (holdsForThePanic && Volatile.Read(ref s_stormStalled) != 0)
            {
                holdsForThePanic = false;
                ulong deadline = Clock.DeadlineAfterUs(RaceStepBoundUs);
                while (!Panic.InProgress && !Clock.Passed(deadline)) Cpu.Pause();
            }
            Log.Debug($"printk storm: CPU {me} line {i}");
            if (stalls && Clock.Passed(until)) StallInsideARecord(me, i);
            if (target && Clock.Passed(until) && (online == 1 || Volatile.Read(ref s_stormStalled) != 0 || Clock.Passed(giveUp)))
                Panic.KernelPanic("crashtest: PRINTK_STORM");
        }
    }

    static int s_stormStalled;
    /// <summary>How long the stalled writer holds its record once the panic began, at most.</summary>
    const ulong StallHoldBoundUs = 30_000_000;

    /// <summary>The stalled writer: reserves a record, and finishes it only if no panic came within the bound (the shootdown stops it first).</summary>
    static void StallInsideARecord(int me, ulong line)
    {
        LogLine l = $"printk storm: CPU {me} line {line}, stalled half-way";
        var area = new Span<byte>(Log.Area, Log.AreaBytes);
        if (Kmsg.Reserve(area, l.Length, Clock.NowNs, KernLevel.Debug, me, false, out KmsgReservation r) != KmsgReserveStatus.Reserved) return;
        Volatile.Write(ref s_stormStalled, 1);
        ulong deadline = Clock.DeadlineAfterUs(RaceStepBoundUs);
        while (!Panic.InProgress && !Clock.Passed(deadline)) Cpu.Pause();
        // The panic came: held until the shootdown stops this CPU, however long the panic's console
        // takes on a loaded host (bounded, for a shootdown that never comes).
        deadline = Clock.DeadlineAfterUs(StallHoldBoundUs);
        while (Panic.InProgress && !Clock.Passed(deadline)) Cpu.Pause();
        Kmsg.Commit(area, in r, l.AsSpan());
    }

    /// <summary>
    /// The panicking CPU at crash_kexec, before the shootdown: the storm goes on against the claimed
    /// panic until some line was dropped (or the bound passes), so the drop count is always exercised.
    /// </summary>
    static void StormAtCrashKexec()
    {
        ulong deadline = Clock.DeadlineAfterUs(RaceStepBoundUs);
        while (Log.DroppedInPanic == 0 && !Clock.Passed(deadline)) Cpu.Pause();
    }

    // ---- NMI_OOPS_RACE ----------------------------------------------------------------------------

    /// <summary>The victim, in NMI context: once the other CPU panics, an oops (ud2) right here.</summary>
    static bool OopsInNmi(TrapFrame* regs)
    {
        if (PerCpuArea.ThisCpu != s_victim || Volatile.Read(ref s_holeArmed) == 0) return false;
        ulong deadline = Clock.DeadlineAfterUs(RaceStepBoundUs);
        while (!Panic.InProgress && !Clock.Passed(deadline)) Cpu.Pause();
        Ud2();
        return true;
    }

    // ---- NOTIFIER_OOPS ----------------------------------------------------------------------------

    static void FaultingNotifier(ReadOnlySpan<byte> message)
    {
        if (s_test == CrashTestType.PanicDoubleFault)
        {
            Log.Emerg("crashtest: a panic notifier double-faults");
            DoubleFault();
        }
        Log.Emerg("crashtest: a panic notifier faults");
        Ud2();
    }
}
