// Stopping the other CPUs for a crash dump (arch/x86/kernel/reboot.c nmi_shootdown_cpus,
// crash.c): an NMI IPI to every other online CPU, because an NMI reaches a CPU that spins with
// interrupts off; each one runs the caller's callback (the kernel saves its registers into its
// crash note), disables its local APIC and halts. crash_ipi_issued is set only after the IPI went
// out, and the wait for answers is bounded (one second in all, as Linux). Nothing here allocates
// or locks.
using System.Threading;

/// <summary>What one shootdown did, for the kernel's report.</summary>
struct ShootdownResult
{
    /// <summary>Online CPUs other than the crashing one.</summary>
    public int Others;
    /// <summary>TSC when the NMI IPI went out (0 if none was needed).</summary>
    public ulong IpiTsc;
    /// <summary>CPUs that ran the callback within the bound.</summary>
    public int Answered;
    /// <summary>TSC when the wait for answers ended (all answered, or the bound passed).</summary>
    public ulong WaitEndTsc;
}

static unsafe class CrashShutdown
{
    /// <summary>Linux waits one second for every CPU together; a CPU wedged with NMIs blocked never answers.</summary>
    public const ulong ShootdownBoundUs = 1_000_000;

    static ShootdownState s_state;
    static ulong s_callback;    // delegate*<int, TrapFrame*, CpuStopState, void>: (cpu, interrupted registers, how it stopped)
    static ulong s_crashHandler;    // delegate*<TrapFrame*, void>, 0 when no platform registered one

    /// <summary>crash_ipi_issued: the crash NMI is out (read by CPUs looping in NMI context).</summary>
    public static bool IpiIssued => s_state.IpiIssued;

    /// <summary>
    /// native_machine_crash_shutdown(): the other CPUs stopped (crash_smp_send_stop, once), then the
    /// interrupt sources the capture kernel must not inherit quiesced: every IOAPIC entry masked
    /// (clear_IO_APIC) and this CPU's local APIC software-disabled with its LVTs masked
    /// (lapic_shutdown); the capture kernel enables its APIC again with LINT1 masked.
    /// </summary>
    public static void MachineCrashShutdown(TrapFrame* regs)
    {
        Cpu.DisableInterrupts();
        ulong handler = Volatile.Read(ref s_crashHandler);
        if (handler != 0) ((delegate*<TrapFrame*, void>)(void*)handler)(regs);
        Panic.CrashSmpSendStop(regs);
        Platform.MaskIoApics();
        LocalApic.Disable();
    }

    /// <summary>
    /// A platform's crash handler, run first by MachineCrashShutdown (Linux: Hyper-V's
    /// hv_machine_crash_shutdown calls hv_crash_handler, then native_machine_crash_shutdown): while
    /// the other CPUs still run, unless crash_kexec_post_notifiers has stopped them already.
    /// </summary>
    public static void RegisterCrashHandler(delegate*<TrapFrame*, void> handler)
    {
        Bug.On(Volatile.Read(ref s_crashHandler) != 0, "CrashShutdown.RegisterCrashHandler: one platform crash handler");
        Volatile.Write(ref s_crashHandler, (ulong)handler);
    }

    /// <summary>
    /// nmi_shootdown_cpus(callback): every other online CPU runs callback(cpu, regs, how) and halts;
    /// how says whether it took the shootdown NMI or, already looping in NMI context, stopped itself.
    /// </summary>
    public static ShootdownResult NmiShootdownCpus(delegate*<int, TrapFrame*, CpuStopState, void> callback)
    {
        Cpu.DisableInterrupts();
        ShootdownResult r = default;
        r.Others = SmpBoot.OnlineCount - 1;
        if (!s_state.Begin(PerCpuArea.ThisCpu, r.Others)) return r;
        // The callback first, then the handler that calls it, then the IPI that reaches it.
        Volatile.Write(ref s_callback, (ulong)callback);
        Nmi.SetEmergencyHandler(&CrashNmiCallback);
        if (r.Others > 0)
        {
            r.IpiTsc = Cpu.Rdtsc();
            Ipi.SendNmiAllButSelf();
        }
        // Only now: a CPU looping in NMI context that saw this flag before the IPI went out would
        // have saved its registers while the count above was still being set up.
        s_state.MarkIpiIssued();

        // Bounded: a CPU wedged in NMI context with NMIs blocked (an NMI handler that never
        // returns) can neither take this NMI nor run the callback; the dump must not wait for it.
        ulong deadline = Clock.DeadlineAfterUs(ShootdownBoundUs);
        while (s_state.Waiting > 0 && !Clock.Passed(deadline))
            Cpu.Pause();
        r.WaitEndTsc = Cpu.Rdtsc();
        r.Answered = r.Others - s_state.Waiting;
        return r;
    }

    /// <summary>The emergency NMI handler during a shootdown (crash_nmi_callback).</summary>
    static bool CrashNmiCallback(TrapFrame* regs) => StopThisCpu(regs, CpuStopState.Answered);

    static bool StopThisCpu(TrapFrame* regs, CpuStopState how)
    {
        int me = PerCpuArea.ThisCpu;
        // The crashing CPU takes NMIs here too (an external NMI broadcast, or one sent to itself):
        // it is the CPU doing the crash, so it must not stop. "Handled" swallows the NMI, so no
        // other NMI handler runs on the crashing CPU while it is in the middle of crash_kexec.
        if (me == s_state.CrashingCpu) return true;
        Cpu.DisableInterrupts();
        ((delegate*<int, TrapFrame*, CpuStopState, void>)(void*)Volatile.Read(ref s_callback))(me, regs, how);
        LocalApic.Disable();
        s_state.Answered();
        // Still in NMI context: no IRET will ever unblock NMIs on this CPU again.
        Cpu.HaltForever();
        return true;
    }

    /// <summary>
    /// A CPU that lost the panic in NMI context and has saved its registers itself: counted as
    /// stopped (before the shootdown too) and halted for good, with NMIs blocked.
    /// </summary>
    public static void StoppedItselfInNmi()
    {
        Cpu.DisableInterrupts();
        LocalApic.Disable();
        s_state.Answered();
        Cpu.HaltForever();
    }

    /// <summary>run_crash_ipi_callback(): for a CPU stuck in NMI context, the shootdown it cannot receive.</summary>
    public static void RunCrashIpiCallback(TrapFrame* regs)
    {
        if (s_state.IpiIssued) StopThisCpu(regs, CpuStopState.StoppedInNmi);
    }
}
