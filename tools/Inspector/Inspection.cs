// What a vmcore says, gathered into plain values before anything is printed: the crash (VMCOREINFO's
// PANIC_MESSAGE, the panic message or the oops headline; CRASHTIME; CRASH_CPU), each CPU's saved
// registers (the NT_PRSTATUS notes, pid = CPU + 1) with its RIP named, the code around it and its backtrace, how every CPU stopped (the
// NMIDUMP stop-status notes) and the crash's timeline, the memory ranges (PT_LOADs) and the first
// kernel's log ring. Everything comes through the kernel's own readers; what is missing or damaged
// becomes a warning, never an exception, so a damaged dump still yields whatever it holds.
using System.Text;

namespace Nmidump.Inspector;

/// <summary>One CPU that saved its registers.</summary>
public sealed class CpuState
{
    public int Cpu { get; init; }
    public int Pid { get; init; }
    public long? ApicId { get; init; }
    public bool IsPanicCpu { get; init; }
    /// <summary>The 27 registers of user_regs_struct, indexed by <see cref="UserReg"/>.</summary>
    public required ulong[] Regs { get; init; }
    /// <summary>"function+0xoff/0xsize", or null when no symbol covers RIP.</summary>
    public string? RipSymbol { get; init; }
    public List<CodeLine> Code { get; init; } = [];
    /// <summary>Why there is no code, when there is none.</summary>
    public string? CodeProblem { get; init; }
    /// <summary>Innermost first; just the RIP when no unwind tables could be had.</summary>
    public List<FrameInfo> Backtrace { get; } = [];
    /// <summary>Why the backtrace ends where it does ("outermost frame" when it reached the stack's bottom).</summary>
    public string? BacktraceEnd { get; set; }
    /// <summary>Its stop-status note, if the dump has one for this CPU.</summary>
    public CpuStopStatus? Stop { get; set; }

    public ulong this[UserReg r] => Regs[(int)r];
}

/// <summary>One PT_LOAD: Size is p_memsz, FileSize p_filesz (the rest are zero pages the file does not hold).</summary>
public sealed record MemoryRange(ulong PhysAddr, ulong VirtAddr, ulong Size, ulong FileOffset, ulong FileSize);

/// <summary>The gathered contents of a dump.</summary>
public sealed class Inspection
{
    public required string Path { get; init; }
    public long FileSize { get; set; }
    /// <summary>Set when the file was a DumpStream, decoded in memory first.</summary>
    public string? DecodedFrom { get; set; }

    public bool HasVmcoreinfo { get; set; }
    public List<string> VmcoreinfoLines { get; } = [];
    public string? PanicMessage { get; set; }
    public long? PanicCpu { get; set; }
    public ulong? CrashTime { get; set; }
    public string? OsRelease { get; set; }
    public string? BuildId { get; set; }
    public long? NrCpus { get; set; }
    /// <summary>CRASH_CHANNEL=: how the crash-time unload handshake ended (done, timeout, none).</summary>
    public string? CrashChannel { get; set; }
    public long? CrashChannelOwner { get; set; }

    public string? KernelPath { get; set; }
    public string? KernelBuildId { get; set; }
    /// <summary>null: nothing to compare (no --kernel, or one side has no build id).</summary>
    public bool? BuildIdMatches { get; set; }

    public SymbolTable? Symbols { get; set; }

    public List<CpuState> Cpus { get; } = [];
    /// <summary>CPU number and why it has no registers in the dump.</summary>
    public List<(int Cpu, string Why)> MissingCpus { get; } = [];
    /// <summary>The NMIDUMP stop-status notes, one per CPU slot, in note order.</summary>
    public List<CpuStopStatus> StopStatuses { get; } = [];
    /// <summary>Where the unwind tables and the line tables came from (null: none).</summary>
    public string? UnwindSource { get; set; }
    public string? LineSource { get; set; }
    /// <summary>The crash's TSC stamps in order, and the TSC rate that turns them into times (VMCOREINFO's TSC_KHZ).</summary>
    public List<TimelineEvent> Timeline { get; } = [];
    public ulong? TscKhz { get; set; }
    /// <summary>Set by --cpu: the CPU lists hold only this CPU.</summary>
    public int? OnlyCpu { get; set; }
    public List<MemoryRange> Memory { get; } = [];
    /// <summary>The dump level and what it left out (the NMIDUMP dump-filter note); null for a dump without one.</summary>
    public DumpFilterStats? Filter { get; set; }
    /// <summary>VMCOREINFO's NOT_ONLINE_APIC_IDS: present CPUs that were never online (no registers by design).</summary>
    public string? NotOnlineApicIds { get; set; }

    public List<string> Log { get; } = [];
    public ulong LogRecords { get; set; }
    public ulong LogDropped { get; set; }
    public int LogLinesWanted { get; set; }

    /// <summary>What could not be read, one line each; the report prints them where they belong.</summary>
    public List<string> Warnings { get; } = [];
}

public static class DumpInspector
{
    /// <summary>The largest log ring or symbol table read out of a dump (the kernel's are KiB to a few MiB).</summary>
    public const ulong MaxTableSize = 64 << 20;

    /// <summary>
    /// Gathers everything from a dump that <see cref="VmcoreFile.Open"/> accepted.
    /// <paramref name="kernel"/> is --kernel's image, if given.
    /// </summary>
    public static Inspection Inspect(string path, ReadOnlySpan<byte> file, KernelElf? kernel, string? kernelPath,
        int logLines, bool disassemble)
    {
        if (!VmcoreFile.Open(file, out VmcoreFile core, out ElfCoreError error))
            throw new InvalidOperationException("Inspect needs a file VmcoreFile.Open accepts: " + Describe(error));
        return Inspect(path, core, kernel, kernelPath, logLines, disassemble);
    }

    /// <summary>The same for a dump already opened, of any size (a mapped file past 2 GiB).</summary>
    public static Inspection Inspect(string path, VmcoreFile core, KernelElf? kernel, string? kernelPath,
        int logLines, bool disassemble)
    {
        var r = new Inspection { Path = path, FileSize = (long)core.Length, KernelPath = kernelPath, LogLinesWanted = logLines };

        ReadOnlySpan<byte> info = default;
        if (core.NoteSegmentCount == 0) r.Warnings.Add("the dump has no PT_NOTE: no registers, no VMCOREINFO");
        else if (core.NoteSegmentCount > 1) r.Warnings.Add($"the dump has {core.NoteSegmentCount} PT_NOTEs; only the first is read (/proc/vmcore merges them into one)");
        CheckNotes(core.Notes, r);
        if (core.VmcoreinfoText(out info)) ReadVmcoreinfo(info, r);
        else r.Warnings.Add("no VMCOREINFO note: no panic message, crash time, symbols or log");

        ChooseSymbols(core, info, kernel, kernelPath, r);
        ReadCpus(core, info, r, disassemble);
        ReadStopStatuses(core.Notes, r);
        Backtraces.Build(core, info, kernel, r);
        Timeline.Build(core.Notes, info, r);
        ReadMemory(core, r);
        ReadFilter(core, info, r);
        if (r.HasVmcoreinfo) ReadLog(core, info, logLines, r);
        return r;
    }

    static void CheckNotes(ReadOnlySpan<byte> notes, Inspection r)
    {
        ElfNoteReader walk = new ElfNoteReader(notes);
        while (walk.MoveNext()) { }
        if (walk.Corrupt)
        {
            var l = new LogLine(0, 0);
            walk.DescribeCorruption(ref l);
            r.Warnings.Add("the PT_NOTE is damaged, notes after the damage are lost: " + Ascii(l.AsSpan()));
        }
    }

    static void ReadVmcoreinfo(ReadOnlySpan<byte> info, Inspection r)
    {
        r.HasVmcoreinfo = true;
        foreach (string line in Ascii(info).Split('\n'))
            if (line.Length > 0) r.VmcoreinfoLines.Add(line);
        r.PanicMessage = Text(info, "PANIC_MESSAGE");
        r.OsRelease = Text(info, "OSRELEASE");
        r.BuildId = Text(info, "BUILD-ID");
        if (Vmcoreinfo.FindUnsigned(info, "CRASHTIME", out ulong t)) r.CrashTime = t;
        if (Vmcoreinfo.FindDecimal(info, "CRASH_CPU", out long p)) r.PanicCpu = p;
        if (Vmcoreinfo.FindNumber(info, "nr_cpus", out long n)) r.NrCpus = n;
        r.CrashChannel = Text(info, "CRASH_CHANNEL");
        if (Vmcoreinfo.FindDecimal(info, "CRASH_CHANNEL_OWNER", out long owner)) r.CrashChannelOwner = owner;
    }

    /// <summary>
    /// The dump's own table is right for the dump by construction; --kernel's is preferred only when
    /// its build id matches (or cannot be compared), since a mismatched image names the wrong code.
    /// </summary>
    static void ChooseSymbols(VmcoreFile core, ReadOnlySpan<byte> info, KernelElf? kernel, string? kernelPath, Inspection r)
    {
        SymbolTable? embedded = null;
        if (Vmcoreinfo.FindSymbol(info, "kallsyms", out ulong at))
        {
            if (!Vmcoreinfo.FindSize(info, "kallsyms", out ulong size)) r.Warnings.Add("VMCOREINFO has SYMBOL(kallsyms) but no SIZE(kallsyms)");
            else if (ReadTable(core, at, size, "kallsyms", r) is byte[] table)
            {
                if (Kallsyms.Count(table) == 0) r.Warnings.Add($"the embedded kallsyms table at 0x{at:x} is empty or damaged");
                else embedded = new SymbolTable(table, $"the dump's embedded kallsyms (0x{at:x}, {Kallsyms.Count(table)} symbols)");
            }
        }
        else if (r.HasVmcoreinfo) r.Warnings.Add("VMCOREINFO names no SYMBOL(kallsyms): no embedded symbol table");

        if (kernel != null)
        {
            r.KernelBuildId = kernel.BuildId;
            if (r.BuildId != null && kernel.BuildId != null)
                r.BuildIdMatches = string.Equals(r.BuildId, kernel.BuildId, StringComparison.OrdinalIgnoreCase);
            var fromKernel = kernel.SymbolCount > 0 ? new SymbolTable(kernel.Symbols, $"{kernelPath} ({kernel.SymbolCount} symbols)") : null;
            if (fromKernel == null) r.Warnings.Add($"{kernelPath} has no symbols in executable sections (stripped?)");
            r.Symbols = r.BuildIdMatches == false && embedded != null ? embedded : fromKernel ?? embedded;
        }
        else
        {
            r.Symbols = embedded;
        }
    }

    static void ReadCpus(VmcoreFile core, ReadOnlySpan<byte> info, Inspection r, bool disassemble)
    {
        Vmcoreinfo.Find(info, "APIC_IDS", out ReadOnlySpan<byte> apicText);
        List<long> apicIds = Numbers(apicText);
        var seen = new HashSet<int>();
        int count = core.PrStatusCount;
        for (int n = 0; n < count; n++)
        {
            if (!core.PrStatus(n, out int pid, out PrStatusRegs regs))
            {
                r.Warnings.Add($"NT_PRSTATUS note {n} has a desc of the wrong size (336 bytes expected): skipped");
                continue;
            }
            int cpu = pid - 1;
            if (pid <= 0 || !seen.Add(cpu))
            {
                r.Warnings.Add(pid <= 0 ? $"NT_PRSTATUS note {n} has pr_pid {pid}: no CPU number (pid = CPU + 1)"
                                        : $"NT_PRSTATUS note {n} repeats CPU {cpu} (pr_pid {pid})");
                if (pid <= 0) cpu = -1;
            }
            var values = new ulong[PrStatusRegs.Count];
            for (int i = 0; i < values.Length; i++) values[i] = regs[(UserReg)i];
            ulong rip = values[(int)UserReg.Rip];
            string? symbol = null;
            ulong? functionStart = null;
            if (r.Symbols != null && r.Symbols.Lookup(rip, out string name, out ulong start, out ulong size))
            {
                symbol = $"{name}+0x{rip - start:x}/0x{size:x}";
                functionStart = start;
            }
            List<CodeLine> code = [];
            string? problem = null;
            if (disassemble) code = CodeAround(core, rip, functionStart, r.Symbols, out problem);
            r.Cpus.Add(new CpuState
            {
                Cpu = cpu, Pid = pid, Regs = values, RipSymbol = symbol, Code = code, CodeProblem = problem,
                ApicId = cpu >= 0 && cpu < apicIds.Count ? apicIds[cpu] : null,
                IsPanicCpu = r.PanicCpu == cpu,
            });
        }
        r.Cpus.Sort((a, b) => a.Cpu.CompareTo(b.Cpu));

        // A CPU that did not answer the NMI shootdown left no note; the first kernel names it in
        // CPU_MISSING. A CPU below nr_cpus without a note that CPU_MISSING does not name is reported too.
        var named = new HashSet<int>();
        if (Vmcoreinfo.Find(info, "CPU_MISSING", out ReadOnlySpan<byte> missing))
            foreach (long c in Numbers(missing))
            {
                if (c < 0 || c > int.MaxValue || !named.Add((int)c)) continue;
                r.MissingCpus.Add(((int)c, seen.Contains((int)c)
                    ? "named in CPU_MISSING, yet it has a note"
                    : "did not answer the NMI shootdown (CPU_MISSING): no registers"));
            }
        for (int c = 0; r.NrCpus is long nr && c < nr && c < 4096; c++)
            if (!seen.Contains(c) && !named.Contains(c))
                r.MissingCpus.Add((c, "no NT_PRSTATUS note, and CPU_MISSING does not name it"));
        r.MissingCpus.Sort((a, b) => a.Cpu.CompareTo(b.Cpu));
    }

    /// <summary>
    /// The stop-status notes: each CPU's state, and the missing CPUs named from them ("never
    /// answered, waited 1000 ms") rather than guessed from CPU_MISSING and nr_cpus.
    /// </summary>
    static void ReadStopStatuses(ReadOnlySpan<byte> notes, Inspection r)
    {
        ElfNoteReader walk = new ElfNoteReader(notes);
        while (walk.MoveNext())
        {
            ElfNoteEntry e = walk.Current;
            if (NmidumpNote.ReadStopStatus(in e, out CpuStopStatus s)) r.StopStatuses.Add(s);
            else if (e.NameIs(NmidumpNote.Owner) && e.Type == NmidumpNote.StopStatusType)
                r.Warnings.Add($"an NMIDUMP stop-status note has {e.Desc.Length} bytes ({NmidumpNote.StopStatusDescSize} expected): skipped");
        }
        if (r.StopStatuses.Count == 0) return;
        r.MissingCpus.Clear();
        foreach (CpuStopStatus s in r.StopStatuses)
        {
            CpuState? saved = r.Cpus.Find(c => c.Cpu == (int)s.Cpu);
            if (saved != null) saved.Stop = s;
            else r.MissingCpus.Add(((int)s.Cpu, Describe(s) + (s.SavedRegisters ? "; yet no register note" : "")));
        }
        foreach (CpuState c in r.Cpus)
            if (c.Stop is CpuStopStatus s && !s.SavedRegisters)
                r.Warnings.Add($"CPU {c.Cpu} has a register note but its stop status says \"{Describe(s)}\" (it answered after the wait ended)");
        r.MissingCpus.Sort((a, b) => a.Cpu.CompareTo(b.Cpu));
    }

    /// <summary>"never answered, waited 1000 ms", in the kernel's own words.</summary>
    public static string Describe(CpuStopStatus s)
    {
        var l = new LogLine(0, 0);
        s.Describe(ref l);
        return Ascii(l.AsSpan());
    }

    static List<CodeLine> CodeAround(VmcoreFile core, ulong rip, ulong? functionStart, SymbolTable? symbols, out string? problem)
    {
        problem = null;
        // From the function's first byte when that is near; else a short window before RIP.
        ulong back = functionStart is ulong f && rip - f <= Disassembly.MaxFromSymbol ? rip - f : Disassembly.ScanBack;
        if (back > rip) back = rip;
        ulong start = rip - back;
        var buffer = new byte[back + Disassembly.After];
        int got = core.ReadVirtual(start, buffer);
        if ((ulong)got <= back)
        {
            // The bytes before RIP may be outside the dump while RIP's are not.
            start = rip;
            got = core.ReadVirtual(rip, buffer);
            if (got == 0)
            {
                problem = $"RIP 0x{rip:x16} is not in the dump's memory";
                return [];
            }
        }
        Array.Resize(ref buffer, got);
        List<CodeLine> lines = Disassembly.Around(buffer, start, rip, functionStart, symbols);
        if (lines.Count == 0) problem = $"the bytes at RIP 0x{rip:x16} do not decode as x86-64 code";
        return lines;
    }

    static void ReadMemory(VmcoreFile core, Inspection r)
    {
        for (int i = 0; core.Load(i, out ElfProgramHeader h); i++)
            r.Memory.Add(new MemoryRange(h.PhysAddr, h.VirtAddr, h.MemSize, h.Offset, h.FileSize));
        if (r.Memory.Count == 0) r.Warnings.Add("the dump has no PT_LOAD: no memory, so no log, symbols or code");
    }

    /// <summary>
    /// The capture kernel's dump-filter note (the level and what it left out), and the CPUs the
    /// first kernel names as present but not online.
    /// </summary>
    static void ReadFilter(VmcoreFile core, ReadOnlySpan<byte> info, Inspection r)
    {
        if (DumpFilter.ReadNote(core.Notes, out DumpFilterStats s)) r.Filter = s;
        if (Vmcoreinfo.Find(info, "NOT_ONLINE_APIC_IDS", out ReadOnlySpan<byte> offline)) r.NotOnlineApicIds = Ascii(offline);
    }

    static void ReadLog(VmcoreFile core, ReadOnlySpan<byte> info, int wanted, Inspection r)
    {
        if (!Vmcoreinfo.FindSymbol(info, "log_buf", out ulong at) || !Vmcoreinfo.FindSize(info, "log_buf", out ulong size))
        {
            r.Warnings.Add("VMCOREINFO names no SYMBOL(log_buf)/SIZE(log_buf): no kernel log");
            return;
        }
        if (ReadTable(core, at, size, "log_buf", r) is not byte[] area) return;
        if (!Kmsg.ReadHeader(area, out KmsgHeader header))
        {
            r.Warnings.Add($"no log ring at 0x{at:x}: its header is missing or damaged");
            return;
        }
        r.LogRecords = Kmsg.Count(area);
        r.LogDropped = header.Dropped;
        KmsgReader reader = Kmsg.ReadLast(area, wanted);
        var line = new byte[Kmsg.MaxTextLength + 32];
        while (reader.MoveNext())
        {
            KmsgRecord rec = reader.Current;
            int n = Kmsg.FormatRecord(rec.TimestampNs, rec.Text, line);
            // vmcore-dmesg's raw form: the record's level in angle brackets, then the console line.
            r.Log.Add($"<{(int)rec.Level}>" + Encoding.ASCII.GetString(line, 0, n));
        }
        // ReadLast walks the ring from its oldest record, so damage anywhere before the end shows here.
        if (reader.Corrupt)
            r.Warnings.Add($"the log ring at 0x{at:x} is damaged: damaged records were skipped");
        if (reader.Unfinished > 0)
            r.Warnings.Add($"{reader.Unfinished} log records were never finished (their CPUs were stopped while writing them)");
        if (header.Lost > 0)
            r.Warnings.Add($"{header.Lost} log records were lost: the ring was full up to a record still being written");
    }

    /// <summary>A region the dump's memory should hold whole, or null with a warning.</summary>
    static byte[]? ReadTable(VmcoreFile core, ulong at, ulong size, string what, Inspection r)
    {
        if (size == 0 || size > MaxTableSize)
        {
            r.Warnings.Add($"SIZE({what})={size} is {(size == 0 ? "empty" : "too large")}: {what} not read");
            return null;
        }
        var bytes = new byte[size];
        int got = core.ReadPhysical(at, bytes);
        if ((ulong)got < size)
        {
            r.Warnings.Add($"{what} at 0x{at:x} (0x{size:x} bytes) is {(got == 0 ? "not" : "only partly")} in the dump's memory");
            return null;
        }
        return bytes;
    }

    static string? Text(ReadOnlySpan<byte> info, string key)
        => Vmcoreinfo.Find(info, key, out ReadOnlySpan<byte> v) ? Ascii(v) : null;

    /// <summary>
    /// A cpulist ("0-3,8", or plain "0,1,2,3" as older dumps wrote it), in its order; a part that
    /// does not parse is skipped, and a range is expanded up to 65536 numbers.
    /// </summary>
    public static List<long> Numbers(ReadOnlySpan<byte> list)
    {
        var result = new List<long>();
        var one = new uint[65536];
        foreach (string part in Ascii(list).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            if (CpuList.Read(System.Text.Encoding.ASCII.GetBytes(part), one, out int n))
                for (int i = 0; i < n; i++) result.Add(one[i]);
        return result;
    }

    /// <summary>Bytes from a dump as text: printable ASCII kept, anything else '?'.</summary>
    public static string Ascii(ReadOnlySpan<byte> bytes)
    {
        var chars = new char[bytes.Length];
        for (int i = 0; i < bytes.Length; i++) chars[i] = bytes[i] is >= 0x20 and <= 0x7E or (byte)'\n' ? (char)bytes[i] : '?';
        return new string(chars);
    }

    public static string Describe(ElfCoreError error)
    {
        var l = new LogLine(0, 0);
        error.Describe(ref l);
        return Ascii(l.AsSpan());
    }
}
