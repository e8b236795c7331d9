// The RAM crashlog's format (kernel/dump/RamCrashlog.cs): a record written and read back whole, the
// double-buffered header (slots used in turn, the newer whole one wins, "reported" rewrites only
// the header), and damage anywhere reported as damaged, never read as a different record.
using System.Text;
using CsCheck;

public class RamCrashlogTests
{
    const ulong Address = 0x7fd8000;

    static byte[] Written(string reason = "NMI: Not continuing", int cpus = 3, string log = "[    0.1] a\n[    0.2] b\n")
    {
        var area = new byte[RamCrashlog.Size];
        var w = new CrashlogWriter(area, 1_700_000_000, 3_200_000_000, 1, Encoding.ASCII.GetBytes(reason), "5faedf02"u8, cpus);
        for (int i = 0; i < cpus; i++)
            w.AddCpu(new CrashlogCpu { Cpu = (uint)i, ApicId = (uint)i * 2, State = i == 1 ? CpuStopState.Panicking : CpuStopState.Answered, Rip = 0x100459UL + (ulong)i, Rsp = 0x160e28UL + (ulong)i });
        byte[] text = Encoding.ASCII.GetBytes(log);
        text.CopyTo(w.LogSpace);
        w.Commit(text.Length, Address);
        return area;
    }

    [Fact]
    public void ARecord_ReadsBackWhole()
    {
        var area = Written();
        Assert.Equal(CrashlogStatus.Valid, RamCrashlog.Read(area, out var r));
        Assert.Equal(("NMI: Not continuing", "5faedf02", 1u, 1_700_000_000UL, 3_200_000_000UL, Address, 1u, false),
            (Encoding.ASCII.GetString(r.Reason), Encoding.ASCII.GetString(r.BuildId), r.CrashCpu, r.CrashTime, r.UptimeNs, r.AreaAddress, r.Generation, r.Reported));
        Assert.Equal(3, r.CpuCount);
        var c = r.Cpu(1);
        Assert.Equal((1u, 2u, CpuStopState.Panicking, 0x10045aUL, 0x160e29UL), (c.Cpu, c.ApicId, c.State, c.Rip, c.Rsp));
        Assert.Equal("[    0.1] a\n[    0.2] b\n", Encoding.ASCII.GetString(r.Log));
        Assert.True(RamCrashlog.LooksLikeArea(area));
    }

    [Fact]
    public void FreshOrZeroedMemory_HoldsNoRecord()
    {
        Assert.Equal(CrashlogStatus.None, RamCrashlog.Read(new byte[RamCrashlog.Size], out _));
        Assert.Equal(CrashlogStatus.None, RamCrashlog.Read(new byte[100], out _));
        Assert.False(RamCrashlog.LooksLikeArea(new byte[RamCrashlog.Size]));
    }

    [Fact]
    public void ABadPayloadCrc_IsDamaged_WithBothCrcs()
    {
        var area = Written();
        area[RamCrashlog.PayloadOffset + 40] ^= 0x20;
        Assert.Equal(CrashlogStatus.Damaged, RamCrashlog.Read(area, out var r));
        Assert.Equal(CrashlogProblem.PayloadCrc, r.Problem);
        Assert.NotEqual(r.ExpectedCrc, r.ActualCrc);
        LogLine l = default;
        RamCrashlog.Describe(ref l, in r);
        Assert.Matches("^payload CRC 0x[0-9a-f]{8}, the header says 0x[0-9a-f]{8}$", Encoding.ASCII.GetString(l.AsSpan()));
    }

    [Fact]
    public void ABadHeaderCrc_InTheOnlySlot_IsDamaged()
    {
        var area = Written();
        int slot = area[0] == (byte)'N' ? 0 : RamCrashlog.HeaderSlotSize;
        area[slot + 16] ^= 1;
        Assert.Equal(CrashlogStatus.Damaged, RamCrashlog.Read(area, out var r));
        Assert.Equal(CrashlogProblem.HeaderCrc, r.Problem);
    }

    [Fact]
    public void Reported_RewritesOnlyTheOtherHeaderSlot_AndTheOlderSlotStaysWhole()
    {
        var area = Written();
        var before = (byte[])area.Clone();
        Assert.True(RamCrashlog.MarkReported(area));
        Assert.Equal(CrashlogStatus.Valid, RamCrashlog.Read(area, out var r));
        Assert.True(r.Reported);
        Assert.Equal(2u, r.Generation);
        Assert.Equal(before.AsSpan(RamCrashlog.PayloadOffset).ToArray(), area.AsSpan(RamCrashlog.PayloadOffset).ToArray());
        // The first slot is untouched: a torn write of the second leaves the record, unreported.
        Assert.Equal(before.AsSpan(0, RamCrashlog.HeaderSlotSize).ToArray(), area.AsSpan(0, RamCrashlog.HeaderSlotSize).ToArray());
        area[RamCrashlog.HeaderSlotSize + 30] ^= 0xFF;
        Assert.Equal(CrashlogStatus.Valid, RamCrashlog.Read(area, out r));
        Assert.False(r.Reported);
    }

    [Fact]
    public void ANewCrash_OverAReportedOne_IsNewAndUnreported()
    {
        var area = Written("first");
        RamCrashlog.MarkReported(area);
        var w = new CrashlogWriter(area, 1, 2, 0, "second"u8, "id"u8, 1);
        w.AddCpu(new CrashlogCpu { Cpu = 0, State = CpuStopState.Panicking });
        w.Commit(0, Address);
        Assert.Equal(CrashlogStatus.Valid, RamCrashlog.Read(area, out var r));
        Assert.Equal(("second", 3u, false), (Encoding.ASCII.GetString(r.Reason), r.Generation, r.Reported));
    }

    [Fact]
    public void ATooLongLog_IsCutToTheArea_AndStillReads()
    {
        var area = new byte[RamCrashlog.Size];
        var w = new CrashlogWriter(area, 1, 2, 0, new byte[400], new byte[100], 255);
        for (int i = 0; i < 255; i++) w.AddCpu(new CrashlogCpu { Cpu = (uint)i });
        w.LogSpace.Fill((byte)'x');
        w.Commit(1 << 20, Address);
        Assert.Equal(CrashlogStatus.Valid, RamCrashlog.Read(area, out var r));
        Assert.Equal((RamCrashlog.MaxReason, RamCrashlog.MaxBuildId, 255), (r.Reason.Length, r.BuildId.Length, r.CpuCount));
        Assert.True(r.Log.Length > 0);
    }

    [Fact]
    public void DamageToAnyByteInUse_IsNeverReadAsAnotherRecord()
    {
        var original = Written();
        Assert.Equal(CrashlogStatus.Valid, RamCrashlog.Read(original, out var good));
        int used = RamCrashlog.PayloadOffset + 32 + 19 + 8 + 5 + 3 * 32 + 24;
        Gen.Select(Gen.Int[0, used - 1], Gen.Byte[1, 255]).Sample((at, flip) =>
        {
            if (at >= RamCrashlog.HeaderSlotSize && at < RamCrashlog.PayloadOffset) return;   // the second slot (never written yet) and the gap: unused
            var area = (byte[])original.Clone();
            area[at] ^= flip;
            var status = RamCrashlog.Read(area, out var r);
            Assert.NotEqual(CrashlogStatus.Valid, status);
        });
    }
}
