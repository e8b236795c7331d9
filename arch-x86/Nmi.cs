// NMI entry and dispatch, after Linux's default_do_nmi (arch/x86/kernel/nmi.c): the emergency
// handler (the crash callback, once a shootdown is on) pre-empts everything; then the NMI_LOCAL
// chain; then the reason port, read under a trylock whose spin runs the crash callback (a CPU
// spinning here in NMI context must still save its registers for the dump); SERR and IOCHK go to
// their handlers, anything else is an unknown NMI. Runs on the NMI IST stack; nothing here may
// fault (an IRET from a nested exception would unblock NMIs over this very stack).
using System.Threading;

/// <summary>Linux's NMI handler types.</summary>
enum NmiType { Local, Unknown, Serr, IoCheck }

/// <summary>Every NMI handler there is: registration is static (no allocation on the NMI path).</summary>
enum NmiHandlerId { None, CrashCallback, StopCallback, CrashtestHang, CrashtestNested }

static unsafe class Nmi
{
    const int MaxPerType = 4;

    struct Chains
    {
        public fixed int Local[MaxPerType];
        public fixed int Unknown[MaxPerType];
        public fixed int Serr[MaxPerType];
        public fixed int IoCheck[MaxPerType];
        public int LocalCount, UnknownCount, SerrCount, IoCheckCount;
    }

    static Chains s_chains;
    static int s_emergency;         // NmiHandlerId of the emergency handler, None when unset
    static int s_reasonLock;
    static int s_forcedReason;      // nmi_reason= test override: consumed by the first reader under the lock
    static int s_received;

    public static int Received => Volatile.Read(ref s_received);

    public static void Init()
    {
        s_forcedReason = (NmiReasonOverride)Params.Current.Choice(BootParam.NmiReason) switch
        {
            NmiReasonOverride.Serr => NmiReason.Serr,
            NmiReasonOverride.Iochk => NmiReason.Iochk,
            _ => 0,
        };
    }

    /// <summary>register_nmi_handler, static: adds a handler to a type's chain (boot time only).</summary>
    public static void Register(NmiType type, NmiHandlerId id)
    {
        switch (type)
        {
            case NmiType.Local: if (s_chains.LocalCount < MaxPerType) s_chains.Local[s_chains.LocalCount++] = (int)id; break;
            case NmiType.Unknown: if (s_chains.UnknownCount < MaxPerType) s_chains.Unknown[s_chains.UnknownCount++] = (int)id; break;
            case NmiType.Serr: if (s_chains.SerrCount < MaxPerType) s_chains.Serr[s_chains.SerrCount++] = (int)id; break;
            case NmiType.IoCheck: if (s_chains.IoCheckCount < MaxPerType) s_chains.IoCheck[s_chains.IoCheckCount++] = (int)id; break;
        }
    }

    /// <summary>Linux's emergency NMI handler: once set, it alone handles NMI_LOCAL.</summary>
    public static void SetEmergencyHandler(NmiHandlerId id) => Volatile.Write(ref s_emergency, (int)id);

    public static void Handle(TrapFrame* frame)
    {
        Interlocked.Increment(ref s_received);
        PerCpu* cpu = PerCpuArea.This;
        if (cpu == null)
        {
            Log.Emerg("NMI received before per-CPU set-up; ignoring");
            return;
        }
        if (cpu->InNmi != 0)
        {
            // Only possible if an exception inside the handler returned with IRET and unblocked NMIs.
            Log.Emerg($"NMI: re-entered on CPU {cpu->Cpu} while handling an NMI; ignoring the nested one");
            return;
        }
        cpu->InNmi = 1;
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
        while (Interlocked.CompareExchange(ref s_reasonLock, 1, 0) != 0)
        {
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
        Traps.ShowRegs(regs);
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
            int emergency = Volatile.Read(ref s_emergency);
            if (emergency != (int)NmiHandlerId.None)
                return Call((NmiHandlerId)emergency, type, regs) ? 1 : 0;
        }
        int handled = 0;
        int count = type switch { NmiType.Local => s_chains.LocalCount, NmiType.Unknown => s_chains.UnknownCount, NmiType.Serr => s_chains.SerrCount, _ => s_chains.IoCheckCount };
        for (int i = 0; i < count; i++)
        {
            int id = type switch { NmiType.Local => s_chains.Local[i], NmiType.Unknown => s_chains.Unknown[i], NmiType.Serr => s_chains.Serr[i], _ => s_chains.IoCheck[i] };
            if (Call((NmiHandlerId)id, type, regs)) handled++;
        }
        return handled;
    }

    static bool Call(NmiHandlerId id, NmiType type, TrapFrame* regs)
    {
        switch (id)
        {
            case NmiHandlerId.CrashCallback: return CrashShutdown.CrashNmiCallback(regs);
            case NmiHandlerId.StopCallback: return SmpStop.StopNmiCallback();
            case NmiHandlerId.CrashtestHang: return Crashtest.NmiHangHandler(regs);
            case NmiHandlerId.CrashtestNested: return Crashtest.NestedNmiHandler(regs);
            default: return false;
        }
    }
}
