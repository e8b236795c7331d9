// makedumpfile-style filtering (kernel/dump/DumpFilter.cs) on fake memory: each level keeps what it
// must (owned and named ranges whole, every byte readable back through the vmcore reader), leaves
// out what it may (free pages: no PT_LOAD; zero pages: p_memsz past p_filesz), and the numbers it
// reports add up. A vmcore is built from each plan with the capture kernel's own writers.
namespace Kernel.Tests;

public unsafe class DumpFilterTests
{
    const ulong Page = 4096;

    /// <summary>A machine of <paramref name="pages"/> pages from 0, RAM in two ranges with a hole; page i holds data when data(i).</summary>
    sealed class Machine : IDisposable
    {
        public readonly AcpiMemory Memory;
        public readonly LoadSegment[] Ram;

        public Machine(int pages, Func<int, bool> data)
        {
            Memory = new AcpiMemory(0, (ulong)pages * Page);
            for (int i = 0; i < pages; i++)
                if (data(i)) Memory.Write((ulong)i * Page + (ulong)(i % 7) * 8, BitConverter.GetBytes(0xA5A5_0000UL + (ulong)i));
            // [1 page, 40% of it), then [55%, end): a hole in the middle, as the PCI hole splits real RAM.
            ulong a = (ulong)(pages * 2 / 5) * Page, b = (ulong)(pages * 11 / 20) * Page, end = (ulong)pages * Page;
            Ram = [new(Page, Page, a - Page), new(b, b, end - b)];
        }

        public PhysicalWindow Window => Memory.Window;
        public void Dispose() => Memory.Dispose();

        public (LoadSegment[] Segments, DumpFilterStats Stats) Plan(int level, PhysRange[] owned, PhysRange[] named, int room = 4096)
        {
            var into = new LoadSegment[room];
            Assert.True(DumpFilter.Plan(level, Ram, owned, named, Window, into, out int n, out DumpFilterStats stats, out ElfCoreError error),
                Describe(error));
            return (into[..n], stats);
        }

        /// <summary>The vmcore file of a plan: prefix from the kernel's writer, then each segment's file bytes.</summary>
        public byte[] Vmcore(LoadSegment[] segments)
        {
            Assert.True(global::Vmcore.ComputeLayout(0, segments, out VmcoreLayout layout, out ElfCoreError error), Describe(error));
            var file = new byte[layout.FileSize];
            Assert.True(global::Vmcore.WritePrefix(file.AsSpan(0, (int)layout.LoadsOffset), layout, [], segments, Window, out error), Describe(error));
            for (int i = 0; i < segments.Length; i++)
            {
                ulong at = global::Vmcore.LoadOffset(layout, segments, i);
                Memory.At(segments[i].PhysAddr, (int)segments[i].FileSize).CopyTo(file.AsSpan((int)at));
            }
            return file;
        }
    }

    static string Describe(ElfCoreError e)
    {
        var l = new LogLine(0, 0);
        e.Describe(ref l);
        return System.Text.Encoding.ASCII.GetString(l.AsSpan());
    }

    static bool InAny(PhysRange[] ranges, ulong pa, bool roundToPages)
    {
        foreach (var r in ranges)
        {
            ulong s = roundToPages ? r.Start & ~(Page - 1) : r.Start;
            ulong e = roundToPages ? (r.Start + r.Size + Page - 1) & ~(Page - 1) : r.Start + r.Size;
            if (pa >= s && pa < e) return true;
        }
        return false;
    }

    [Fact]
    public void LevelZero_IsTheFullDump_OneSegmentPerRange()
    {
        using var m = new Machine(256, i => i % 3 == 0);
        var (segments, stats) = m.Plan(0, [], []);
        Assert.Equal(m.Ram.Length, segments.Length);
        for (int i = 0; i < segments.Length; i++)
        {
            Assert.Equal(m.Ram[i].PhysAddr, segments[i].PhysAddr);
            Assert.Equal(m.Ram[i].Size, segments[i].Size);
            Assert.Equal(segments[i].Size, segments[i].FileSize);
        }
        Assert.Equal(stats.RamBytes, stats.DataBytes);
        Assert.Equal(0UL, stats.ZeroBytes + stats.FreeBytes);
    }

    [Fact]
    public void FreePages_AreLeftOut_OwnedRoundedToPages_AndNamedKept()
    {
        using var m = new Machine(256, _ => true);
        // Owned: pages 10.5-20.2 (rounded out to 10-21); named: page 200 (inside RAM's second range).
        PhysRange[] owned = [new(10 * Page + 2048, 9 * Page + 3000)];
        PhysRange[] named = [new(200 * Page + 100, 16)];
        var (segments, stats) = m.Plan(DumpFilter.FreePages, owned, named);
        Assert.Equal([(10 * Page, 11 * Page), (200 * Page, Page)], segments.Select(s => (s.PhysAddr, s.Size)));
        Assert.All(segments, s => Assert.Equal(s.Size, s.FileSize));
        Assert.Equal(12 * Page, stats.DataBytes);
        Assert.Equal(stats.RamBytes - 12 * Page, stats.FreeBytes);
    }

    [Fact]
    public void ZeroPages_BecomeTheTailsOfSegments_WhileNamedZeroPagesStayData()
    {
        // Pages 1..9: data at 1-2, zeros at 3-5, data at 6, zeros 7-9.
        using var m = new Machine(100, i => i is 1 or 2 or 6);
        PhysRange[] owned = [new(Page, 9 * Page)];
        var (segments, stats) = m.Plan(DumpFilter.ZeroPages | DumpFilter.FreePages, owned, []);
        Assert.Equal([(1 * Page, 5 * Page, 2 * Page), (6 * Page, 4 * Page, Page)], segments.Select(s => (s.PhysAddr, s.Size, s.FileSize)));
        Assert.Equal(3 * Page, stats.DataBytes);
        Assert.Equal(6 * Page, stats.ZeroBytes);

        // The same with page 4 named (a log buffer, say): zero, but kept as data, so it starts a segment.
        (segments, stats) = m.Plan(DumpFilter.ZeroPages | DumpFilter.FreePages, owned, [new(4 * Page + 8, 8)]);
        Assert.Equal([(1 * Page, 3 * Page, 2 * Page), (4 * Page, 2 * Page, Page), (6 * Page, 4 * Page, Page)],
            segments.Select(s => (s.PhysAddr, s.Size, s.FileSize)));
        Assert.Equal(4 * Page, stats.DataBytes);
    }

    [Fact]
    public void LeadingZeroPages_AreASegmentWithNoFileBytes()
    {
        using var m = new Machine(64, i => i == 5);
        var (segments, _) = m.Plan(DumpFilter.ZeroPages | DumpFilter.FreePages, [new(2 * Page, 5 * Page)], []);
        Assert.Equal([(2 * Page, 3 * Page, 0UL), (5 * Page, 2 * Page, Page)], segments.Select(s => (s.PhysAddr, s.Size, s.FileSize)));
    }

    [Fact]
    public void AFullList_JoinsNeighbours_AndStillKeepsEveryByte()
    {
        // Alternating data and zero pages: one segment per data page, far more than room for.
        using var m = new Machine(512, i => i % 2 == 0);
        var (segments, stats) = m.Plan(DumpFilter.ZeroPages, [], [], room: 16);
        Assert.True(segments.Length <= 16);
        Assert.True(stats.Merges > 0);
        byte[] file = m.Vmcore(segments);
        Assert.True(VmcoreFile.Open(file, out VmcoreFile core, out _));
        foreach (var r in m.Ram)
        {
            var back = new byte[r.Size];
            Assert.Equal((int)r.Size, core.ReadPhysical(r.PhysAddr, back));
            Assert.Equal(m.Memory.At(r.PhysAddr, (int)r.Size).ToArray(), back);
        }
        Assert.Equal(stats.DataBytes, core.LoadFileBytes);
    }

    [Fact]
    public void NothingLeftToJoin_IsAnError_NotASilentDrop()
    {
        // Every kept page stands alone (free pages between them): segments cannot be joined.
        using var m = new Machine(128, _ => true);
        PhysRange[] owned = Enumerable.Range(0, 20).Select(i => new PhysRange((ulong)(2 + 2 * i) * Page, Page)).ToArray();
        var into = new LoadSegment[8];
        Assert.False(DumpFilter.Plan(DumpFilter.FreePages, m.Ram, owned, [], m.Window, into, out _, out _, out ElfCoreError error));
        Assert.Equal(ElfCoreErrorCode.TooManyLoads, error.Code);
    }

    [Fact]
    public void MemoryOutsideTheWindow_IsNamed()
    {
        using var m = new Machine(64, _ => false);
        LoadSegment[] ram = [new(Page, Page, 128 * Page)];
        Assert.False(DumpFilter.Plan(DumpFilter.ZeroPages, ram, [], [], m.Window, new LoadSegment[64], out _, out _, out ElfCoreError error));
        Assert.Equal(ElfCoreErrorCode.MemoryUnreadable, error.Code);
        Assert.Equal(64 * Page, error.A);
        Assert.Contains("cannot be read", Describe(error));
    }

    /// <summary>
    /// Random memory, random owned and named ranges, every level: the vmcore holds every byte it
    /// keeps, no free page at level 16, and the reported sizes add up to the RAM.
    /// </summary>
    [Fact]
    public void Property_EveryLevelKeepsWhatItMust_AndLeavesOutOnlyWhatItMay()
    {
        var random = new Random(1313);
        for (int round = 0; round < 60; round++)
        {
            int pages = random.Next(16, 300);
            var dataPages = Enumerable.Range(0, pages).Select(_ => random.Next(3) == 0).ToArray();
            using var m = new Machine(pages, i => dataPages[i]);
            ulong end = (ulong)pages * Page;
            PhysRange Any() { ulong s = (ulong)random.NextInt64(0, (long)end - 1); return new(s, (ulong)random.NextInt64(1, (long)Math.Min(end - s, 20 * Page) + 1)); }
            PhysRange[] owned = Enumerable.Range(0, random.Next(0, 6)).Select(_ => Any()).ToArray();
            PhysRange[] named = Enumerable.Range(0, random.Next(0, 4)).Select(_ => Any()).ToArray();
            int level = new[] { 0, 1, 16, 17, 31, 2, 4, 8 }[random.Next(8)];
            var (segments, stats) = m.Plan(level, owned, named, room: random.Next(2) == 0 ? 4096 : 6);
            byte[] file = m.Vmcore(segments);
            Assert.True(VmcoreFile.Open(file, out VmcoreFile core, out ElfCoreError error), Describe(error));

            Assert.Equal(stats.RamBytes, stats.DataBytes + stats.ZeroBytes + stats.FreeBytes);
            Assert.Equal(stats.DataBytes, core.LoadFileBytes);
            Assert.Equal(segments.Length, stats.Segments);
            for (int i = 1; i < segments.Length; i++) Assert.True(segments[i - 1].End <= segments[i].PhysAddr, $"round {round}: segments overlap or go back");
            if ((level & DumpFilter.ZeroPages) == 0) Assert.Equal(0UL, stats.ZeroBytes);
            if ((level & DumpFilter.FreePages) == 0) Assert.Equal(0UL, stats.FreeBytes);

            var one = new byte[1];
            foreach (var r in m.Ram)
                for (ulong pa = r.PhysAddr; pa < r.End; pa += Page / 4)
                {
                    bool kept = (level & DumpFilter.FreePages) == 0 || InAny(owned, pa, true) || InAny(named, pa, true);
                    int got = core.ReadPhysical(pa, one);
                    if (!kept)
                    {
                        Assert.True(got == 0, $"round {round}, level {level}: free page 0x{pa:x} is in the dump");
                        continue;
                    }
                    Assert.True(got == 1, $"round {round}, level {level}: kept 0x{pa:x} is missing");
                    Assert.Equal(m.Memory.At(pa, 1)[0], one[0]);
                }
            // Named bytes are file bytes, never a zero tail.
            foreach (var n in named)
                for (ulong pa = n.Start; pa < n.Start + n.Size; pa += 97)
                {
                    var s = segments.FirstOrDefault(g => pa >= g.PhysAddr && pa < g.End);
                    if (s.Size != 0) Assert.True(pa < s.PhysAddr + s.FileSize, $"round {round}: named 0x{pa:x} left as a hole");
                }
        }
    }

    [Fact]
    public void TheNote_RoundTripsItsNumbers_AndNamesTheLevel()
    {
        var stats = new DumpFilterStats { Level = 31, RamBytes = 1UL << 30, DataBytes = 5 << 20, ZeroBytes = 20 << 20, FreeBytes = (1UL << 30) - (25 << 20), Segments = 12 };
        var text = new byte[256];
        int n = DumpFilter.WriteNoteText(text, stats);
        Assert.True(n > 0);
        var note = new byte[512];
        int size = ElfNote.Write(note, DumpFilter.NoteName, DumpFilter.NoteType, text.AsSpan(0, n));
        Assert.True(DumpFilter.ReadNote(note.AsSpan(0, size), out DumpFilterStats back));
        Assert.Equal(stats, back);
        Assert.False(DumpFilter.ReadNote(new byte[64], out _));

        var l = new LogLine(0, 0);
        DumpFilter.DescribeLevel(ref l, 31);
        Assert.Equal("zero pages as holes, free pages left out", Ascii.Of(l.AsSpan()));
        l = new LogLine(0, 0);
        DumpFilter.DescribeLevel(ref l, 0);
        Assert.Equal("full dump: every page of RAM in the file", Ascii.Of(l.AsSpan()));
        l = new LogLine(0, 0);
        DumpFilter.DescribeLevel(ref l, 14);     // bits 2, 4, 8: accepted, nothing to match here
        Assert.Equal("full dump: every page of RAM in the file", Ascii.Of(l.AsSpan()));
    }
}
