// Prints an Inspection for people: the crash in a few lines, a CPU table with each CPU's stop state,
// each CPU's registers in the layout of Linux's __show_regs() with the code around RIP and its call
// trace, the crash timeline, VMCOREINFO, memory and the log tail in dmesg's form. Text from the dump is printed as plain text (never as Spectre markup), so a
// panic message with brackets cannot garble the report.
using Spectre.Console;
using Spectre.Console.Rendering;

namespace Nmidump.Inspector;

public static class Report
{
    const int KeyWidth = 11;
    [ThreadStatic] static bool s_terminal;

    /// <summary>Writes the report. <paramref name="terminal"/> chooses box-drawn tables and rules; otherwise
    /// plain ASCII columns that read well in a CI log.</summary>
    public static void Write(Inspection r, IAnsiConsole c, bool terminal)
    {
        s_terminal = terminal;
        Summary(r, c);
        Cpus(r, c);
        Registers(r, c);
        TimelineSection(r, c);
        Section(c, "VMCOREINFO");
        if (!r.HasVmcoreinfo) c.WriteLine("  (none)");
        foreach (string line in r.VmcoreinfoLines) c.WriteLine("  " + line);
        MemoryRanges(r, c);
        Log(r, c);
        if (r.Warnings.Count > 0)
        {
            Section(c, "warnings");
            foreach (string w in r.Warnings) Warn(c, w);
        }
    }

    static void Summary(Inspection r, IAnsiConsole c)
    {
        Key(c, "vmcore", $"{r.Path} ({Size((ulong)r.FileSize)}, {r.Cpus.Count} CPU notes, {r.Memory.Count} PT_LOADs)");
        if (r.DecodedFrom != null) Key(c, "stream", r.DecodedFrom);
        string panicCpu = r.PanicCpu is long p ? $" (CPU {p})" : "";
        Key(c, "panic", (r.PanicMessage ?? "(no PANIC_MESSAGE in VMCOREINFO)") + panicCpu);
        Key(c, "crash time", r.CrashTime is ulong t ? CrashTime(t) : "(no CRASHTIME in VMCOREINFO)");
        if (r.CrashChannel != null) Key(c, "channel", CrashChannel(r.CrashChannel, r.CrashChannelOwner));
        if (r.OsRelease != null) Key(c, "release", r.OsRelease);
        string buildId = r.BuildId ?? "(no BUILD-ID in VMCOREINFO)";
        if (r.KernelPath != null)
        {
            buildId += r.BuildIdMatches switch
            {
                true => $" (matches {r.KernelPath})",
                false => "",
                null => r.KernelBuildId == null ? $" ({r.KernelPath} has no build-id note: cannot compare)" : " (cannot compare)",
            };
        }
        Key(c, "build id", buildId);
        if (r.BuildIdMatches == false)
            Warn(c, $"{r.KernelPath} is a different build (build id {r.KernelBuildId}): its symbols do not describe this dump");
        Key(c, "symbols", r.Symbols?.Source ?? "(none: RIPs are shown as addresses)");
        Key(c, "unwind", r.UnwindSource ?? "(no unwind tables: backtraces show the RIP only)");
        Key(c, "lines", r.LineSource ?? "(no line tables: give --kernel out/kernel.elf for file:line)");
        Key(c, "dump", DumpLine(r));
    }

    /// <summary>"dump_level 31 (zero pages as holes, free pages left out): ..." or what an unfiltered dump holds.</summary>
    public static string DumpLine(Inspection r)
    {
        ulong inFile = 0, memory = 0;
        foreach (MemoryRange m in r.Memory) { inFile += m.FileSize; memory += m.Size; }
        if (r.Filter is not DumpFilterStats f)
            return $"no dump-filter note (a full dump): {Size(memory)} of memory, {Size(inFile)} of it in the file";
        var l = new LogLine(0, 0);
        DumpFilter.DescribeLevel(ref l, f.Level);
        string how = DumpInspector.Ascii(l.AsSpan());
        return $"dump_level {f.Level} ({how}): {Size(f.RamBytes)} of RAM; {Size(f.DataBytes)} in the file, "
             + $"{Size(f.ZeroBytes)} of zero pages left as holes, {Size(f.FreeBytes)} of free pages left out ({f.Segments} PT_LOADs)";
    }

    /// <summary>The crash channel's unload handshake, as CRASH_CHANNEL= and CRASH_CHANNEL_OWNER= recorded it.</summary>
    public static string CrashChannel(string outcome, long? owner)
    {
        string cpu = owner is long o ? $"CPU {o}" : "the owner (CRASH_CHANNEL_OWNER missing)";
        return outcome switch
        {
            "done" => $"unload done: the reply landed on {cpu}",
            "timeout" => $"unload timed out: the reply waited on {cpu}, which could not take its interrupt",
            "none" => "none (no crash_channel=)",
            _ => $"{outcome} (unknown CRASH_CHANNEL value)",
        };
    }

    /// <summary>"2025-11-22 00:08:12 UTC (epoch 1763770092)".</summary>
    public static string CrashTime(ulong epoch)
    {
        if (epoch > 253402300799) return $"epoch {epoch} (out of range)";
        var t = DateTimeOffset.FromUnixTimeSeconds((long)epoch);
        return $"{t.UtcDateTime:yyyy-MM-dd HH:mm:ss} UTC (epoch {epoch})";
    }

    static void Cpus(Inspection r, IAnsiConsole c)
    {
        Section(c, "CPUs");
        if (r.Cpus.Count == 0 && r.OnlyCpu is int only) c.WriteLine($"  CPU {only} saved no registers");
        else if (r.Cpus.Count == 0) c.WriteLine("  no CPU saved its registers (no NT_PRSTATUS note)");
        else
        {
            var table = NewTable();
            table.AddColumn(new TableColumn("CPU").RightAligned());
            table.AddColumn(new TableColumn("APIC").RightAligned());
            table.AddColumn(new TableColumn("pid").RightAligned());
            table.AddColumn("RIP");
            table.AddColumn("RSP");
            table.AddColumn("R12");
            table.AddColumn("RFLAGS");
            table.AddColumn("stop");
            table.AddColumn("");
            foreach (CpuState cpu in r.Cpus)
            {
                table.AddRow(Cells(
                    cpu.Cpu >= 0 ? cpu.Cpu.ToString() : "?",
                    cpu.ApicId?.ToString() ?? "?",
                    cpu.Pid.ToString(),
                    cpu.RipSymbol ?? $"{cpu[UserReg.Rip]:x16}",
                    $"{cpu[UserReg.Rsp]:x16}",
                    $"{cpu[UserReg.R12]:x16}",
                    $"{cpu[UserReg.Eflags]:x8}",
                    cpu.Stop is CpuStopStatus s ? DumpInspector.Describe(s) : "",
                    cpu.IsPanicCpu ? "panic" : ""));
            }
            WriteTable(c, table);
        }
        if (r.MissingCpus.Count == 0 && r.OnlyCpu == null) c.WriteLine(r.NrCpus is long n ? $"  missing CPUs: none (all {n} saved their registers)" : "  missing CPUs: none named");
        foreach (var (cpu, why) in r.MissingCpus) c.WriteLine($"  missing CPU {cpu}: {why}");
        if (r.NotOnlineApicIds != null)
            c.WriteLine($"  present but never online (no registers by design; no broadcast IPI reached them): APIC IDs {r.NotOnlineApicIds}");
    }

    /// <summary>Each CPU as Linux's __show_regs() prints it, then its code.</summary>
    static void Registers(Inspection r, IAnsiConsole c)
    {
        foreach (CpuState cpu in r.Cpus)
        {
            Section(c, $"CPU {(cpu.Cpu >= 0 ? cpu.Cpu.ToString() : "?")} (APIC {cpu.ApicId?.ToString() ?? "?"}, pid {cpu.Pid}){(cpu.IsPanicCpu ? ", the panic CPU" : "")}");
            ulong R(UserReg reg) => cpu[reg];
            c.WriteLine($"  RIP: {R(UserReg.Cs):x4}:{R(UserReg.Rip):x16} {cpu.RipSymbol ?? ""}".TrimEnd());
            c.WriteLine($"  RSP: {R(UserReg.Ss):x4}:{R(UserReg.Rsp):x16} EFLAGS: {R(UserReg.Eflags):x8} ORIG_RAX: {R(UserReg.OrigRax):x16}");
            c.WriteLine($"  RAX: {R(UserReg.Rax):x16} RBX: {R(UserReg.Rbx):x16} RCX: {R(UserReg.Rcx):x16}");
            c.WriteLine($"  RDX: {R(UserReg.Rdx):x16} RSI: {R(UserReg.Rsi):x16} RDI: {R(UserReg.Rdi):x16}");
            c.WriteLine($"  RBP: {R(UserReg.Rbp):x16} R08: {R(UserReg.R8):x16} R09: {R(UserReg.R9):x16}");
            c.WriteLine($"  R10: {R(UserReg.R10):x16} R11: {R(UserReg.R11):x16} R12: {R(UserReg.R12):x16}");
            c.WriteLine($"  R13: {R(UserReg.R13):x16} R14: {R(UserReg.R14):x16} R15: {R(UserReg.R15):x16}");
            c.WriteLine($"  FS:  {R(UserReg.FsBase):x16}({R(UserReg.Fs):x4}) GS: {R(UserReg.GsBase):x16}({R(UserReg.Gs):x4}) DS: {R(UserReg.Ds):x4} ES: {R(UserReg.Es):x4}");
            if (cpu.Code.Count > 0)
            {
                c.WriteLine("  Code:");
                string? ripFunction = null;
                if (r.Symbols != null && r.Symbols.Lookup(cpu[UserReg.Rip], out string n, out _, out _)) ripFunction = n;
                foreach (CodeLine line in cpu.Code)
                {
                    // gdb's form: "=> 0x... <+9>:" marks the instruction at RIP; code of another
                    // function in the window is named in full.
                    string where = ":";
                    if (r.Symbols != null && r.Symbols.Lookup(line.Address, out string name, out ulong start, out _))
                        where = (name == ripFunction ? $"<+{line.Address - start}>" : $"<{name}+{line.Address - start}>") + ":";
                    c.WriteLine($"  {(line.AtRip ? "=>" : "  ")} {line.Address:x16} {where,-8} {line.Bytes,-23} {line.Text}");
                }
            }
            else if (cpu.CodeProblem != null)
            {
                c.WriteLine($"  Code: {cpu.CodeProblem}");
            }
            CallTrace(cpu, c);
        }
    }

    /// <summary>Linux's "Call Trace:", innermost first, with gdb's file:line; a trap's interrupted frame is marked.</summary>
    static void CallTrace(CpuState cpu, IAnsiConsole c)
    {
        if (cpu.Backtrace.Count == 0) return;
        c.WriteLine("  Call Trace:");
        for (int i = 0; i < cpu.Backtrace.Count; i++)
        {
            FrameInfo f = cpu.Backtrace[i];
            if (f.Interrupted) c.WriteLine("   -- interrupted --");
            string where = f.Symbol != null ? $"{f.Symbol}+0x{f.Offset:x}/0x{f.Size:x}" : "?";
            string line = f.File != null ? $"  {ShortPath(f.File)}:{f.Line}" : "";
            c.WriteLine($"   #{i,-2} {f.Address:x16} {where}{line}");
        }
        if (cpu.BacktraceEnd != null) c.WriteLine($"   ({cpu.BacktraceEnd})");
    }

    /// <summary>A source path relative to the working directory when it lies below it (DWARF records absolute build paths).</summary>
    public static string ShortPath(string path)
    {
        string here = Environment.CurrentDirectory.TrimEnd('/') + "/";
        return path.StartsWith(here, StringComparison.Ordinal) ? path[here.Length..] : path;
    }

    /// <summary>Who stopped when: the crash's TSC stamps relative to the first.</summary>
    static void TimelineSection(Inspection r, IAnsiConsole c)
    {
        Section(c, "timeline");
        if (r.Timeline.Count == 0) { c.WriteLine("  (no TSC stamps in the dump)"); return; }
        ulong first = r.Timeline[0].Tsc;
        if (r.TscKhz == null) c.WriteLine("  (no TSC_KHZ in VMCOREINFO: times are TSC ticks)");
        foreach (TimelineEvent e in r.Timeline)
        {
            string at = Timeline.MicrosecondsAfter(first, e.Tsc, r.TscKhz) is double us ? $"+{us / 1000,10:F3} ms" : $"+{e.Tsc - first,12} ticks";
            c.WriteLine($"  {at}  {e.What}");
        }
    }

    /// <summary>Rows of the PT_LOAD table shown; a filtered dump of a 255-CPU machine has hundreds.</summary>
    public const int MaxMemoryRows = 48;

    static void MemoryRanges(Inspection r, IAnsiConsole c)
    {
        Section(c, "memory (PT_LOAD)");
        if (r.Memory.Count == 0) { c.WriteLine("  (none)"); return; }
        var table = NewTable();
        table.AddColumn(new TableColumn("#").RightAligned());
        table.AddColumn("physical start");
        table.AddColumn("end (inclusive)");
        table.AddColumn(new TableColumn("size").RightAligned());
        table.AddColumn(new TableColumn("bytes").RightAligned());
        table.AddColumn(new TableColumn("in file").RightAligned());
        table.AddColumn("file offset");
        bool virt = r.Memory.Exists(m => m.VirtAddr != m.PhysAddr);
        if (virt) table.AddColumn("virtual");
        ulong total = 0, inFile = 0;
        for (int i = 0; i < r.Memory.Count; i++)
        {
            MemoryRange m = r.Memory[i];
            total += m.Size;
            inFile += m.FileSize;
            if (i >= MaxMemoryRows) continue;
            var cells = new List<string> { i.ToString(), $"0x{m.PhysAddr:x16}", m.Size == 0 ? "(empty)" : $"0x{m.PhysAddr + m.Size - 1:x16}", Size(m.Size), m.Size.ToString(),
                m.FileSize == m.Size ? "all" : m.FileSize == 0 ? "zeros" : Size(m.FileSize), $"0x{m.FileOffset:x}" };
            if (virt) cells.Add($"0x{m.VirtAddr:x16}");
            table.AddRow(Cells([.. cells]));
        }
        WriteTable(c, table);
        if (r.Memory.Count > MaxMemoryRows) c.WriteLine($"  ... {r.Memory.Count - MaxMemoryRows} more ranges");
        c.WriteLine($"  total: {Size(total)} ({total} bytes) in {r.Memory.Count} ranges; {Size(inFile)} ({inFile} bytes) in the file, the rest zero pages");
    }

    static void Log(Inspection r, IAnsiConsole c)
    {
        Section(c, "log");
        if (r.Log.Count == 0 && r.LogRecords == 0) { c.WriteLine("  (no log read)"); return; }
        string dropped = r.LogDropped > 0 ? $"; {r.LogDropped} older records were overwritten before the crash" : "";
        c.WriteLine($"  last {r.Log.Count} of {r.LogRecords} records{dropped}");
        foreach (string line in r.Log) c.WriteLine(line);
    }

    static IRenderable[] Cells(params string[] cells)
    {
        var result = new IRenderable[cells.Length];
        for (int i = 0; i < cells.Length; i++) result[i] = new Text(cells[i]);
        return result;
    }

    static Table NewTable() => new Table().Border(s_terminal ? TableBorder.Rounded : TableBorder.None);

    // Without borders the columns are indented like the rest of the report.
    static void WriteTable(IAnsiConsole c, Table table) => c.Write(s_terminal ? table : new Padder(table, new Padding(2, 0, 0, 0)));

    static void Section(IAnsiConsole c, string title)
    {
        c.WriteLine();
        if (s_terminal) c.Write(new Rule(Markup.Escape(title)).LeftJustified());
        else c.WriteLine($"== {title} ==");
    }

    static void Key(IAnsiConsole c, string key, string value) => c.WriteLine(key.PadRight(KeyWidth) + value);

    static void Warn(IAnsiConsole c, string text) => c.WriteLine("WARNING: " + text, new Style(Color.Yellow));

    /// <summary>Binary units: "632 KiB", "3 MiB", "1.5 GiB".</summary>
    public static string Size(ulong bytes)
    {
        string[] units = ["bytes", "KiB", "MiB", "GiB", "TiB"];
        double v = bytes;
        int u = 0;
        while (v >= 1024 && u < units.Length - 1) { v /= 1024; u++; }
        return u == 0 ? $"{bytes} bytes" : v == Math.Floor(v) ? $"{v:0} {units[u]}" : $"{v:0.0} {units[u]}";
    }
}
