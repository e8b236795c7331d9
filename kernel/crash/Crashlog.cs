// The RAM crashlog's two ends in the kernel (Fuchsia's ram_crashlog; the format is
// kernel/dump/RamCrashlog.cs): at boot the area is taken out of the memory map (the top 32 KiB of
// RAM below 4 GiB, the same place at every boot with the same firmware map), a record a crash left
// there is printed as "previous crash: ..." or reported damaged, and marked reported; at a crash the
// panicking CPU writes the record once, after the shootdown (every CPU's registers and stop state
// are known then), whether or not a dump follows. Nothing on the crash path allocates or locks.
using System;
using System.Threading;

static unsafe class Crashlog
{
    /// <summary>The record's log tail: the last lines that fit in this many bytes.</summary>
    const int LogTailBytes = 8 * 1024;
    /// <summary>Lines of the previous crash's log shown at boot (the whole tail is in the area).</summary>
    const int PreviousLogLines = 12;

    static ulong s_area;
    static int s_saved;

    struct Scratch { public fixed byte Bytes[RamCrashlog.Size]; }
    static Scratch s_scratch;

    public static ulong AreaAddress => s_area;

    static Span<byte> Area => new Span<byte>((void*)s_area, RamCrashlog.Size);

    /// <summary>At boot, once the log is up and before anything allocates from the map.</summary>
    public static void Init(ref Multiboot.Info info, ref Multiboot.Tables tables)
    {
        if (!Multiboot.ReserveTop(ref info, ref tables, RamCrashlog.Size, PageTableBits.IdentityMapEnd, Multiboot.MemoryReserved, out ulong area))
        {
            Log.Warn("crashlog: no usable RAM below 4 GiB to hold it; a crash leaves no record");
            return;
        }
        s_area = area;
        Log.Info($"crashlog: {RamCrashlog.Size / 1024}K at 0x{area:x} (the top of RAM below 4 GiB, kept across a warm reset)");
        ReportPrevious();
        WarmUp();
    }

    static void ReportPrevious()
    {
        CrashlogStatus status = RamCrashlog.Read(Area, out CrashlogRecord r);
        if (status == CrashlogStatus.None) return;
        if (status == CrashlogStatus.Damaged)
        {
            LogLine d = default;
            d.Append("previous crash: the record is damaged (");
            RamCrashlog.Describe(ref d, in r);
            d.Append("); not trusted");
            Log.Warn(ref d);
            return;
        }
        if (r.Reported)
        {
            Log.Info($"crashlog: the last record (generation {r.Generation}) was reported at an earlier boot");
            return;
        }
        LogLine id = default;
        BuildId.Append(ref id);
        bool sameBuild = Bytes.Equal(id.AsSpan(), r.BuildId);
        LogLine l = default;
        l.Append("previous crash: ");
        l.Append(r.Reason);
        l.Append(" (CPU ");
        l.AppendDecimal(r.CrashCpu);
        l.Append(") at ");
        WallTime.FromEpochSeconds((long)r.CrashTime, out int y, out int mo, out int dd, out int h, out int mi, out int s);
        l.AppendFormatted(y, "d4"); l.AppendChar('-'); l.AppendFormatted(mo, "d2"); l.AppendChar('-'); l.AppendFormatted(dd, "d2");
        l.AppendChar(' ');
        l.AppendFormatted(h, "d2"); l.AppendChar(':'); l.AppendFormatted(mi, "d2"); l.AppendChar(':'); l.AppendFormatted(s, "d2");
        l.Append(" UTC, ");
        l.AppendDecimal(r.UptimeNs / 1_000_000);
        l.Append(" ms after boot");
        l.Append(sameBuild ? ", this build" : ", build-id ");
        if (!sameBuild) l.Append(r.BuildId);
        Log.Warn(ref l);
        for (int i = 0; i < r.CpuCount; i++)
        {
            CrashlogCpu c = r.Cpu(i);
            LogLine cl = default;
            cl.Append("previous crash: CPU ");
            cl.AppendDecimal(c.Cpu);
            cl.Append(" apic ");
            cl.AppendDecimal(c.ApicId);
            if (c.Rip != 0)
            {
                cl.Append(" rip ");
                // Its symbols are this kernel's only if it is the same build.
                if (sameBuild) Symbols.Append(ref cl, c.Rip);
                else cl.AppendHex(c.Rip, 16);
                cl.Append(" rsp ");
                cl.AppendHex(c.Rsp, 16);
            }
            cl.Append(": ");
            new CpuStopStatus(c.Cpu, c.ApicId, c.State, c.WaitedMs, 0).Describe(ref cl);
            Log.Warn(ref cl);
        }
        ReportLogTail(r.Log);
        if (RamCrashlog.MarkReported(Area)) Log.Info("crashlog: record marked reported");
    }

    /// <summary>The last lines of the previous crash's log, each as "previous crash: log: ...".</summary>
    static void ReportLogTail(ReadOnlySpan<byte> log)
    {
        int lines = 0;
        for (int i = 0; i < log.Length; i++) if (log[i] == (byte)'\n') lines++;
        int skip = lines > PreviousLogLines ? lines - PreviousLogLines : 0;
        int start = 0;
        for (int i = 0; i < log.Length; i++)
        {
            if (log[i] != (byte)'\n') continue;
            if (skip > 0) skip--;
            else
            {
                LogLine l = default;
                l.Append("previous crash: log: ");
                l.Append(log.Slice(start, i - start));
                Log.Warn(ref l);
            }
            start = i + 1;
        }
    }

    /// <summary>
    /// The panicking CPU, after the shootdown, once: the record, whatever follows (a dump, a
    /// reboot, a halt). It is the one thing a failed capture kernel cannot take back.
    /// </summary>
    public static void Save()
    {
        if (s_area == 0 || Interlocked.Exchange(ref s_saved, 1) != 0) return;
        Write(Area, s_area);
    }

    static void Write(Span<byte> area, ulong address)
    {
        LogLine id = default;
        BuildId.Append(ref id);
        var w = new CrashlogWriter(area, (ulong)Clock.WallSeconds, Clock.NowNs, (uint)Panic.CrashCpu, Panic.Message, id.AsSpan(), SmpBoot.PossibleCount);
        for (int cpu = 0; cpu < SmpBoot.PossibleCount; cpu++)
        {
            CrashlogCpu c = default;
            c.Cpu = (uint)cpu;
            c.ApicId = PerCpuArea.Get(cpu)->ApicId;
            if (!StopStatus.Last(cpu, out c.State, out c.WaitedMs)) c.State = SmpBoot.IsOnline(cpu) ? CpuStopState.NeverAnswered : CpuStopState.NeverStarted;
            if (CrashNotes.Read(cpu, out PrStatusRegs regs))
            {
                c.Rip = regs[UserReg.Rip];
                c.Rsp = regs[UserReg.Rsp];
            }
            w.AddCpu(in c);
        }
        Span<byte> log = w.LogSpace;
        int n = Log.FormatTail(log.Length < LogTailBytes ? log : log.Slice(0, LogTailBytes));
        w.Commit(n, address);
    }

    /// <summary>One trial record into a scratch area at boot: under TCG the first run of code is its translation, which the crash path should not pay.</summary>
    static void WarmUp()
    {
        fixed (byte* p = s_scratch.Bytes)
        {
            var scratch = new Span<byte>(p, RamCrashlog.Size);
            Write(scratch, (ulong)p);
            // No second record in memory: a search of a memory image (inspect --crashlog) finds the real one.
            scratch.Slice(0, RamCrashlog.PayloadOffset).Clear();
        }
    }
}
