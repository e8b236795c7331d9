// QEMU's pvpanic device (docs/specs/pvpanic.rst; Linux: drivers/misc/pvpanic), a panic notifier: one
// byte written to its I/O port tells the host the guest panicked (bit 0, "panicked") or that a crash
// kernel is loaded and will take a dump (bit 1, "crash loaded"). Reading the port gives the events
// the device accepts; only those are sent. Found through fw_cfg's etc/pvpanic-port (a little-endian
// port number). QEMU's default reaction to "panicked" is to stop the guest at once (and then exit,
// status 0), so it is never sent while a dump is still to come: the notifier runs before the jump
// only with crash_kexec_post_notifiers, and then says "crash loaded".
static unsafe class PvPanic
{
    const byte EventPanicked = 1 << 0, EventCrashLoaded = 1 << 1;
    /// <summary>Last in the notifier chain: "panicked" may end the machine, so everything else runs first.</summary>
    const int NotifierPriority = int.MinValue;

    static ushort s_port;
    static byte s_events;

    public static void Init()
    {
        FwCfg.Presence fw = FwCfg.Probe();
        if (fw != FwCfg.Presence.Present)
        {
            Log.Info(fw == FwCfg.Presence.NoHypervisor
                ? "pvpanic: no hypervisor (CPUID), so no fw_cfg to find it in; skipped"
                : "pvpanic: no fw_cfg device at 0x510; skipped");
            return;
        }
        if (!FwCfg.FindFile("etc/pvpanic-port", out ushort key, out uint size) || size < 2)
        {
            Log.Info("pvpanic: no device (fw_cfg has no etc/pvpanic-port); skipped");
            return;
        }
        byte* port = stackalloc byte[2];
        FwCfg.Read(key, port, 2);
        ushort p = (ushort)(port[0] | port[1] << 8);
        byte events = Cpu.Inb(p);
        if (p == 0 || events == 0xFF || (events & (EventPanicked | EventCrashLoaded)) == 0)
        {
            Log.Info($"pvpanic: fw_cfg names port 0x{p:x}, but it answers 0x{events:x2} (no events it takes); skipped");
            return;
        }
        s_port = p;
        s_events = events;
        PanicNotifiers.Register(&Notify, NotifierPriority);
        Log.Info($"pvpanic: device at port 0x{p:x} (fw_cfg etc/pvpanic-port), events 0x{events:x}:{((events & EventPanicked) != 0 ? " panicked" : "")}{((events & EventCrashLoaded) != 0 ? " crash-loaded" : "")}");
    }

    /// <summary>The panic notifier: "crash loaded" when a dump follows, "panicked" when none will.</summary>
    static void Notify(System.ReadOnlySpan<byte> message)
    {
        bool dump = Kexec.DumpComing;
        byte wanted = dump ? EventCrashLoaded : EventPanicked;
        if ((s_events & wanted) == 0)
        {
            Log.Emerg($"pvpanic: the device does not take \"{(dump ? "crash loaded" : "panicked")}\" (events 0x{s_events:x}); the host is not told");
            return;
        }
        // Said first: after "panicked" the host may stop the machine before another line is printed.
        Log.Emerg(dump ? "pvpanic: telling the host: crash loaded (a dump follows)" : "pvpanic: telling the host: panicked");
        Cpu.Outb(s_port, wanted);
    }
}
