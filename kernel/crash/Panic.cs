// panic() and nmi_panic(): stop the machine on exactly one CPU and say why (kernel/panic.c).
// Order: claim panic_cpu; print; crash_kexec unless crash_kexec_post_notifiers; stop the other
// CPUs the kdump way (their registers saved, always, image or not); panic notifiers; kmsg_dump;
// crash_kexec if post_notifiers; then panic= decides: reboot after N s, at once, or halt.
using System.Threading;

static unsafe class Panic
{
    public const int MessageCapacity = 256;

    static PanicState s_state;
    static ulong s_startTsc;

    /// <summary>The panic message, kept where a dump reader (gdb, the capture image) can find it.</summary>
    struct MessageBuffer { public fixed byte Bytes[MessageCapacity]; public int Length; }
    static MessageBuffer s_message;

    public static ref PanicState State => ref s_state;
    public static int PanicCpu => s_state.PanicCpu;
    public static bool InProgress => s_state.PanicCpu != PanicState.PanicCpuInvalid;
    /// <summary>TSC when the panicking CPU claimed panic_cpu (panic(), nmi_panic() or crash_kexec()), 0 before.</summary>
    public static ulong StartTsc => Volatile.Read(ref s_startTsc);

    /// <summary>The first claim of panic_cpu stamps the crash timeline; later ones keep it.</summary>
    public static void MarkStart() => Interlocked.CompareExchange(ref s_startTsc, Cpu.Rdtsc(), 0);

    public static byte* MessageAddress { get { fixed (byte* p = s_message.Bytes) return p; } }
    public static System.ReadOnlySpan<byte> Message => new System.ReadOnlySpan<byte>(MessageAddress, s_message.Length);

    public static void KernelPanic(string message) => KernelPanic(message, null);

    public static void KernelPanic(string message, TrapFrame* regs)
    {
        LogLine l = default;
        l.Append(message);
        KernelPanic(ref l, regs);
    }

    /// <summary>
    /// panic(). regs, when given, are what the CPU was doing when the NMI or fault hit; they go
    /// into this CPU's crash note instead of the panic code's own registers.
    /// </summary>
    public static void KernelPanic(ref LogLine message, TrapFrame* regs)
    {
        Cpu.DisableInterrupts();
        int me = PerCpuArea.ThisCpu;
        // Claim the panic CPU first: only the winner may print, stop the others and reboot.
        // A loser stops here with interrupts off; not being in NMI context, the shootdown NMI
        // still reaches it and saves its registers.
        if (s_state.ClaimPanic(me) == PanicClaim.OtherCpu)
            PanicSmpSelfStop();
        MarkStart();

        SaveMessage(message.AsSpan());
        Log.ConsoleVerbose();
        LogLine l = default;
        l.Append("Kernel panic - not syncing: ");
        l.Append(message.AsSpan());
        Log.Emerg(ref l);

        TrapFrame own;
        if (regs == null)
        {
            CrashNotes.CaptureRegisters(&own);
            regs = &own;
        }

        bool postNotifiers = Params.Current.CrashKexecPostNotifiers;
        if (!postNotifiers)
            Kexec.CrashKexecTrylock(regs);      // returns only without a capture image (or when the kexec lock is busy)

        // Unlike Linux without kdump, every panic stops the others the kdump way, so their
        // registers are saved and summarised whether or not a capture image is armed.
        CrashSmpSendStop(regs);

        PanicNotifiers.Call(Message);
        KmsgDump.Dump(KmsgDumpReason.Panic);

        if (postNotifiers)
            Kexec.CrashKexecTrylock(regs);

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
        Cpu.HaltForever();
    }

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

    /// <summary>A CPU that lost the panic race outside NMI context: interrupts off, halted for good.</summary>
    static void PanicSmpSelfStop()
    {
        Cpu.HaltForever();
    }

    /// <summary>Loops (NMIs blocked) until the crash callback can run; it saves the registers and never returns.</summary>
    static void NmiPanicSelfStop(TrapFrame* regs)
    {
        // Unbounded by design, as Linux's: this CPU lost the panic, so it must never run on, and
        // the shootdown NMI cannot reach it (NMIs are blocked here). Polling crash_ipi_issued is how
        // it still saves its registers once the panicking CPU sends the shootdown.
        while (true)
        {
            CrashShutdown.RunCrashIpiCallback(regs);
            Cpu.Pause();
        }
    }

    /// <summary>After an oops (die): there is no process to kill, so every oops ends in panic.</summary>
    public static void OnOops(TrapFrame* regs, bool inInterrupt)
    {
        // Linux's kexec_should_crash(): every context here counts as pid 0, so a dump is taken at
        // once unless the notifiers must run first.
        if (!Params.Current.CrashKexecPostNotifiers)
            Kexec.CrashKexec(regs);
        KernelPanic(inInterrupt ? "Fatal exception in interrupt" : "Fatal exception", regs);
    }

    static void SaveMessage(System.ReadOnlySpan<byte> text)
    {
        int n = text.Length < MessageCapacity - 1 ? text.Length : MessageCapacity - 1;
        fixed (byte* p = s_message.Bytes)
        {
            for (int i = 0; i < n; i++) p[i] = text[i];
            p[n] = 0;
        }
        s_message.Length = n;
    }
}
