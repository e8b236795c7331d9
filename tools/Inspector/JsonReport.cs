// The whole report as one JSON document (`inspect --json`), for scripts: the same Inspection the
// text report prints. cpus[] has one entry per CPU slot, with or without registers, each with its
// stop state and backtrace[] of {address, symbol, offset, file, line}. Addresses and registers are
// hex strings ("0x..."): 64-bit values do not survive a JSON number in most readers. dump{} is the
// dump-filter note (level, what was left out), notOnlineApicIds the CPUs present but never online.
using System.Text.Json;

namespace Nmidump.Inspector;

public static class JsonReport
{
    public static void Write(Inspection r, Stream output)
    {
        using var w = new Utf8JsonWriter(output, new JsonWriterOptions { Indented = true });
        w.WriteStartObject();
        w.WriteStartObject("vmcore");
        w.WriteString("path", r.Path);
        w.WriteNumber("size", r.FileSize);
        w.WriteString("decodedFrom", r.DecodedFrom);
        w.WriteNumber("cpuNotes", r.Cpus.Count);
        w.WriteNumber("loads", r.Memory.Count);
        w.WriteEndObject();

        w.WriteStartObject("panic");
        w.WriteString("message", r.PanicMessage);
        Number(w, "cpu", r.PanicCpu);
        Number(w, "crashTime", r.CrashTime);
        w.WriteEndObject();
        w.WriteString("release", r.OsRelease);
        w.WriteString("buildId", r.BuildId);
        w.WriteStartObject("kernel");
        w.WriteString("path", r.KernelPath);
        w.WriteString("buildId", r.KernelBuildId);
        if (r.BuildIdMatches is bool m) w.WriteBoolean("buildIdMatches", m);
        else w.WriteNull("buildIdMatches");
        w.WriteEndObject();
        w.WriteString("symbols", r.Symbols?.Source);
        w.WriteString("unwind", r.UnwindSource);
        w.WriteString("lines", r.LineSource);

        w.WriteStartArray("cpus");
        foreach (int cpu in CpuSlots(r)) Cpu(w, r, cpu);
        w.WriteEndArray();

        w.WriteStartArray("timeline");
        ulong first = r.Timeline.Count > 0 ? r.Timeline[0].Tsc : 0;
        foreach (TimelineEvent e in r.Timeline)
        {
            w.WriteStartObject();
            w.WriteNumber("tsc", e.Tsc);
            if (Timeline.MicrosecondsAfter(first, e.Tsc, r.TscKhz) is double us) w.WriteNumber("us", Math.Round(us, 3));
            else w.WriteNull("us");
            w.WriteString("event", e.What);
            Number(w, "cpu", e.Cpu);
            w.WriteEndObject();
        }
        w.WriteEndArray();

        w.WriteStartObject("vmcoreinfo");
        foreach (string line in r.VmcoreinfoLines)
        {
            int eq = line.IndexOf('=');
            if (eq > 0) w.WriteString(line[..eq], line[(eq + 1)..]);
        }
        w.WriteEndObject();

        w.WriteStartArray("memory");
        foreach (MemoryRange range in r.Memory)
        {
            w.WriteStartObject();
            w.WriteString("physStart", Hex(range.PhysAddr));
            w.WriteString("virtStart", Hex(range.VirtAddr));
            w.WriteNumber("size", range.Size);
            w.WriteNumber("fileOffset", range.FileOffset);
            w.WriteNumber("fileSize", range.FileSize);
            w.WriteEndObject();
        }
        w.WriteEndArray();

        // The dump-filter note: null for a full dump from a capture kernel that wrote none.
        if (r.Filter is DumpFilterStats f)
        {
            w.WriteStartObject("dump");
            w.WriteNumber("level", f.Level);
            w.WriteNumber("ramBytes", f.RamBytes);
            w.WriteNumber("dataBytes", f.DataBytes);
            w.WriteNumber("zeroBytes", f.ZeroBytes);
            w.WriteNumber("freeBytes", f.FreeBytes);
            w.WriteNumber("segments", f.Segments);
            w.WriteEndObject();
        }
        else w.WriteNull("dump");
        w.WriteString("notOnlineApicIds", r.NotOnlineApicIds);

        w.WriteStartObject("log");
        w.WriteNumber("records", r.LogRecords);
        w.WriteNumber("dropped", r.LogDropped);
        w.WriteStartArray("lines");
        foreach (string line in r.Log) w.WriteStringValue(line);
        w.WriteEndArray();
        w.WriteEndObject();

        w.WriteStartArray("warnings");
        foreach (string warning in r.Warnings) w.WriteStringValue(warning);
        w.WriteEndArray();
        w.WriteEndObject();
    }

    /// <summary>Every CPU the dump knows of: those with registers and those only a stop-status note names, in order.</summary>
    static IEnumerable<int> CpuSlots(Inspection r)
        => r.Cpus.Select(c => c.Cpu).Concat(r.MissingCpus.Select(m => m.Cpu)).Distinct().Order();

    static void Cpu(Utf8JsonWriter w, Inspection r, int number)
    {
        CpuState? cpu = r.Cpus.Find(c => c.Cpu == number);
        CpuStopStatus? stop = cpu?.Stop;
        int noted = r.StopStatuses.FindIndex(s => s.Cpu == (uint)number);
        if (stop == null && noted >= 0) stop = r.StopStatuses[noted];
        w.WriteStartObject();
        w.WriteNumber("cpu", number);
        Number(w, "apicId", cpu?.ApicId ?? (stop is CpuStopStatus a ? a.ApicId : (long?)null));
        Number(w, "pid", cpu?.Pid);
        w.WriteBoolean("panicCpu", r.PanicCpu == number);
        if (stop is CpuStopStatus st)
        {
            w.WriteStartObject("stop");
            w.WriteNumber("state", (uint)st.State);
            w.WriteString("name", StateName(st.State));
            w.WriteString("text", DumpInspector.Describe(st));
            w.WriteNumber("waitedMs", st.WaitedMs);
            w.WriteNumber("stopTsc", st.StopTsc);
            w.WriteEndObject();
        }
        else w.WriteNull("stop");
        if (cpu == null)
        {
            w.WriteString("missing", r.MissingCpus.Find(x => x.Cpu == number).Why);
            w.WriteNull("registers");
            w.WriteNull("rip");
            w.WriteStartArray("backtrace");
            w.WriteEndArray();
            w.WriteEndObject();
            return;
        }
        w.WriteStartObject("registers");
        foreach (UserReg reg in Enum.GetValues<UserReg>()) w.WriteString(reg.ToString().ToLowerInvariant(), Hex(cpu[reg]));
        w.WriteEndObject();
        w.WriteString("rip", cpu.RipSymbol);
        w.WriteStartArray("backtrace");
        foreach (FrameInfo f in cpu.Backtrace)
        {
            w.WriteStartObject();
            w.WriteString("address", Hex(f.Address));
            w.WriteString("symbol", f.Symbol);
            if (f.Symbol != null) w.WriteNumber("offset", f.Offset);
            else w.WriteNull("offset");
            w.WriteString("file", f.File);
            Number(w, "line", f.Line);
            w.WriteBoolean("interrupted", f.Interrupted);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteString("backtraceEnd", cpu.BacktraceEnd);
        w.WriteEndObject();
    }

    public static string StateName(CpuStopState s) => s switch
    {
        CpuStopState.Panicking => "panicking",
        CpuStopState.Answered => "answered",
        CpuStopState.StoppedInNmi => "stopped_in_nmi",
        CpuStopState.NeverAnswered => "never_answered",
        CpuStopState.NeverStarted => "never_started",
        _ => "unknown",
    };

    static string Hex(ulong v) => $"0x{v:x}";

    static void Number(Utf8JsonWriter w, string name, long? v)
    {
        if (v is long n) w.WriteNumber(name, n);
        else w.WriteNull(name);
    }

    static void Number(Utf8JsonWriter w, string name, ulong? v)
    {
        if (v is ulong n) w.WriteNumber(name, n);
        else w.WriteNull(name);
    }
}
