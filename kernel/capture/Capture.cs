// The capture kernel: what runs in the crashkernel= region after the first kernel's panic. It
// starts on one CPU, possibly with NMIs still blocked, never starts another CPU, masks LINT1 so a
// later external NMI cannot shoot it down, reads the ELF core header it was handed (checked as
// Linux's /proc/vmcore checks it), reports the crash, exports the dump and powers off. It writes
// nothing outside its own region but device registers and the export channel. Any failure it can
// still run code for ends the machine with the failure status 3 (README "Exit statuses").
using System;
using System.Runtime.InteropServices;

static unsafe class Capture
{
    /// <summary>A register-note buffer per CPU, the stop-status notes, VMCOREINFO and this kernel's own note, with room to spare.</summary>
    public const int MaxNoteBuffers = PerCpuArea.MaxCpus + 8;
    public const int MaxLoads = 64, MaxRam = 64;
    /// <summary>Lines of the first kernel's log shown when it does not say where its crash begins.</summary>
    const int LogTailLines = 20;
    /// <summary>At most this many lines from the crash on (a post-notifiers panic on 64 CPUs prints a few hundred).</summary>
    const int CrashLogLines = 1000;

    static ulong s_coreHeader, s_regionBase, s_regionSize;

    struct NoteList { public fixed byte Bytes[MaxNoteBuffers * 40]; }
    struct LoadList { public fixed byte Bytes[MaxLoads * 24]; }
    struct RamList { public fixed byte Bytes[MaxRam * 16]; }
    static NoteList s_notes;
    static LoadList s_loads;
    static RamList s_ram;
    static CoreHeaderInfo s_info;
    static int s_ramCount;

    struct EntryNote { public fixed byte Bytes[NmidumpNote.CaptureEntryNoteSize]; }
    static EntryNote s_entryNote;

    public static bool Active => s_regionSize != 0;
    public static ulong RegionBase => s_regionBase;
    public static ulong RegionSize => s_regionSize;

    public static Span<CoreNoteBuffer> Notes { get { fixed (byte* p = s_notes.Bytes) return new Span<CoreNoteBuffer>(p, MaxNoteBuffers); } }
    public static Span<LoadSegment> Loads { get { fixed (byte* p = s_loads.Bytes) return new Span<LoadSegment>(p, MaxLoads); } }
    static Span<PhysRange> Ram { get { fixed (byte* p = s_ram.Bytes) return new Span<PhysRange>(p, MaxRam); } }
    public static ref CoreHeaderInfo Info => ref s_info;

    /// <summary>The first kernel's memory, as the identity map shows it (page 0 excluded).</summary>
    static PhysicalWindow FirstKernelMemory => Paging.IdentityWindow;

    /// <param name="entryTsc">The TSC at capture_entry's first instruction (boot/capture_entry.asm).</param>
    [UnmanagedCallersOnly(EntryPoint = "capture_main")]
    static void Main(ulong coreHeader, ulong regionBase, ulong regionSize, ulong entryTsc)
    {
        ulong mainTsc = Cpu.Rdtsc();
        Clock.MarkBoot(entryTsc);
        s_coreHeader = coreHeader;
        s_regionBase = regionBase;
        s_regionSize = regionSize;
        Serial.Init();
        Log.Init();
        Panic.ExitOnPanic();
        LogLine first = default;
        first.Append("capture: ");
        first.Append(Version.Name);
        first.Append(" capture kernel (build-id ");
        BuildId.Append(ref first);
        first.Append(") at 0x");
        first.AppendHex(regionBase, 0);
        first.Append(", elfcorehdr 0x");
        first.AppendHex(coreHeader, 0);
        Log.Info(ref first);

        CpuSetup.BootCpu();
        ReportEarlyNmis();
        // The header is the only thing from the first kernel not covered by its digest (Linux leaves
        // elfcorehdr out too): check it before anything in it is followed.
        if (!ElfCoreHeader.CheckElfHeader(CoreHeaderBytes, out _, out _, out ElfCoreError headerError))
        {
            ReportBadHeader(in headerError);
            Fail();
        }
        if (!FindVmcoreinfo(out ReadOnlySpan<byte> info))
        {
            Log.Emerg("capture: no VMCOREINFO note in the ELF core header; nothing to report");
            Fail();
        }
        CapturePlatform.UseScreen(info);
        if (Vmcoreinfo.FindUnsigned(info, "TSC_KHZ", out ulong khz)) Clock.SetTscKhz(khz);
        ReportTiming(info, entryTsc, mainTsc);
        Params.Parse(CaptureArguments(info));
        Params.Report();
        Platform.UseAcpiPowerOff(info);
        Vmcoreinfo.FindDecimal(info, "PANIC_TIMEOUT", out s_panicTimeout);
        CaptureBmc.Attach(info);
        CapturePlatform.TestFailure();

        // No external NMI may shoot the capture kernel down: LINT1 masked (apic_extnmi=none),
        // unless capture_nmi_test asks for NMIs during the export to show they are survived.
        LocalApic.DetectAndEnableMode();
        LocalApic.Setup(0, Params.Current.CaptureNmiTest ? ApicExtnmiMode.All : ApicExtnmiMode.None);

        if (!ValidateCoreHeader(info)) Fail();
        AddEntryNote(entryTsc);
        Report(info);
        if ((DumpChannels)Params.Current.Choice(BootParam.DumpChannels) == DumpChannels.None) Log.Info("capture: dump_channels=none: no vmcore exported");
        else if (!DumpExport.Run(info)) Fail();
        CaptureBmc.Done();
        Log.Info("capture: done; powering off");
        Power.PoweroffAfterDump();
    }

    static long s_panicTimeout;

    /// <summary>
    /// The first kernel's panic=N (N > 0, VMCOREINFO PANIC_TIMEOUT) holds here too: a real machine
    /// comes back up (and the next boot reports the crashlog); otherwise the host sees the failure status.
    /// </summary>
    public static void Fail()
    {
        if (s_panicTimeout > 0)
        {
            Log.Emerg($"capture: giving up; rebooting in {s_panicTimeout} seconds (the first kernel's panic={s_panicTimeout})");
            Clock.Mdelay((ulong)s_panicTimeout * 1000);
            Power.Reboot();
        }
        Log.Emerg("capture: giving up; exiting with the failure status");
        Power.ExitFailure();
    }

    static void ReportBadHeader(in ElfCoreError error)
    {
        LogLine l = default;
        l.Append("capture: bad ELF core header: ");
        error.Describe(ref l);
        l.Append(" (at 0x");
        l.AppendHex(s_coreHeader, 0);
        l.Append(")");
        Log.Err(ref l);
    }

    /// <summary>
    /// capture_nmi_test: the export stops after its first chunk until two NMIs were handled (at most
    /// TestNmiWaitUs), so a test can inject them mid-export and then check the vmcore still verifies.
    /// </summary>
    public static void WaitForTestNmis()
    {
        int before = Nmi.Received;
        Log.Info("capture: capture_nmi_test: waiting up to 30 s for two NMIs");
        ulong deadline = Clock.DeadlineAfterUs(TestNmiWaitUs);
        while (Nmi.Received - before < 2 && !Clock.Passed(deadline))
        {
            CaptureBmc.Tick();      // a stalled export is still progressing, as a slow channel's is
            Cpu.Pause();
        }
        Log.Info($"capture: capture_nmi_test: {Nmi.Received - before} NMIs handled; the export goes on");
    }

    const ulong TestNmiWaitUs = 30_000_000;

    /// <summary>NMIs that reached the entry code's own gate before the kernel's IDT was loaded (boot/capture_entry.asm).</summary>
    static void ReportEarlyNmis() => EarlyNmi.Report("by the capture kernel's entry code");

    /// <summary>The core header's size is known only after reading its ELF header (bounded by the tail it lives in).</summary>
    static ReadOnlySpan<byte> CoreHeaderBytes
    {
        get
        {
            byte* p = FirstKernelMemory.Map(s_coreHeader, 64);
            if (p == null) return default;
            ulong phnum = *(ushort*)(p + 56);
            ulong size = 64 + 56 * phnum;
            if (size > MachineKexec.CoreHeaderCapacity) size = MachineKexec.CoreHeaderCapacity;
            p = FirstKernelMemory.Map(s_coreHeader, size);
            return p == null ? default : new ReadOnlySpan<byte>(p, (int)size);
        }
    }

    /// <summary>VMCOREINFO is needed before the full check (it says where RAM is): find it by a first light walk.</summary>
    static bool FindVmcoreinfo(out ReadOnlySpan<byte> text)
    {
        text = default;
        ReadOnlySpan<byte> header = CoreHeaderBytes;
        if (!ElfCoreHeader.CheckElfHeader(header, out int phoff, out int phnum, out _)) return false;
        for (int i = 0; i < phnum; i++)
        {
            ReadOnlySpan<byte> ph = header.Slice(phoff + i * 56, 56);
            if (LittleEndian.U32(ph, Elf.PType) != Elf.PtNote) continue;
            ulong at = LittleEndian.U64(ph, Elf.POffset), size = LittleEndian.U64(ph, Elf.PMemsz);
            if (size > ElfCoreHeader.MaxNoteBufferSize) continue;
            byte* p = FirstKernelMemory.Map(at, size);
            if (p != null && Vmcoreinfo.FindNote(new ReadOnlySpan<byte>(p, (int)size), out text)) return true;
        }
        return false;
    }

    static bool ValidateCoreHeader(ReadOnlySpan<byte> info)
    {
        s_ramCount = 0;
        if (Vmcoreinfo.Find(info, "MEMORY", out ReadOnlySpan<byte> ranges))
            s_ramCount = ParseRanges(ranges, Ram);
        if (s_ramCount == 0)
        {
            Log.Emerg("capture: VMCOREINFO has no MEMORY= ranges: cannot check the core header's PT_LOADs");
            return false;
        }
        if (!ElfCoreHeader.Read(CoreHeaderBytes, FirstKernelMemory, Ram.Slice(0, s_ramCount), new PhysRange(s_regionBase, s_regionSize),
                Notes, Loads, out s_info, out ElfCoreError error))
        {
            ReportBadHeader(in error);
            return false;
        }
        return true;
    }

    /// <summary>
    /// This kernel's own note, after the first kernel's: when it started (NMIDUMP type 2), the last
    /// stamp of the crash timeline. It lives in this image, which the identity window also maps.
    /// </summary>
    static void AddEntryNote(ulong entryTsc)
    {
        fixed (byte* p = s_entryNote.Bytes)
        {
            int size = NmidumpNote.WriteCaptureEntry(new Span<byte>(p, NmidumpNote.CaptureEntryNoteSize), entryTsc);
            if (size == 0 || s_info.NoteBuffers >= MaxNoteBuffers) return;
            Notes[s_info.NoteBuffers++] = new CoreNoteBuffer { Address = (ulong)p, Size = (ulong)size, UsedSize = (ulong)size, ProgramHeader = -1, Notes = 1 };
            s_info.NotesSize += (ulong)size;
        }
    }

    /// <summary>"start-end,start-end" in hex, as the first kernel writes MEMORY=.</summary>
    public static int ParseRanges(ReadOnlySpan<byte> text, Span<PhysRange> into)
    {
        int n = 0, i = 0;
        while (i < text.Length && n < into.Length)
        {
            int dash = i;
            while (dash < text.Length && text[dash] != (byte)'-') dash++;
            int end = dash;
            while (end < text.Length && text[end] != (byte)',') end++;
            if (dash >= text.Length || !Vmcoreinfo.ParseHex(text.Slice(i, dash - i), out ulong start)
                || !Vmcoreinfo.ParseHex(text.Slice(dash + 1, end - dash - 1), out ulong stop) || stop <= start)
                return 0;
            into[n++] = new PhysRange(start, stop - start);
            i = end + 1;
        }
        return n;
    }

    /// <summary>The arguments the first kernel's module line gave the capture image (CAPTURE_ARGS=).</summary>
    static ReadOnlySpan<byte> CaptureArguments(ReadOnlySpan<byte> info) =>
        Vmcoreinfo.Find(info, "CAPTURE_ARGS", out ReadOnlySpan<byte> args) ? args : default;

    /// <summary>
    /// Panic (crash_kexec's start) to capture_entry, with the parts the first kernel timed (its
    /// shootdown, its digest check), and the capture entry's own set-up (bss, page tables) after it.
    /// </summary>
    static void ReportTiming(ReadOnlySpan<byte> info, ulong entryTsc, ulong mainTsc)
    {
        if (!Vmcoreinfo.FindUnsigned(info, "PANIC_TSC", out ulong panicTsc) || Clock.TscKhz == 0) return;
        ulong us = Clock.TicksToNs(entryTsc - panicTsc, Clock.TscKhz) / 1000;
        ulong setupUs = Clock.TicksToNs(mainTsc - entryTsc, Clock.TscKhz) / 1000;
        Vmcoreinfo.FindUnsigned(info, "KEXEC_DIGEST_US", out ulong digestUs);
        Vmcoreinfo.FindUnsigned(info, "SHUTDOWN_US", out ulong shutdownUs);
        Log.Info($"capture: entered {us} us after the panic (digest check {digestUs} us, machine_crash_shutdown {shutdownUs} us; then {setupUs} us of entry set-up)");
    }

    /// <summary>The report, line by line, in the form the tests and people read.</summary>
    static void Report(ReadOnlySpan<byte> info)
    {
        LogLine p = default;
        p.Append("capture: panic: ");
        if (Vmcoreinfo.Find(info, "PANIC_MESSAGE", out ReadOnlySpan<byte> message) && !message.IsEmpty) p.Append(message);
        else p.Append("(no PANIC_MESSAGE)");
        if (Vmcoreinfo.FindDecimal(info, "CRASH_CPU", out long crashCpu))
        {
            p.Append(" (CPU ");
            p.AppendDecimal(crashCpu);
            p.Append(")");
        }
        Log.Info(ref p);
        Vmcoreinfo.FindUnsigned(info, "CRASHTIME", out ulong crashtime);
        Log.Info($"capture: crashtime {crashtime}");

        Vmcoreinfo.Find(info, "APIC_IDS", out ReadOnlySpan<byte> apicIds);
        Vmcoreinfo.FindNumber(info, "nr_cpus", out long cpus);
        for (int cpu = 0; cpu < cpus && cpu < PerCpuArea.MaxCpus; cpu++)
        {
            LogLine l = default;
            bool saved = FindCpuNote(cpu, out PrStatusRegs regs);
            if (saved)
                CrashNotes.FormatCpuLine(ref l, "capture: ", cpu, CpuList.Nth(apicIds, cpu, out uint apic) ? apic : (uint)cpu, in regs, FirstKernelSymbols(info));
            else
                CrashNotes.FormatMissingLine(ref l, "capture: ", cpu);
            // "...; answered the shootdown", "CPU 2 missing: never answered, waited 1000 ms"
            if (FindStopStatus(cpu, out CpuStopStatus stop))
            {
                l.Append(saved ? "; " : ": ");
                stop.Describe(ref l);
            }
            Log.Info(ref l);
        }
        if (Vmcoreinfo.Find(info, "NOT_ONLINE_APIC_IDS", out ReadOnlySpan<byte> offline))
        {
            LogLine l = default;
            l.Append("capture: CPUs present but not online (no registers), APIC IDs ");
            l.Append(offline);
            Log.Info(ref l);
        }
        ReportLog(info);
    }

    /// <summary>The first kernel's kallsyms table, through VMCOREINFO (empty if it cannot be read).</summary>
    static ReadOnlySpan<byte> FirstKernelSymbols(ReadOnlySpan<byte> info)
    {
        if (!Vmcoreinfo.FindSymbol(info, "kallsyms", out ulong at) || !Vmcoreinfo.FindSize(info, "kallsyms", out ulong size) || size > 16 << 20)
            return default;
        byte* p = FirstKernelMemory.Map(at, size);
        return p == null ? default : new ReadOnlySpan<byte>(p, (int)size);
    }

    static bool FindCpuNote(int cpu, out PrStatusRegs regs)
    {
        regs = default;
        return FindNote(cpu, &IsCpusRegisters, out ElfNoteEntry e) && PrStatus.Read(in e, out _, out regs);
    }

    static bool FindStopStatus(int cpu, out CpuStopStatus status)
    {
        status = default;
        return FindNote(cpu, &IsCpusStopStatus, out ElfNoteEntry e) && NmidumpNote.ReadStopStatus(in e, out status);
    }

    static bool IsCpusRegisters(in ElfNoteEntry e, int cpu) => e.Is("CORE", ElfNote.NtPrStatus) && PrStatus.Read(in e, out int pid, out _) && pid == cpu + 1;

    static bool IsCpusStopStatus(in ElfNoteEntry e, int cpu) => NmidumpNote.ReadStopStatus(in e, out CpuStopStatus s) && s.Cpu == (uint)cpu;

    /// <summary>The first note of the validated buffers, in header order, that <paramref name="match"/> takes for this CPU.</summary>
    static bool FindNote(int cpu, delegate*<in ElfNoteEntry, int, bool> match, out ElfNoteEntry found)
    {
        found = default;
        Span<CoreNoteBuffer> notes = Notes;
        for (int i = 0; i < s_info.NoteBuffers; i++)
        {
            byte* p = FirstKernelMemory.Map(notes[i].Address, notes[i].UsedSize);
            if (p == null) continue;
            ElfNoteReader r = ElfNote.Read(new ReadOnlySpan<byte>(p, (int)notes[i].UsedSize));
            while (r.MoveNext())
            {
                if (!match(r.Current, cpu)) continue;
                found = r.Current;
                return true;
            }
        }
        return false;
    }

    /// <summary>
    /// The first kernel's log, read from its ring through VMCOREINFO's SYMBOL(log_buf): from the
    /// crash's first line on (CRASH_LOG_SEQ, the panic line or the oops's first line), or, when the
    /// first kernel did not say, its last lines.
    /// </summary>
    static void ReportLog(ReadOnlySpan<byte> info)
    {
        if (!Vmcoreinfo.FindSymbol(info, "log_buf", out ulong area) || !Vmcoreinfo.FindSize(info, "log_buf", out ulong size))
        {
            Log.Emerg("capture: VMCOREINFO names no log_buf: no log");
            return;
        }
        byte* p = FirstKernelMemory.Map(area, size);
        if (p == null || size > 16 << 20)
        {
            Log.Emerg($"capture: the first kernel's log at 0x{area:x} (0x{size:x} bytes) is outside its RAM");
            return;
        }
        var ring = new ReadOnlySpan<byte>(p, (int)size);
        bool fromCrash = Vmcoreinfo.FindUnsigned(info, "CRASH_LOG_SEQ", out ulong fromSeq);
        KmsgReader r = fromCrash ? Kmsg.ReadFrom(ring, fromSeq) : Kmsg.ReadLast(ring, LogTailLines);
        byte* line = stackalloc byte[LogLine.Capacity];
        int shown = 0;
        while (shown < CrashLogLines && r.MoveNext())
        {
            KmsgRecord rec = r.Current;
            int n = Kmsg.FormatRecord(rec.TimestampNs, rec.Text, new Span<byte>(line, LogLine.Capacity - 16));
            LogLine l = default;
            l.Append("capture: log: ");
            l.Append(new ReadOnlySpan<byte>(line, n));
            Log.Info(ref l);
            shown++;
        }
        if (shown == CrashLogLines) Log.Info($"capture: the first kernel's log goes on past {CrashLogLines} lines; the vmcore holds the rest");
        if (r.Corrupt) Log.Emerg("capture: the first kernel's log ring is damaged; the damaged records were skipped");
        if (r.Unfinished > 0) Log.Info($"capture: {r.Unfinished} records of the first kernel's log were never finished (their CPUs were stopped while writing)");
        if (Kmsg.ReadHeader(ring, out KmsgHeader h) && h.Lost > 0) Log.Info($"capture: the first kernel's log lost {h.Lost} records (the ring was full up to an unfinished one)");
    }
}
