// A modelled platform device: Hyper-V's VMBus connection, as far as a crash dump needs it. Its
// owner CPU (crash_channel=, the CPU that set the connection up) takes the channel's messages by a
// fixed IPI vector; a LAPIC-timer "host" on another CPU posts traffic every 10 ms. At crash time the
// platform crash handler (Linux: hv_crash_handler -> vmbus_initiate_unload(crash) from
// machine_ops.crash_shutdown) sends "unload" and waits, bounded, for the reply that only lands once
// the owner has emptied its slot: an owner spinning in NMI context never does (the Hyper-V seed).
using System.Threading;

static unsafe class CrashChannel
{
    /// <summary>How often the host model posts ordinary traffic when the owner's slot is empty.</summary>
    public const ulong HostPeriodUs = 10_000;
    /// <summary>How long the crash path waits for the unload reply (Linux waits about 10 s; one second keeps the dump prompt).</summary>
    public const ulong UnloadBoundUs = 1_000_000;

    static int s_owner = -1;        // -1: no channel
    static int s_host = -1;         // the CPU whose LAPIC timer plays the host, -1 if there is no other CPU
    static long s_sequence;
    static long s_ownerTook;        // messages the owner's interrupt handler consumed

    /// <summary>
    /// Boot CPU, every CPU online: checks crash_channel=, hooks the owner's vector and the crash
    /// shutdown, and starts the host on the lowest-numbered other online CPU. The crash handler is
    /// registered even without a channel, so the dump says there was none.
    /// </summary>
    public static void Init()
    {
        CrashShutdown.RegisterCrashHandler(&CrashHandler);
        int owner = Params.Current.CrashChannel;
        if (owner < 0) return;
        if (!SmpBoot.IsOnline(owner))
        {
            Log.Err($"crash: crash_channel={owner}: CPU {owner} is not online ({SmpBoot.OnlineCount} CPUs online); no channel");
            return;
        }
        int host = -1;
        for (int cpu = 0; cpu < SmpBoot.PossibleCount && host < 0; cpu++)
            if (cpu != owner && SmpBoot.IsOnline(cpu)) host = cpu;
        Interrupts.RegisterOwnEoi(Vectors.CrashChannel, &OwnerInterrupt);
        Interrupts.Register(Vectors.CrashChannelHost, &StartHostIpi);
        s_host = host;
        Volatile.Write(ref s_owner, owner);
        if (host == PerCpuArea.ThisCpu) StartHost();
        else if (host >= 0) Ipi.SendFixed(host, Vectors.CrashChannelHost);
        if (host >= 0) Log.Info($"crash: channel owned by CPU {owner}; the host posts to it every {HostPeriodUs / 1000} ms from CPU {host}");
        else Log.Info($"crash: channel owned by CPU {owner}; no other CPU to play the host, so only the crash handler posts");
    }

    static ref ulong SlotOf(int cpu) => ref PerCpuArea.Get(cpu)->CrashChannelSlot;

    /// <summary>The owner's message interrupt: read the message, empty the slot, then this CPU's own EOI.</summary>
    static void OwnerInterrupt(TrapFrame* regs)
    {
        PerCpu* me = PerCpuArea.This;
        if (me->Cpu == Volatile.Read(ref s_owner) && ChannelSlot.Take(ref me->CrashChannelSlot) != 0)
            Interlocked.Increment(ref s_ownerTook);
        LocalApic.EndOfInterrupt();
    }

    static void StartHostIpi(TrapFrame* regs) => StartHost();

    static void StartHost() => LapicTimer.StartPeriodic(HostPeriodUs, &HostTick);

    /// <summary>The host's periodic traffic: one ordinary message whenever the owner's slot is empty.</summary>
    static void HostTick() => Post(ChannelMessageType.Ordinary);

    /// <summary>Delivers a message into the owner's slot if it is empty, and announces it by the owner's vector.</summary>
    static bool Post(ChannelMessageType type)
    {
        int owner = Volatile.Read(ref s_owner);
        ulong message = ChannelSlot.Message(type, (ulong)Interlocked.Increment(ref s_sequence));
        if (!ChannelSlot.TryPost(ref SlotOf(owner), message)) return false;
        // Never to itself: a CPU on the crash path keeps interrupts off and polls its own slot, and
        // an IPI it left pending would reach the capture kernel.
        if (owner != PerCpuArea.ThisCpu) Ipi.SendFixed(owner, Vectors.CrashChannel);
        return true;
    }

    /// <summary>
    /// The platform crash handler, on the panicking CPU with interrupts off, before the NMI
    /// shootdown: one more message from the host (so the owner's slot is occupied, as it often is
    /// on a real host), "unload", then the panicking CPU plays the host and delivers the reply once
    /// the owner's slot is empty, reading slots but emptying only its own. Bounded: after a time-out
    /// the crash goes on to the shootdown and the dump, with a line that names the cause.
    /// </summary>
    static void CrashHandler(TrapFrame* regs)
    {
        int owner = Volatile.Read(ref s_owner);
        if (owner < 0)
        {
            VmcoreinfoNote.SetAtCrash("CRASH_CHANNEL", "none");
            return;
        }
        int me = PerCpuArea.ThisCpu;
        Post(ChannelMessageType.Ordinary);
        Log.Info($"crash: channel unload sent to the host (owner CPU {owner} took {Volatile.Read(ref s_ownerTook)} messages since boot)");

        ulong start = Cpu.Rdtsc();
        ulong deadline = Clock.DeadlineAfterUs(UnloadBoundUs);
        ulong reply = ChannelSlot.Message(ChannelMessageType.UnloadResponse, (ulong)Interlocked.Increment(ref s_sequence));
        bool landed;
        // Polled with interrupts off: this CPU may be in NMI context, where an interrupt's IRET would
        // unblock NMIs over the NMI stack, so it cannot halt and wait for one.
        while (!(landed = ChannelSlot.UnloadStep(me == owner, ref SlotOf(me), ref SlotOf(owner), reply, out _)) && !Clock.Passed(deadline))
            Cpu.Pause();
        ulong us = Clock.TicksToNs(Cpu.Rdtsc() - start, Clock.TscKhz) / 1000;
        if (landed)
        {
            if (me == owner) ChannelSlot.Take(ref SlotOf(me));
            else Ipi.SendFixed(owner, Vectors.CrashChannel);
            Log.Info($"crash: channel unload done in {us} us (reply on CPU {owner})");
        }
        else
        {
            Log.Err($"crash: channel unload timed out after {us / 1000} ms: the reply waits on CPU {owner} (interrupts off)");
        }
        VmcoreinfoNote.SetAtCrash("CRASH_CHANNEL", landed ? "done" : "timeout");
        VmcoreinfoNote.SetAtCrash("CRASH_CHANNEL_OWNER", owner);
    }
}
