// The boot CPU's path from the multiboot entry (boot/multiboot.asm) to a running kernel: console
// first, then the loader's information copied out of low memory, the boot parameters, CPU tables
// and traps, the clock, the banner; then the test trigger or the idle loop.
using System;
using System.Runtime.InteropServices;

static unsafe class Kmain
{
    static Multiboot.Info s_bootInfo;
    static Multiboot.Tables s_bootTables;

    [UnmanagedCallersOnly(EntryPoint = "kmain")]
    static void Main(uint magic, uint infoAddress)
    {
        Clock.MarkBoot(Cpu.Rdtsc());
        // The loader's block sits in low RAM the map calls free; copy it before anything else.
        bool parsed = magic == Multiboot.BootloaderMagic
            && Multiboot.Parse(Paging.IdentityWindow, infoAddress, ref s_bootInfo, ref s_bootTables);
        ReadOnlySpan<byte> args = parsed ? Multiboot.KernelArguments(CommandLineSpan, s_bootInfo.PathFirst) : default;
        // The floor for benchmarks: QEMU's own start-up and exit, with no kernel work in between.
        if (HasWord(args, "poweroff_at_entry"))
            Power.ExitClean();

        Serial.Init();
        bool screen = VgaText.Detect(ref s_bootInfo, BiosData, out ulong screenBuffer, out int columns, out int rows)
            && VgaText.Enable(screenBuffer, columns, rows, keepContents: false);
        Log.Init();
        OwnedMemory.Init();
        PanicNotifiers.RegisterLogSummary();
        if (!parsed)
            Log.Emerg($"multiboot: bad magic 0x{magic:x8} or unreadable information block at 0x{infoAddress:x8}; continuing without it");

        Params.Parse(args);
        CpuSetup.BootCpu();
        ProtectKernelText();
        EarlyNmi.Report("during early boot");
        CalibrateClock();
        Banner(args);
        ReportConsoles(screen);
        Params.Report();
        Crashlog.Init(ref s_bootInfo, ref s_bootTables);
        ShowMemoryMap();
        MapHighRam();
        Nmi.Init();
        HypervNmi.Init();
        Platform.Init();
        PvPanic.Init();
        Bmc.Init();
        Platform.BringUpCpus(ref s_bootInfo, ref s_bootTables);
        EarlyNmi.Report("during SMP bring-up (on an AP)");
        CrashChannel.Init();
        CrashNotes.WarmUp(0);
        Kexec.LoadAtBoot(ref s_bootInfo, ref s_bootTables);

        Selftest.RunIfRequested();
        Crashtest.RunIfRequested();
        PowerOffIfRequested();
        Log.Info("idle: nothing more to do; halting until an NMI");
        Idle.Loop(0);
    }

    /// <summary>Whether the bare word appears in the arguments (before the parameter parser runs).</summary>
    static bool HasWord(ReadOnlySpan<byte> args, string word)
    {
        for (int i = 0; i + word.Length <= args.Length; i++)
        {
            if (i > 0 && args[i - 1] != (byte)' ') continue;
            int j = 0;
            while (j < word.Length && args[i + j] == (byte)word[j]) j++;
            if (j == word.Length && (i + j == args.Length || args[i + j] == (byte)' ')) return true;
        }
        return false;
    }

    /// <summary>
    /// The image's code and constants read-only (Linux's mark_rodata_ro), before any other CPU runs
    /// (so no TLB elsewhere holds them writable): a stray write faults instead of changing code. The
    /// GDT in it (boot/multiboot.asm) has its accessed bits preset, or loading a segment would write it.
    /// </summary>
    static void ProtectKernelText()
    {
        ref KernelLayout k = ref KernelLayout.Get;
        if (!Paging.SetWritable(k.ImageStart, k.RoEnd - k.ImageStart, writable: false))
            Log.Warn("paging: cannot map the kernel's code and constants read-only");
    }

    /// <summary>The entry code's copy of the BIOS data area (boot/multiboot.asm).</summary>
    public static ReadOnlySpan<byte> BiosData => new ReadOnlySpan<byte>((void*)KernelLayout.Get.BootBda, BiosDataArea.Size);

    /// <summary>Where the console goes besides COM1, and the second serial port a capture kernel may send its dump on.</summary>
    static void ReportConsoles(bool screen)
    {
        if (s_bootInfo.LoaderNameLength > 0)
        {
            LogLine l = default;
            l.Append("multiboot: loaded by \"");
            l.Append(Multiboot.LoaderName(ref s_bootInfo));
            l.Append(s_bootInfo.PathFirst ? "\" (its strings start with the image's path)" : "\" (its strings hold only the arguments)");
            Log.Info(ref l);
        }
        if (screen) Log.Info($"console: mirrored on the VGA text screen at 0x{VgaText.Buffer:x} ({VgaText.Columns}x{VgaText.Rows})");
        else Log.Info("console: no VGA text screen (neither the loader nor the BIOS reports a text mode); COM1 only");
        ushort com2 = BiosDataArea.SerialPort(BiosData, 1);
        if (com2 != 0) Log.Info($"serial: COM2 at 0x{com2:x} (BIOS data area), for a capture kernel's dump_channels=serial");
        else Log.Info("serial: no COM2 in the BIOS data area; dump_channels=serial will have nowhere to go");
    }

    static ReadOnlySpan<byte> CommandLineSpan
    {
        get { fixed (byte* p = s_bootInfo.CommandLine) return new ReadOnlySpan<byte>(p, s_bootInfo.CommandLineLength); }
    }

    static void CalibrateClock()
    {
        ulong khz = Tsc.CalibrateKhz(out Tsc.Source source);
        Clock.SetTscKhz(khz);
        Clock.SetBootEpoch(Rtc.ReadEpochSeconds());
        string from = source == Tsc.Source.Cpuid ? "CPUID 0x15" : source == Tsc.Source.Pit ? "PIT" : "a guess (calibration failed)";
        Log.Info($"tsc: Detected {khz / 1000}.{khz % 1000:d3} MHz processor (from {from})");
        WallTime.FromEpochSeconds(Clock.BootEpochSeconds, out int y, out int mo, out int d, out int h, out int mi, out int s);
        Log.Info($"rtc: boot wall time {y:d4}-{mo:d2}-{d:d2} {h:d2}:{mi:d2}:{s:d2} UTC ({Clock.BootEpochSeconds})");
    }

    static void Banner(ReadOnlySpan<byte> args)
    {
        LogLine l = default;
        l.Append(Version.Name);
        l.Append(" version ");
        l.Append(Version.Release);
        l.Append(" (build-id ");
        BuildId.Append(ref l);
        l.Append(") #1 SMP x86_64 C#/NativeAOT");
        Log.Notice(ref l);
        LogLine c = default;
        c.Append("Command line: ");
        c.Append(args);
        Log.Notice(ref c);
    }

    static void ShowMemoryMap()
    {
        for (int i = 0; i < s_bootInfo.RangeCount; i++)
        {
            Multiboot.MemoryRange* r = Multiboot.Range(ref s_bootTables, i);
            string kind = r->Type == Multiboot.MemoryAvailable ? "usable" : r->Type == Multiboot.MemoryAcpiReclaimable ? "ACPI data" : r->Type == Multiboot.MemoryNvs ? "ACPI NVS" : "reserved";
            Log.Info($"BIOS-e820: [mem 0x{r->Base:x16}-0x{r->Base + r->Length - 1:x16}] {kind}");
        }
        for (int i = 0; i < s_bootInfo.ModuleCount; i++)
        {
            Multiboot.Module* m = Multiboot.ModuleAt(ref s_bootTables, i);
            LogLine l = default;
            l.Append("multiboot: module ");
            l.AppendDecimal(i);
            l.Append(" at 0x");
            l.AppendHex(m->Start, 8);
            l.Append("-0x");
            l.AppendHex(m->End, 8);
            l.Append(" \"");
            l.Append(new ReadOnlySpan<byte>(m->String, m->StringLength));
            l.Append("\"");
            Log.Info(ref l);
        }
        Log.Info($"Memory: {Multiboot.AvailableBytes(ref s_bootInfo, ref s_bootTables) / 1024}K available");
    }

    /// <summary>RAM above the boot map (4 GiB), mapped so the kernel can reach every byte it may own.</summary>
    static void MapHighRam()
    {
        for (int i = 0; i < s_bootInfo.RangeCount; i++)
        {
            Multiboot.MemoryRange* r = Multiboot.Range(ref s_bootTables, i);
            if (r->Type != Multiboot.MemoryAvailable || r->Base + r->Length <= PageTableBits.IdentityMapEnd) continue;
            if (Paging.MapRam(r->Base, r->Length))
                Log.Info($"paging: mapped [mem 0x{r->Base:x16}-0x{r->Base + r->Length - 1:x16}] ({Paging.PoolPagesFree} page-table pages left)");
            else
                Log.Err($"paging: cannot map [mem 0x{r->Base:x16}-0x{r->Base + r->Length - 1:x16}]: the page-table pool is used up; the kernel leaves it alone");
        }
    }

    static void PowerOffIfRequested()
    {
        long ms = Params.Current.PoweroffAfterMs;
        if (ms < 0) return;
        Log.Info($"poweroff: powering off in {ms} ms (poweroff_after_ms)");
        Clock.Mdelay((ulong)ms);
        Power.Poweroff();
    }
}
