// panic() and nmi_panic(): stop the machine on exactly one CPU and say why (kernel/panic.c).
// Order: claim panic_cpu; print; crash_kexec unless crash_kexec_post_notifiers; stop the other
// CPUs the kdump way (their registers saved, always, image or not); panic notifiers; kmsg_dump;
// crash_kexec if post_notifiers; then panic= decides: reboot after N s, at once, or halt.
// A fault inside panic (a notifier that oopses, a double fault) re-enters it on the same CPU: that
// goes straight to crash_kexec, so the dump is still taken.
using System.Threading;

static unsafe class Panic
{
    public const int MessageCapacity = 256;
    /// <summary>Re-entries of panic() on the panicking CPU before it stops trying anything but halting.</summary>
    const int MaxNesting = 3;

    static PanicState s_state;
    static int s_entered;           // how often the panicking CPU entered panic()
    static ulong s_startTsc;

    /// <summary>
    /// The crash reason, kept where a dump reader (gdb, the capture image) can find it: the panic
    /// message, or the oops headline when an oops led to the dump. The first reason recorded by the
    /// CPU that owns panic_cpu stays; LogSeq is where that CPU's lines about it begin in the log.
    /// </summary>
    struct Reason { public fixed byte Bytes[MessageCapacity]; public int Length; public int Cpu; public ulong LogSeq; public int Set; }
    static Reason s_reason;

    public static ref PanicState State => ref s_state;
    public static int PanicCpu => s_state.PanicCpu;
    public static bool InProgress => s_state.PanicCpu != PanicState.PanicCpuInvalid;
    /// <summary>TSC when the panicking CPU claimed panic_cpu (panic(), nmi_panic() or crash_kexec()), 0 before.</summary>
    public static ulong StartTsc => Volatile.Read(ref s_startTsc);

    /// <summary>The first claim of panic_cpu stamps the crash timeline; later ones keep it.</summary>
    public static void MarkStart() => Interlocked.CompareExchange(ref s_startTsc, Cpu.Rdtsc(), 0);

    public static byte* MessageAddress { get { fixed (byte* p = s_reason.Bytes) return p; } }
    public static System.ReadOnlySpan<byte> Message => new System.ReadOnlySpan<byte>(MessageAddress, s_reason.Length);
    /// <summary>The CPU whose crash it is (-1 before any).</summary>
    public static int CrashCpu => Volatile.Read(ref s_reason.Set) != 0 ? s_reason.Cpu : -1;
    /// <summary>Sequence number of the first log line about the crash (the panic line, or the oops's first line).</summary>
    public static ulong CrashLogSeq => Volatile.Read(ref s_reason.Set) != 0 ? s_reason.LogSeq : Kmsg.NoSeq;

    public static void KernelPanic(string message) => KernelPanic(message, null);

    public static void KernelPanic(string message, TrapFrame* regs)
    {
        LogLine l = default;
        l.Append(message);
        KernelPanic(ref l, regs, default, Kmsg.NoSeq);
    }

    public static void KernelPanic(ref LogLine message, TrapFrame* regs) => KernelPanic(ref message, regs, default, Kmsg.NoSeq);

    /// <summary>
    /// panic(). regs, when given, are what the CPU was doing when the NMI or fault hit; they go
    /// into this CPU's crash note instead of the panic code's own registers. reason, when given
    /// (an oops headline), is what the dump names as the cause instead of the panic message, and
    /// reasonSeq where its lines start.
    /// </summary>
    public static void KernelPanic(ref LogLine message, TrapFrame* regs, scoped System.ReadOnlySpan<byte> reason, ulong reasonSeq)
    {
        Cpu.DisableInterrupts();
        int me = PerCpuArea.ThisCpu;
        // Claim the panic CPU first: only the winner may print, stop the others and reboot.
        if (s_state.ClaimPanic(me) == PanicClaim.OtherCpu)
            PanicSmpSelfStop(regs);
        MarkStart();

        int entry = Interlocked.Increment(ref s_entered);
        if (entry > MaxNesting) Cpu.HaltForever();
        Log.ConsoleVerbose();
        LogLine l = default;
        l.Append("Kernel panic - not syncing: ");
        l.Append(message.AsSpan());
        ulong seq = Log.Emerg(ref l);
        RecordReason(reason.IsEmpty ? message.AsSpan() : reason, reason.IsEmpty ? seq : reasonSeq);
        // dump_stack()'s header, as Linux's panic prints it, unless an oops on this CPU just did.
        PerCpu* cpu = PerCpuArea.This;
        if (entry == 1 && (cpu == null || cpu->OopsLogFrom == 0))
            Log.Emerg($"CPU: {me} PID: 0 Comm: swapper/{me} Not tainted {Version.Release} #1");

        TrapFrame own;
        if (regs == null)
        {
            CrashNotes.CaptureRegisters(&own);
            regs = &own;
        }
        if (entry > 1)
        {
            // A fault inside panic itself (a notifier, the shootdown): nothing of the first pass is
            // run again; the dump is what is left to try. The kexec lock tells whether it was.
            Log.Emerg("panic: a fault inside the panic; going straight to crash_kexec");
            Kexec.CrashKexecTrylock(regs);
            End(ref message);
        }

        bool postNotifiers = Params.Current.CrashKexecPostNotifiers;
        if (!postNotifiers)
            Kexec.CrashKexecTrylock(regs);      // returns only without a capture image (or when the kexec lock is busy)

        // Unlike Linux without kdump, every panic stops the others the kdump way, so their
        // registers are saved and summarised whether or not a capture image is armed.
        CrashSmpSendStop(regs);
        // No dump follows unless crash_kexec is still to come: the record now, before notifiers
        // that may hand the machine to the host (pvpanic's "panicked" stops or powers it off).
        if (!postNotifiers || !Kexec.DumpComing) RecordCrash();

        PanicNotifiers.Call(Message);
        KmsgDump.Dump(KmsgDumpReason.Panic);

        if (postNotifiers)
            Kexec.CrashKexecTrylock(regs);
        End(ref message);
    }

    /// <summary>
    /// What the panicking CPU leaves when no dump follows (purgatory's job otherwise): the RAM
    /// crashlog and the BMC's SEL record, each written once whatever path came here.
    /// </summary>
    static void RecordCrash()
    {
        Crashlog.Save();
        Bmc.LogCrash(deferred: false);
    }

    /// <summary>What panic= asks for after a panic that did not end in the capture image.</summary>
    static void End(ref LogLine message)
    {
        RecordCrash();
        Log.ReportDroppedInPanic();
        int timeout = Params.Current.Panic;
        if (timeout > 0)
        {
            Log.Emerg($"Rebooting in {timeout} seconds..");
            Clock.Mdelay((ulong)timeout * 1000);
            Power.EmergencyRestart();
        }
        else if (timeout < 0)
        {
            Power.EmergencyRestart();
        }
        LogLine end = default;
        end.Append("---[ end Kernel panic - not syncing: ");
        end.Append(message.AsSpan());
        end.Append(" ]---");
        Log.Emerg(ref end);
        // The capture kernel has no one to hand over to: its panic is a failure the host must see.
        if (Volatile.Read(ref s_exitOnPanic) != 0) Power.ExitFailure();
        Cpu.HaltForever();
    }

    static int s_exitOnPanic;

    /// <summary>For the capture kernel: a panic ends the machine with the failure status (3) instead of halting.</summary>
    public static void ExitOnPanic() => Volatile.Write(ref s_exitOnPanic, 1);

    /// <summary>
    /// nmi_panic(): panic from NMI context. The first CPU panics; this same CPU again returns (its
    /// panic is already under way); a CPU that lost to another must not spin with NMIs blocked and
    /// lose its registers, so it saves them itself once the shootdown is issued (x86's
    /// nmi_panic_self_stop), then halts.
    /// </summary>
    public static void NmiPanic(TrapFrame* regs, string message)
    {
        int me = PerCpuArea.ThisCpu;
        switch (s_state.ClaimPanic(me))
        {
            case PanicClaim.Won:
                KernelPanic(message, regs);
                return;
            case PanicClaim.AlreadyMine:
                return;
            default:
                NmiPanicSelfStop(regs);
                return;
        }
    }

    /// <summary>
    /// crash_smp_send_stop(): reached from panic() and from machine_crash_shutdown(), runs once.
    /// Stops the others the kdump way (each saves its own note), then saves this CPU's note last,
    /// with the registers the panic or fault was entered with, and reports who answered.
    /// </summary>
    public static void CrashSmpSendStop(TrapFrame* regs)
    {
        if (!s_state.FirstToStopOtherCpus()) return;
        int me = PerCpuArea.ThisCpu;
        ShootdownResult r = CrashShutdown.NmiShootdownCpus(&CrashNotes.Save);
        CrashNotes.Save(me, regs, CpuStopState.Panicking);
        StopStatus.Write(me, in r);
        CrashNotes.ReportShootdown(me, in r);
    }

    /// <summary>
    /// A CPU that lost the panic race: interrupts off, halted for good; the shootdown NMI reaches
    /// it there and saves its registers. Not so in NMI context (an oops inside an NMI handler): no
    /// IRET ever unblocks NMIs on this CPU again, so it saves its registers itself, as nmi_panic does.
    /// </summary>
    static void PanicSmpSelfStop(TrapFrame* regs)
    {
        PerCpu* cpu = PerCpuArea.This;
        if (cpu != null && cpu->InNmi != 0)
        {
            TrapFrame own;
            if (regs == null)
            {
                CrashNotes.CaptureRegisters(&own);
                regs = &own;
            }
            NmiPanicSelfStop(regs);
        }
        Cpu.HaltForever();
    }

    /// <summary>nmi_panic_self_stop(): saves this CPU's registers, is counted as stopped and halts for good (NMIs blocked).</summary>
    static void NmiPanicSelfStop(TrapFrame* regs)
    {
        // This CPU lost the panic, so it must never run on, and the shootdown NMI cannot reach it
        // (NMIs are blocked here). Linux polls crash_ipi_issued and saves its registers once the
        // shootdown is out; they are the registers it was interrupted with either way, so here it
        // saves them at once and halts. A CPU spinning until then costs the panicking CPU its time
        // wherever CPUs share a core (under TCG, 63 vCPUs on two host cores made the panicking
        // CPU's path to the jump twice as slow, and 254 made it take seconds).
        CrashNotes.Save(PerCpuArea.ThisCpu, regs, CpuStopState.StoppedInNmi);
        CrashShutdown.StoppedItselfInNmi();
    }

    /// <summary>
    /// After an oops (die): there is no process to kill, so every oops ends in panic. The headline
    /// ("invalid opcode: 0000 [#1] SMP") is the crash's reason, and its lines start at fromSeq.
    /// </summary>
    public static void OnOops(TrapFrame* regs, bool inInterrupt, ref LogLine headline, ulong fromSeq)
    {
        // Linux's kexec_should_crash(): every context here counts as pid 0, so a dump is taken at
        // once unless the notifiers must run first.
        if (!Params.Current.CrashKexecPostNotifiers)
            Kexec.CrashKexec(regs, headline.AsSpan(), fromSeq);
        LogLine m = default;
        m.Append(inInterrupt ? "Fatal exception in interrupt" : "Fatal exception");
        KernelPanic(ref m, regs, headline.AsSpan(), fromSeq);
    }

    /// <summary>The crash's reason and CPU, as the CPU that owns panic_cpu sees it; the first one recorded stays.</summary>
    public static void RecordReason(System.ReadOnlySpan<byte> text, ulong logSeq)
    {
        if (Volatile.Read(ref s_reason.Set) != 0) return;
        int n = text.Length < MessageCapacity - 1 ? text.Length : MessageCapacity - 1;
        fixed (byte* p = s_reason.Bytes)
        {
            for (int i = 0; i < n; i++) p[i] = text[i];
            p[n] = 0;
        }
        s_reason.Length = n;
        s_reason.Cpu = PerCpuArea.ThisCpu;
        s_reason.LogSeq = logSeq;
        Volatile.Write(ref s_reason.Set, 1);
    }

    /// <summary>crash_kexec gave panic_cpu back without a dump: the reason it recorded goes too, so the next owner records its own.</summary>
    public static void ForgetReason()
    {
        s_reason.Length = 0;
        Volatile.Write(ref s_reason.Set, 0);
    }
}
