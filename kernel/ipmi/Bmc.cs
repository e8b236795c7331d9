// The BMC (IPMI baseboard management controller) the kernel tells about a crash, over KCS: found
// only through SMBIOS type 38, never by probing ports. At boot: who it is, a watchdog a previous
// capture kernel left running (stopped) or one that reset the machine (reported), and the newest
// SEL record (a previous crash's, when it is ours). At a crash: one SEL record naming the reason
// and the panicking CPU, written once (purgatory when a dump follows, panic() otherwise); the
// watchdog armed before the jump (crash_watchdog=) so a capture kernel that hangs gets the machine
// reset. Linux: drivers/char/ipmi (ipmi_si, ipmi_msghandler's panic event, ipmi_watchdog).
// No lock anywhere: the crash-time user is one CPU and Kcs.Transact ends any half-done transaction.
using System;
using System.Threading;

static unsafe class Bmc
{
    /// <summary>A transaction's bound at boot and in the capture kernel; the crash path's is shorter, and one time-out ends the BMC's use.</summary>
    const ulong BoundUs = 1_000_000, CrashBoundUs = 250_000;

    static Kcs s_kcs;
    static bool s_present, s_dead;
    static int s_logged;

    public static bool Present => s_present && !s_dead;
    public static ushort DataPort => s_kcs.DataPort;
    public static ushort StatusPort => s_kcs.StatusPort;

    static byte PortIn(ushort port) => Cpu.Inb(port);
    static void PortOut(ushort port, byte value) => Cpu.Outb(port, value);

    /// <summary>At boot, once: look the BMC up in SMBIOS and report what it says.</summary>
    public static void Init()
    {
        Find();
        int seconds = Params.Current.CrashWatchdog;
        if (seconds > 0 && !Present) Log.Warn($"ipmi: crash_watchdog={seconds} but no BMC to arm it on; a hung capture kernel stays hung");
    }

    static void Find()
    {
        if (!Smbios.FindTable(Paging.IdentityWindow, out ulong table, out uint length, out int major, out int minor))
        {
            Log.Info("ipmi: no SMBIOS entry point in the BIOS F-segment; no BMC is looked for");
            return;
        }
        if (!Smbios.FindIpmi(Paging.IdentityWindow, table, length, out IpmiDeviceInfo info))
        {
            Log.Info($"ipmi: SMBIOS {major}.{minor} lists no BMC (no type 38 record); skipped");
            return;
        }
        ulong status = info.BaseAddress + (ulong)info.RegisterSpacing;
        if (info.Interface != IpmiInterface.Kcs || !info.IoSpace || status > 0xFFFF)
        {
            Log.Info($"ipmi: SMBIOS type 38 names interface type {(byte)info.Interface} at {(info.IoSpace ? "I/O" : "memory")} 0x{info.BaseAddress:x}; only KCS in I/O space is driven here; skipped");
            return;
        }
        if (!Attach((ushort)info.BaseAddress, (ushort)status, "ipmi: "))
            return;
        ReportDevice(info);
        TakeOverWatchdog();
        LogLine l = default;
        if (NewestSel(out SelEntry e, BoundUs))
        {
            l.Append("ipmi: previous SEL record: ");
            Ipmi.DescribeRecord(ref l, in e);
            Log.Info(ref l);
        }
        else Log.Info("ipmi: the SEL is empty");
    }

    /// <summary>Takes over the interface at these ports (the first kernel's at boot, the capture kernel's from VMCOREINFO).</summary>
    public static bool Attach(ushort dataPort, ushort statusPort, string prefix)
    {
        s_kcs = new Kcs(dataPort, statusPort, new KcsPorts { In = &PortIn, Out = &PortOut });
        KcsResult r = s_kcs.Recover(BoundUs);
        if (r != KcsResult.Ok)
        {
            LogLine l = default;
            l.Append(prefix);
            l.Append("KCS at 0x");
            l.AppendHex(dataPort, 0);
            l.Append(r == KcsResult.Absent ? " does not answer (its status reads 0xff); skipped" : " is stuck and does not take an abort; skipped");
            Log.Warn(ref l);
            return false;
        }
        s_present = true;
        s_dead = false;
        return true;
    }

    static void ReportDevice(in IpmiDeviceInfo info)
    {
        byte* req = stackalloc byte[4];
        byte* resp = stackalloc byte[Ipmi.MaxResponse];
        int n = Ipmi.Request(new Span<byte>(req, 4), Ipmi.NetFnApp, Ipmi.CmdGetDeviceId, default);
        if (Command(new ReadOnlySpan<byte>(req, n), new Span<byte>(resp, Ipmi.MaxResponse), out int got, BoundUs)
            && Ipmi.ParseDeviceId(new ReadOnlySpan<byte>(resp, got), out IpmiDeviceId id))
            Log.Info($"ipmi: BMC at KCS 0x{DataPort:x}/0x{StatusPort:x} (SMBIOS type 38, IPMI {info.SpecRevision >> 4}.{info.SpecRevision & 0xF}): device 0x{id.DeviceId:x2}, firmware {id.FirmwareMajor}.{id.FirmwareMinor:x2}, IPMI {id.IpmiVersion & 0xF}.{id.IpmiVersion >> 4}{(id.SelDevice ? ", keeps a SEL" : ", no SEL")}");
        else
            Log.Warn($"ipmi: BMC at KCS 0x{DataPort:x} does not answer Get Device ID; it is left alone");
    }

    /// <summary>
    /// A watchdog keeps running across a reset: one the capture kernel armed before it failed would
    /// reset this boot too. Stop it, and say when the last reset was the watchdog's.
    /// </summary>
    static void TakeOverWatchdog()
    {
        if (!GetWatchdog(out IpmiWatchdog w)) return;
        if ((w.ExpirationFlags & Ipmi.WatchdogExpiredSmsOs) != 0)
            Log.Warn("ipmi: the BMC watchdog (SMS/OS) expired since its flags were last cleared: the last reset was probably the watchdog's");
        if (w.Running || (w.ExpirationFlags & Ipmi.WatchdogExpiredSmsOs) != 0)
        {
            bool stopped = SetWatchdog(Ipmi.WatchdogActionNone, 0, BoundUs);
            if (w.Running) Log.Warn($"ipmi: the BMC watchdog was running ({w.PresentCount / 10}.{w.PresentCount % 10} s left){(stopped ? "; stopped" : "; it could not be stopped")}");
        }
    }

    /// <summary>One request and response; a time-out on the crash path ends the BMC's use for the rest of it.</summary>
    static bool Command(ReadOnlySpan<byte> request, Span<byte> response, out int length, ulong boundUs)
    {
        length = 0;
        if (!Present) return false;
        KcsResult r = s_kcs.Transact(request, response, out length, boundUs);
        if (r == KcsResult.Timeout || r == KcsResult.Absent) s_dead = true;
        return r == KcsResult.Ok;
    }

    static bool GetWatchdog(out IpmiWatchdog w)
    {
        w = default;
        byte* req = stackalloc byte[4];
        byte* resp = stackalloc byte[Ipmi.MaxResponse];
        int n = Ipmi.Request(new Span<byte>(req, 4), Ipmi.NetFnApp, Ipmi.CmdGetWatchdog, default);
        return Command(new ReadOnlySpan<byte>(req, n), new Span<byte>(resp, Ipmi.MaxResponse), out int got, BoundUs)
            && Ipmi.ParseWatchdog(new ReadOnlySpan<byte>(resp, got), out w);
    }

    /// <summary>Set Watchdog Timer for SMS/OS use (which stops a running timer), clearing its expiration flag.</summary>
    static bool SetWatchdog(byte action, ushort count100ms, ulong boundUs)
    {
        byte* req = stackalloc byte[16];
        byte* resp = stackalloc byte[Ipmi.MaxResponse];
        int n = Ipmi.SetWatchdog(new Span<byte>(req, 16), Ipmi.WatchdogUseSmsOs, action, 0, Ipmi.WatchdogExpiredSmsOs, count100ms);
        return Command(new ReadOnlySpan<byte>(req, n), new Span<byte>(resp, Ipmi.MaxResponse), out int got, boundUs)
            && Ipmi.Completion(new ReadOnlySpan<byte>(resp, got), Ipmi.NetFnApp, Ipmi.CmdSetWatchdog, 0) == 0;
    }

    /// <summary>Reset Watchdog Timer: starts a timer Set left stopped, or restarts its countdown (a pet).</summary>
    public static bool PetWatchdog(ulong boundUs = BoundUs)
    {
        byte* req = stackalloc byte[4];
        byte* resp = stackalloc byte[Ipmi.MaxResponse];
        int n = Ipmi.Request(new Span<byte>(req, 4), Ipmi.NetFnApp, Ipmi.CmdResetWatchdog, default);
        return Command(new ReadOnlySpan<byte>(req, n), new Span<byte>(resp, Ipmi.MaxResponse), out int got, boundUs)
            && Ipmi.Completion(new ReadOnlySpan<byte>(resp, got), Ipmi.NetFnApp, Ipmi.CmdResetWatchdog, 0) == 0;
    }

    /// <summary>Arms the watchdog: a hard reset in <paramref name="seconds"/> unless it is petted (the crash path: its short bound).</summary>
    public static bool ArmWatchdog(int seconds)
    {
        ushort count = (ushort)(seconds * 10 > ushort.MaxValue ? ushort.MaxValue : seconds * 10);
        return SetWatchdog(Ipmi.WatchdogActionHardReset, count, CrashBoundUs) && PetWatchdog(CrashBoundUs);
    }

    public static bool StopWatchdog() => SetWatchdog(Ipmi.WatchdogActionNone, 0, BoundUs);

    /// <summary>The SEL's newest record (Get SEL Entry 0xFFFF); false when the SEL is empty or the BMC does not answer.</summary>
    public static bool NewestSel(out SelEntry e, ulong boundUs = BoundUs)
    {
        e = default;
        byte* req = stackalloc byte[16];
        byte* resp = stackalloc byte[Ipmi.MaxResponse];
        int n = Ipmi.GetSelEntry(new Span<byte>(req, 16), Ipmi.SelLast);
        return Command(new ReadOnlySpan<byte>(req, n), new Span<byte>(resp, Ipmi.MaxResponse), out int got, boundUs)
            && Ipmi.ParseSelEntry(new ReadOnlySpan<byte>(resp, got), out e);
    }

    /// <summary>
    /// The crash's SEL record (its reason and panicking CPU), once per crash. deferred: into the log
    /// only (purgatory: the capture kernel prints the log), else onto the console too.
    /// </summary>
    public static void LogCrash(bool deferred)
    {
        if (!Present || Interlocked.Exchange(ref s_logged, 1) != 0) return;
        byte* req = stackalloc byte[32];
        byte* resp = stackalloc byte[Ipmi.MaxResponse];
        int n = Ipmi.AddCrashRecord(new Span<byte>(req, 32), Panic.CrashCpu, Panic.Message);
        LogLine l = default;
        if (Command(new ReadOnlySpan<byte>(req, n), new Span<byte>(resp, Ipmi.MaxResponse), out int got, CrashBoundUs)
            && Ipmi.ParseAdded(new ReadOnlySpan<byte>(resp, got), out ushort id))
            l = $"ipmi: SEL record 0x{id:x4} added: the crash's reason and CPU {Panic.CrashCpu}";
        else
            l = $"ipmi: the BMC did not take the crash's SEL record{(s_dead ? " (timed out; the BMC is not used again)" : "")}";
        Log.Printk(KernLevel.Emerg, ref l, console: !deferred);
    }
}
