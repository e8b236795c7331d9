// Stopping the other CPUs for a crash dump (arch/x86/kernel/reboot.c nmi_shootdown_cpus,
// crash.c): an NMI IPI to every other online CPU, because an NMI reaches a CPU that spins with
// interrupts off; each one saves the registers it was interrupted with into its crash note,
// disables its local APIC and halts. crash_ipi_issued is set only after the IPI went out, and the
// wait for answers is bounded (one second in all, as Linux). Nothing here allocates or locks.
using System.Threading;

static unsafe class CrashShutdown
{
    const ulong ShootdownBoundUs = 1_000_000;

    static int s_crashingCpu = -1;
    static int s_waitingForCrashIpi;
    static ulong s_ipiSentTsc;
    static ulong s_shootdownUs;
    static int s_missing;

    public static ulong ShootdownMicroseconds => s_shootdownUs;

    /// <summary>
    /// crash_smp_send_stop(): reached from panic() and from machine_crash_shutdown(), runs once.
    /// Stops the others, then saves this CPU's own note last, and prints the summary.
    /// </summary>
    public static void CrashSmpSendStop(TrapFrame* regs)
    {
        if (!Panic.State.FirstToStopOtherCpus()) return;
        int me = PerCpuArea.ThisCpu;
        NmiShootdownCpus(me);
        CrashNotes.Save(me, regs);
        PrintSummary();
    }

    /// <summary>
    /// native_machine_crash_shutdown(): the shootdown, then quiesce the interrupt sources the
    /// capture kernel must not inherit: every IOAPIC entry masked (clear_IO_APIC) and this CPU's
    /// local APIC software-disabled with its LVTs masked (lapic_shutdown); the capture kernel
    /// enables its APIC again with LINT1 masked.
    /// </summary>
    public static void MachineCrashShutdown(TrapFrame* regs)
    {
        Cpu.DisableInterrupts();
        CrashSmpSendStop(regs);
        Platform.MaskIoApics();
        LocalApic.Disable();
    }

    static void NmiShootdownCpus(int me)
    {
        Cpu.DisableInterrupts();
        if (!Panic.State.ClaimShootdown()) return;
        s_crashingCpu = me;
        int others = SmpBoot.OnlineCount - 1;
        Volatile.Write(ref s_waitingForCrashIpi, others);
        Nmi.SetEmergencyHandler(NmiHandlerId.CrashCallback);
        if (others > 0)
        {
            s_ipiSentTsc = Cpu.Rdtsc();
            Ipi.SendNmiAllButSelf();
        }
        // Only now: a CPU looping in NMI context that saw this flag before the IPI went out would
        // have saved its registers while the count above was still being set up.
        Panic.State.MarkCrashIpiIssued();

        ulong deadline = Clock.DeadlineAfterUs(ShootdownBoundUs);
        while (Volatile.Read(ref s_waitingForCrashIpi) > 0 && !Clock.Passed(deadline))
            Cpu.Pause();

        ulong last = 0;
        for (int cpu = 0; cpu < SmpBoot.PossibleCount; cpu++)
        {
            if (cpu == me || !SmpBoot.IsOnline(cpu)) continue;
            ulong at = CrashNotes.SavedAt(cpu);
            if (at == 0)
            {
                s_missing++;
                Log.Emerg($"crash: CPU {cpu} did not respond to the shootdown NMI; its registers are missing");
            }
            else if (at > last) last = at;
        }
        if (others > 0 && last != 0)
        {
            s_shootdownUs = Clock.TicksToNs(last - s_ipiSentTsc, Clock.TscKhz) / 1000;
            Log.Emerg($"crash: shootdown of {others} CPUs took {s_shootdownUs} us ({others - s_missing} answered)");
        }
    }

    /// <summary>The emergency NMI handler during a shootdown (crash_nmi_callback).</summary>
    public static bool CrashNmiCallback(TrapFrame* regs)
    {
        int me = PerCpuArea.ThisCpu;
        if (me == Volatile.Read(ref s_crashingCpu)) return true;
        Cpu.DisableInterrupts();
        CrashNotes.Save(me, regs);
        LocalApic.Disable();
        Interlocked.Decrement(ref s_waitingForCrashIpi);
        // Still in NMI context: no IRET will ever unblock NMIs on this CPU again.
        Cpu.HaltForever();
        return true;
    }

    /// <summary>run_crash_ipi_callback(): for a CPU stuck in NMI context, the shootdown it cannot receive.</summary>
    public static void RunCrashIpiCallback(TrapFrame* regs)
    {
        if (Panic.State.CrashIpiIssued) CrashNmiCallback(regs);
    }

    /// <summary>One line per CPU from the notes: the short summary that stays in the log.</summary>
    static void PrintSummary()
    {
        for (int cpu = 0; cpu < SmpBoot.PossibleCount; cpu++)
        {
            if (!SmpBoot.IsOnline(cpu)) continue;
            LogLine l = default;
            if (!CrashNotes.Read(cpu, out PrStatusRegs regs))
            {
                l.Append("crash: CPU ");
                l.AppendDecimal(cpu);
                l.Append(" missing");
                Log.Emerg(ref l);
                continue;
            }
            FormatCpuLine(ref l, "crash: ", cpu, PerCpuArea.Get(cpu)->ApicId, in regs, default);
            Log.Emerg(ref l);
        }
    }

    /// <summary>"CPU %d apic %d rip %s+0x%x/0x%x rsp %016lx r12 %016lx", shared with the capture report.</summary>
    public static void FormatCpuLine(ref LogLine l, string prefix, int cpu, uint apicId, in PrStatusRegs regs, System.ReadOnlySpan<byte> symbols)
    {
        l.Append(prefix);
        l.Append("CPU ");
        l.AppendDecimal(cpu);
        l.Append(" apic ");
        l.AppendDecimal(apicId);
        l.Append(" rip ");
        // The capture kernel names the first kernel's RIPs with the first kernel's table.
        if (symbols.IsEmpty) Symbols.Append(ref l, regs[UserReg.Rip]);
        else Symbols.AppendFrom(symbols, regs[UserReg.Rip], ref l, regs[UserReg.Rip]);
        l.Append(" rsp ");
        l.AppendHex(regs[UserReg.Rsp], 16);
        l.Append(" r12 ");
        l.AppendHex(regs[UserReg.R12], 16);
    }
}
