// NMI entry and dispatch, after Linux's default_do_nmi (arch/x86/kernel/nmi.c): the emergency
// handler (the crash callback, once a shootdown is on) pre-empts everything; then the NMI_LOCAL
// chain; then the reason port, read under a trylock whose spin runs the crash callback (a CPU
// spinning here in NMI context must still save its registers for the dump); SERR and IOCHK go to
// their handlers, anything else is an unknown NMI. Runs on the NMI IST stack; nothing here may
// fault (an IRET from a nested exception would unblock NMIs over this very stack).
using System.Threading;

static unsafe class Nmi
{
    const int MaxPerType = 4;

    /// <summary>One type's handlers, registered by their owners (register_nmi_handler); nothing is allocated.</summary>
    struct Chain
    {
        public fixed ulong Handlers[MaxPerType];   // delegate*<TrapFrame*, bool>: true when the NMI was this handler's
        public int Count;
    }

    struct Chains { public Chain Local, Unknown, Serr, IoCheck; }

    static Chains s_chains;
    static ulong s_emergency;       // delegate*<TrapFrame*, bool>, 0 when unset
    static int s_reasonLock;
    static int s_forcedReason;      // nmi_reason= test override: consumed by the first reader under the lock
    static int s_received;

    public static int Received => Volatile.Read(ref s_received);

    public static void Init() => OverrideReason((NmiReasonOverride)Params.Current.Choice(BootParam.NmiReason));

    /// <summary>nmi_reason=, or a test trigger that needs it: the next reason read reports SERR or IOCHK, once.</summary>
    public static void OverrideReason(NmiReasonOverride reason)
    {
        Volatile.Write(ref s_forcedReason, reason switch
        {
            NmiReasonOverride.Serr => NmiReason.Serr,
            NmiReasonOverride.Iochk => NmiReason.Iochk,
            _ => 0,
        });
    }

    static ref Chain ChainOf(NmiType type)
    {
        switch (type)
        {
            case NmiType.Local: return ref s_chains.Local;
            case NmiType.Unknown: return ref s_chains.Unknown;
            case NmiType.Serr: return ref s_chains.Serr;
            default: return ref s_chains.IoCheck;
        }
    }

    /// <summary>
    /// register_nmi_handler(): adds a handler to a type's chain. The slot is written before the
    /// count that publishes it, so an NMI walking the chain meanwhile sees the old chain or the new.
    /// </summary>
    public static void Register(NmiType type, delegate*<TrapFrame*, bool> handler)
    {
        ref Chain chain = ref ChainOf(type);
        int n = Volatile.Read(ref chain.Count);
        Bug.On(n >= MaxPerType, "Nmi.Register: each NMI type holds at most 4 handlers");
        Volatile.Write(ref chain.Handlers[n], (ulong)handler);
        Volatile.Write(ref chain.Count, n + 1);
    }

    /// <summary>Linux's emergency NMI handler: once set, it alone handles NMI_LOCAL.</summary>
    public static void SetEmergencyHandler(delegate*<TrapFrame*, bool> handler) => Volatile.Write(ref s_emergency, (ulong)handler);

    public static void Handle(TrapFrame* frame)
    {
        Interlocked.Increment(ref s_received);
        PerCpu* cpu = PerCpuArea.This;
        if (cpu == null)
        {
            Log.Emerg("NMI received before per-CPU set-up; ignoring");
            return;
        }
        // Only possible if something inside the handler returned with IRET and unblocked NMIs: by
        // then this nested NMI has already written its frame over the outer one's (Traps.cs).
        Bug.On(cpu->InNmi != 0, "Nmi.Handle: NMIs do not nest; nothing on the NMI path returns with IRET");
        cpu->InNmi = 1;
        cpu->NmiTsc = Cpu.Rdtsc();
        DefaultDoNmi(cpu, frame);
        cpu->InNmi = 0;
    }

    static void DefaultDoNmi(PerCpu* cpu, TrapFrame* regs)
    {
        // Back-to-back NMIs: a second NMI latched while the first ran returns to the same RIP;
        // if the first was handled by several handlers, the second may be the one they swallowed.
        bool b2b = regs->Rip == cpu->LastNmiRip;
        if (!b2b) cpu->SwallowNmi = 0;
        cpu->LastNmiRip = regs->Rip;

        int handled = HandleChain(NmiType.Local, regs);
        if (handled > 0)
        {
            if (handled > 1) cpu->SwallowNmi = 1;
            return;
        }

        // The reason port is shared: one CPU reads it at a time. A CPU that cannot get the lock
        // may be spinning here while another CPU panics and shoots it down with an NMI it can
        // never take (NMIs are blocked): so it runs the crash callback itself while it waits.
        // The CPU that owns panic_cpu must not wait at all: the holder may be a CPU that lost the
        // panic to it and now waits, lock in hand, for the shootdown only this CPU can send.
        while (Interlocked.CompareExchange(ref s_reasonLock, 1, 0) != 0)
        {
            if (Panic.PanicCpu == cpu->Cpu) return;
            CrashShutdown.RunCrashIpiCallback(regs);
            Cpu.Pause();
        }
        byte reason = ReadReason();
        if ((reason & NmiReason.Mask) != 0)
        {
            if ((reason & NmiReason.Serr) != 0) PciSerrError(reason, regs);
            else if ((reason & NmiReason.Iochk) != 0) IoCheckError(reason, regs);
            Volatile.Write(ref s_reasonLock, 0);
            return;
        }
        Volatile.Write(ref s_reasonLock, 0);

        if (b2b && cpu->SwallowNmi != 0) return;
        UnknownNmiError(reason, regs);
    }

    /// <summary>Port 0x61, or the one-shot nmi_reason= override for the first reader (QEMU never sets SERR or IOCHK).</summary>
    static byte ReadReason()
    {
        int forced = Interlocked.Exchange(ref s_forcedReason, 0);
        byte port = Cpu.Inb(NmiReason.Port);
        return forced != 0 ? (byte)((port & ~NmiReason.Mask) | forced) : port;
    }

    static void PciSerrError(byte reason, TrapFrame* regs)
    {
        if (HandleChain(NmiType.Serr, regs) > 0) return;
        Log.Emerg($"NMI: PCI system error (SERR) for reason {reason:x2} on CPU {PerCpuArea.ThisCpu}.");
        if (Params.Current.PanicOnUnrecoveredNmi)
            Panic.NmiPanic(regs, "NMI: Not continuing");
        Log.Emerg("Dazed and confused, but trying to continue");
        Cpu.Outb(NmiReason.Port, NmiReason.ClearSerrValue(reason));
    }

    static void IoCheckError(byte reason, TrapFrame* regs)
    {
        if (HandleChain(NmiType.IoCheck, regs) > 0) return;
        Log.Emerg($"NMI: IOCK error (debug interrupt?) for reason {reason:x2} on CPU {PerCpuArea.ThisCpu}.");
        Oops.ShowRegs(regs);
        if (Params.Current.PanicOnIoNmi)
        {
            Panic.NmiPanic(regs, "NMI IOCK error: Not continuing");
            return;
        }
        // Re-enable the IOCK line after two seconds, as Linux does (one deadline, not 20000 small
        // waits whose overheads add up on a loaded host).
        Cpu.Outb(NmiReason.Port, NmiReason.ClearIochkValue(reason));
        Clock.Mdelay(2000);
        Cpu.Outb(NmiReason.Port, NmiReason.ReenableIochkValue(reason));
    }

    static void UnknownNmiError(byte reason, TrapFrame* regs)
    {
        if (HandleChain(NmiType.Unknown, regs) > 0) return;
        Log.Emerg($"Uhhuh. NMI received for unknown reason {reason:x2} on CPU {PerCpuArea.ThisCpu}.");
        if (Params.Current.UnknownNmiPanic || Params.Current.PanicOnUnrecoveredNmi)
            Panic.NmiPanic(regs, "NMI: Not continuing");
        Log.Emerg("Dazed and confused, but trying to continue");
    }

    /// <summary>nmi_handle(): runs a type's chain (or only the emergency handler for NMI_LOCAL); returns how many handled it.</summary>
    static int HandleChain(NmiType type, TrapFrame* regs)
    {
        if (type == NmiType.Local)
        {
            ulong emergency = Volatile.Read(ref s_emergency);
            if (emergency != 0)
                return ((delegate*<TrapFrame*, bool>)(void*)emergency)(regs) ? 1 : 0;
        }
        ref Chain chain = ref ChainOf(type);
        int handled = 0, count = Volatile.Read(ref chain.Count);
        for (int i = 0; i < count; i++)
            if (((delegate*<TrapFrame*, bool>)(void*)Volatile.Read(ref chain.Handlers[i]))(regs)) handled++;
        return handled;
    }
}
