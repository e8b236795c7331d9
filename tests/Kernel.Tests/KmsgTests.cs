// Kmsg: the log ring (kernel/printk/Kmsg.cs). The writer is checked against a model of what the ring must
// hold after many wrap-arounds; the reader is fed corrupt and random areas, as the capture kernel
// and the host inspector will be, and must neither throw nor run forever. Concurrent writers and
// the property test are in KmsgConcurrencyTests.cs.
using System.Runtime.InteropServices;
using System.Text;

namespace Kernel.Tests;

public class KmsgTests
{
    internal static byte[] NewRing(int capacity)
    {
        var area = new byte[Kmsg.HeaderSize + capacity];
        Assert.True(Kmsg.Init(area));
        return area;
    }

    internal static ulong Append(byte[] area, ulong ts, string text, int cpu = 0) =>
        Kmsg.Append(area, ts, Encoding.ASCII.GetBytes(text), KernLevel.Info, cpu);

    internal static List<(ulong Seq, ulong Ts, string Text)> ReadAll(byte[] area, out bool corrupt) => ReadAll(area, out corrupt, out _);

    internal static List<(ulong Seq, ulong Ts, string Text)> ReadAll(byte[] area, out bool corrupt, out ulong unfinished)
    {
        var list = new List<(ulong, ulong, string)>();
        var reader = Kmsg.Read(area);
        while (reader.MoveNext())
        {
            var r = reader.Current;
            list.Add((r.Seq, r.TimestampNs, Ascii.Of(r.Text)));
        }
        corrupt = reader.Corrupt;
        unfinished = reader.Unfinished;
        return list;
    }

    internal static KmsgHeader Header(byte[] area)
    {
        Assert.True(Kmsg.ReadHeader(area, out var h));
        return h;
    }

    [Fact]
    public void EveryRecordKeepsItsLevelAndCpu_AndAnImpossibleLevelIsDamageThatTheWalkSkips()
    {
        var area = NewRing(4096);
        for (int i = 0; i < 8; i++) Kmsg.Append(area, (ulong)i, Encoding.ASCII.GetBytes($"level {i}"), (KernLevel)i, cpu: 10 + i);
        Kmsg.Append(area, 9, "plain"u8);
        var levels = new List<(KernLevel, int)>();
        var reader = Kmsg.Read(area);
        while (reader.MoveNext()) levels.Add((reader.Current.Level, reader.Current.Cpu));
        Assert.False(reader.Corrupt);
        Assert.Equal(Enumerable.Range(0, 8).Select(i => ((KernLevel)i, 10 + i)).Append((KernLevel.Info, 0)), levels);

        // The level byte of the first record (record header offset 26) set to 8: not a level Linux has.
        area[Kmsg.HeaderSize + 26] = 8;
        var all = ReadAll(area, out bool corrupt);
        Assert.True(corrupt);
        Assert.Equal(Enumerable.Range(1, 7).Select(i => $"level {i}").Append("plain"), all.Select(r => r.Text));
    }

    [Fact]
    public void HeaderLayout_IsTheDocumented64Bytes()
    {
        Assert.Equal(64, Marshal.SizeOf<KmsgHeader>());
        Assert.Equal(0, (int)Marshal.OffsetOf<KmsgHeader>(nameof(KmsgHeader.Magic)));
        Assert.Equal(12, (int)Marshal.OffsetOf<KmsgHeader>(nameof(KmsgHeader.Capacity)));
        Assert.Equal(16, (int)Marshal.OffsetOf<KmsgHeader>(nameof(KmsgHeader.Head)));
        Assert.Equal(24, (int)Marshal.OffsetOf<KmsgHeader>(nameof(KmsgHeader.Tail)));
        Assert.Equal(32, (int)Marshal.OffsetOf<KmsgHeader>(nameof(KmsgHeader.Dropped)));
        Assert.Equal(40, (int)Marshal.OffsetOf<KmsgHeader>(nameof(KmsgHeader.Lost)));

        var area = NewRing(1024);
        Assert.Equal("KMSG", Encoding.ASCII.GetString(area, 0, 4));
        var h = Header(area);
        Assert.Equal(3u, h.Version);
        Assert.Equal(64u, h.DataOffset);
        Assert.Equal(1024u, h.Capacity);
        Assert.Equal(1024u, h.MaxText);
        Assert.Equal(32u, h.RecordHeader);
        Assert.Equal(1088UL, Kmsg.AreaSize(area));

        // One record: its header names itself (seq 0 at unit 0), then length, state, meta, text.
        Append(area, 77, "hello", cpu: 3);
        Assert.Equal(0UL, BitConverter.ToUInt64(area, 64));
        Assert.Equal(48u, BitConverter.ToUInt32(area, 64 + 8));
        Assert.Equal(Kmsg.StateCommitted, BitConverter.ToUInt32(area, 64 + 12));
        Assert.Equal(77UL, BitConverter.ToUInt64(area, 64 + 16));
        Assert.Equal(5, BitConverter.ToUInt16(area, 64 + 24));
        Assert.Equal(3, BitConverter.ToUInt16(area, 64 + 28));
        Assert.Equal("hello", Encoding.ASCII.GetString(area, 64 + 32, 5));
        Assert.Equal(Kmsg.Pack(1, 3), BitConverter.ToUInt64(area, 16));   // Head: seq 1 at unit 3 (48 bytes)
    }

    [Fact]
    public void Init_RoundsCapacityDownToAPowerOfTwoAndRejectsTinyOrMisalignedAreas()
    {
        var area = new byte[64 + 1000];
        Assert.True(Kmsg.Init(area));
        Assert.Equal(512u, Header(area).Capacity);

        Assert.False(Kmsg.Init(new byte[Kmsg.HeaderSize + Kmsg.MinCapacity - 1]));
        var big = new byte[4096];
        Assert.False(Kmsg.Init(big.AsSpan(1, 4000)));   // arrays are 8-aligned, so +1 is not
        Assert.True(Kmsg.Init(big.AsSpan(8, 4000)));
    }

    [Fact]
    public void Append_ToAnUninitialisedAreaReturnsNoSeqAndWritesNothing()
    {
        var area = new byte[4096];
        Assert.Equal(Kmsg.NoSeq, Append(area, 1, "lost"));
        Assert.All(area, b => Assert.Equal(0, b));
        Assert.Equal(Kmsg.NoSeq, Kmsg.Append(new byte[10], 1, "x"u8));
        Assert.Equal(Kmsg.NoSeq, Kmsg.NextSeq(area));
    }

    [Fact]
    public void Append_NumbersRecordsFromZeroAndReadsThemBackInOrder()
    {
        var area = NewRing(4096);
        Assert.Equal(0UL, Append(area, 100, "first"));
        Assert.Equal(1UL, Append(area, 200, "second"));
        Assert.Equal(2UL, Append(area, 300, ""));
        var all = ReadAll(area, out bool corrupt);
        Assert.False(corrupt);
        Assert.Equal([(0UL, 100UL, "first"), (1UL, 200UL, "second"), (2UL, 300UL, "")], all);
        Assert.Equal(3UL, Header(area).NextSeq);
        Assert.Equal(3UL, Kmsg.NextSeq(area));
        Assert.Equal(0UL, Header(area).Dropped);
        Assert.Equal(3UL, Kmsg.Count(area));
        Assert.Equal(3UL, Kmsg.Pending(area));
    }

    [Fact]
    public void WrapAround_ManyTimes_KeepsTheNewestRecordsAndCountsTheDropped()
    {
        var random = new Random(42);
        var area = NewRing(1024);
        var model = new List<(ulong Seq, ulong Ts, string Text)>();
        for (int i = 0; i < 20000; i++)
        {
            string text = "line " + i + " " + new string((char)('a' + i % 26), random.Next(0, 90));
            ulong seq = Append(area, (ulong)i * 1000, text);
            Assert.Equal((ulong)i, seq);
            model.Add((seq, (ulong)i * 1000, text));

            var all = ReadAll(area, out bool corrupt);
            Assert.False(corrupt);
            int droppedNow = model.Count - all.Count;
            model.RemoveRange(0, droppedNow);
            Assert.Equal(model, all);
            // Records are dropped only as far as needed: had one fewer been dropped the new record
            // (and a filler before it) would not have fitted.
            var h = Header(area);
            if (droppedNow > 0) Assert.True(Kmsg.Distance(h.Tail, h.Head) > 1024 - 2 * 144, $"ring emptied too far at {i}");
        }
        var end = Header(area);
        Assert.Equal(20000UL, end.NextSeq);
        Assert.Equal(20000UL, end.Dropped + (ulong)model.Count);
        Assert.Equal(end.Dropped, end.FirstSeq);
        Assert.Equal(0UL, end.Lost);
    }

    [Fact]
    public void Dropping_IsMinimal_AFullRingLosesOnlyWhatTheNewRecordNeeds()
    {
        var area = NewRing(512);                     // sixteen records of 32 bytes (no text)
        for (int i = 0; i < 16; i++) Append(area, 0, "");
        Assert.Equal(16UL, Kmsg.Count(area));
        Append(area, 0, "");
        Assert.Equal(16UL, Kmsg.Count(area));
        Assert.Equal(1UL, Header(area).Dropped);
        Append(area, 0, new string('x', 40));       // 80 bytes: three old records must go
        Assert.Equal(4UL, Header(area).Dropped);
        Assert.Equal(14UL, Kmsg.Count(area));
    }

    [Fact]
    public void RecordThatDoesNotFitBeforeTheEnd_GoesToOffsetZeroBehindAFiller()
    {
        var area = NewRing(256);
        Append(area, 1, new string('a', 80));       // 112 bytes each
        Append(area, 2, new string('b', 80));       // 32 bytes left at the end
        Append(area, 3, new string('c', 80));       // does not fit: the first goes, a filler, then offset 0
        Assert.Equal(Kmsg.StateFiller, BitConverter.ToUInt32(area, 64 + 224 + 12));
        Assert.Equal(32u, BitConverter.ToUInt32(area, 64 + 224 + 8));
        Assert.Equal(Kmsg.Pack(2, 14), BitConverter.ToUInt64(area, 64 + 224));    // the filler carries the next record's number
        Assert.Equal(Kmsg.Pack(2, 16), BitConverter.ToUInt64(area, 64));
        var all = ReadAll(area, out bool corrupt);
        Assert.False(corrupt);
        Assert.Equal([(1UL, 2UL, new string('b', 80)), (2UL, 3UL, new string('c', 80))], all);
        Assert.Equal(1UL, Header(area).Dropped);
    }

    [Fact]
    public void LongText_IsCutTo1024Bytes_AndToHalfATinyRing()
    {
        var area = NewRing(8192);
        Append(area, 5, new string('q', 5000));
        var all = ReadAll(area, out _);
        Assert.Single(all);
        Assert.Equal(new string('q', 1024), all[0].Text);

        var tiny = NewRing(Kmsg.MinCapacity);
        for (int i = 0; i < 5; i++) Assert.Equal((ulong)i, Append(tiny, 1, "0123456789abcdefghijklmnopqrstuvwxyz" + i));
        all = ReadAll(tiny, out bool corrupt);
        Assert.False(corrupt);
        Assert.Equal("0123456789abcdefghijklmnopqrstuv", all[^1].Text);   // 64 - 32 bytes of text
        Assert.Equal(4UL, all[^1].Seq);
    }

    [Fact]
    public void ReadLast_ReturnsTheNewestNOldestFirst_AndReadFromStartsAtASequenceNumber()
    {
        var area = NewRing(1024);
        for (int i = 0; i < 100; i++) Append(area, (ulong)i, "msg " + i);
        ulong total = Kmsg.Count(area);
        Assert.True(total is > 3 and < 100);

        var last = new List<string>();
        foreach (var r in Kmsg.ReadLast(area, 3)) last.Add(Ascii.Of(r.Text));
        Assert.Equal(["msg 97", "msg 98", "msg 99"], last);

        int n = 0;
        foreach (var r in Kmsg.ReadLast(area, 1000)) n++;
        Assert.Equal((int)total, n);
        foreach (var r in Kmsg.ReadLast(area, 0)) Assert.Fail("no record expected");
        foreach (var r in Kmsg.ReadLast(area, -5)) Assert.Fail("no record expected");

        var from = new List<ulong>();
        foreach (var r in Kmsg.ReadFrom(area, 95)) from.Add(r.Seq);
        Assert.Equal([95UL, 96, 97, 98, 99], from);
        foreach (var r in Kmsg.ReadFrom(area, 100)) Assert.Fail("no record expected");
    }

    [Theory]
    [InlineData(0UL, "[    0.000000] ")]
    [InlineData(1234000UL, "[    0.001234] ")]
    [InlineData(1999UL, "[    0.000001] ")]
    [InlineData(12_345_678_901UL, "[   12.345678] ")]
    [InlineData(99_999_999_999_999UL, "[99999.999999] ")]
    [InlineData(123_456_000_000_000UL, "[123456.000000] ")]
    [InlineData(ulong.MaxValue, "[18446744073.709551] ")]
    public void Prefix_IsLinuxsPrintTimeFormat(ulong ns, string expected)
    {
        var line = new LogLine(0, 0);
        Kmsg.AppendPrefix(ref line, ns);
        Assert.Equal(expected, Ascii.Of(line));
    }

    [Fact]
    public void Prefix_MatchesPrintfFormatForRandomTimestamps()
    {
        var random = new Random(7);
        for (int i = 0; i < 1000; i++)
        {
            ulong ns = (ulong)random.NextInt64() >> random.Next(0, 40);
            string expected = string.Format("[{0,5}.{1:D6}] ", ns / 1_000_000_000, ns % 1_000_000_000 / 1000);
            var line = new LogLine(0, 0);
            Kmsg.AppendPrefix(ref line, ns);
            Assert.Equal(expected, Ascii.Of(line));
        }
    }

    [Fact]
    public void FormatRecord_WritesPrefixAndSanitisedTextAndCutsToTheDestination()
    {
        var dest = new byte[64];
        int n = Kmsg.FormatRecord(1234000, "smp: Brought up 1 node\n\x01"u8, dest);
        Assert.Equal("[    0.001234] smp: Brought up 1 node??", Encoding.ASCII.GetString(dest, 0, n));

        var small = new byte[20];
        n = Kmsg.FormatRecord(1234000, "0123456789"u8, small);
        Assert.Equal(20, n);
        Assert.Equal("[    0.001234] 01234", Encoding.ASCII.GetString(small));

        Assert.Equal(0, Kmsg.FormatRecord(0, "x"u8, Span<byte>.Empty));
    }

    [Fact]
    public void Reader_RejectsBadHeaders()
    {
        var good = NewRing(512);
        Append(good, 1, "x");

        void Expect(Action<byte[]> damage)
        {
            var area = (byte[])good.Clone();
            damage(area);
            Assert.False(Kmsg.ReadHeader(area, out _));
            var reader = Kmsg.Read(area);
            Assert.False(reader.MoveNext());
            Assert.True(reader.Corrupt);
            Assert.Equal(0UL, Kmsg.Count(area));
        }

        Expect(a => a[0] ^= 1);                                  // magic
        Expect(a => a[4] = 2);                                   // version 2 (one writer, a lock): not this layout
        Expect(a => BitConverter.TryWriteBytes(a.AsSpan(8), 60u));   // data offset below the header
        Expect(a => BitConverter.TryWriteBytes(a.AsSpan(12), 4096u)); // capacity past the area
        Expect(a => BitConverter.TryWriteBytes(a.AsSpan(12), 384u));  // capacity not a power of two
        Expect(a => BitConverter.TryWriteBytes(a.AsSpan(16), Kmsg.Pack(1, 100)));  // head a whole ring past tail
        Expect(a => BitConverter.TryWriteBytes(a.AsSpan(24), Kmsg.Pack(5, 0)));    // tail's number past head's
        Expect(a => BitConverter.TryWriteBytes(a.AsSpan(16), Kmsg.Pack(9, 2)));    // nine records in 32 bytes
        Assert.False(Kmsg.ReadHeader(good.AsSpan(0, 63), out _));
        Assert.False(Kmsg.ReadHeader(good.AsSpan(0, 100), out _));  // record area cut off
    }

    [Fact]
    public void Reader_SkipsACorruptRecordAndKeepsWhatCameBeforeAndAfter()
    {
        var area = NewRing(4096);
        for (int i = 0; i < 5; i++) Append(area, (ulong)i, "record " + i);
        int third = Kmsg.HeaderSize + 2 * 48;                   // each record is 32 + 16 = 48 bytes
        Assert.Equal(48u, BitConverter.ToUInt32(area, third + 8));
        area[third + 8] = 64;                                    // length no longer matches the text
        var all = ReadAll(area, out bool corrupt);
        Assert.True(corrupt);
        Assert.Equal(["record 0", "record 1", "record 3", "record 4"], all.Select(r => r.Text));

        area[third + 8] = 48;
        BitConverter.TryWriteBytes(area.AsSpan(third), Kmsg.Pack(77, 6));   // a header naming another record
        all = ReadAll(area, out corrupt, out ulong unfinished);
        Assert.False(corrupt);                                   // indistinguishable from a claim never written
        Assert.Equal(1UL, unfinished);
        Assert.Equal(4, all.Count);
        Assert.Equal([0UL, 1, 3, 4], all.Select(r => r.Seq));
    }

    [Fact]
    public void Reader_FedRandomBytesBehindAValidLookingHeader_NeverThrowsOrLoops()
    {
        var random = new Random(20240611);
        for (int iteration = 0; iteration < 3000; iteration++)
        {
            int capacity = 1 << random.Next(7, 13);
            var area = new byte[Kmsg.HeaderSize + capacity];
            random.NextBytes(area);
            // Make the header pass its checks about half of the time, so the record walk is fuzzed.
            BitConverter.TryWriteBytes(area.AsSpan(0), Kmsg.Magic);
            BitConverter.TryWriteBytes(area.AsSpan(4), Kmsg.Version);
            BitConverter.TryWriteBytes(area.AsSpan(8), (uint)Kmsg.HeaderSize);
            BitConverter.TryWriteBytes(area.AsSpan(12), (uint)capacity);
            if (random.Next(2) == 0)
            {
                uint tailUnit = (uint)random.Next(0, 1 << 24);
                ulong tailSeq = (ulong)random.NextInt64(0, 1L << 30);
                uint used = (uint)random.Next(0, capacity / 16 + 1);
                ulong tail = Kmsg.Pack(tailSeq, tailUnit);
                ulong head = Kmsg.Pack(tailSeq + (ulong)random.Next(0, (int)(used / 2) + 1), tailUnit + used);
                BitConverter.TryWriteBytes(area.AsSpan(16), head);
                BitConverter.TryWriteBytes(area.AsSpan(24), tail);
                if (random.Next(3) == 0)
                {
                    // Plant a few headers that name themselves, so walks go further than a resync.
                    for (int k = 0; k < 8; k++)
                    {
                        uint u = (uint)random.Next(0, (int)used + 1);
                        int at = Kmsg.HeaderSize + (int)((tailUnit + u) * 16 % capacity);
                        BitConverter.TryWriteBytes(area.AsSpan(at), Kmsg.Pack(tailSeq + (ulong)random.Next(0, 4), tailUnit + u));
                        BitConverter.TryWriteBytes(area.AsSpan(at + 8), (uint)(16 * random.Next(0, 12)));
                        BitConverter.TryWriteBytes(area.AsSpan(at + 12), (uint)random.Next(0, 4));
                    }
                }
            }
            CheckReaderIsSafe(area, capacity);
        }
    }

    [Fact]
    public void Reader_FedARealRingWithFlippedBytes_NeverThrowsOrReadsOutsideTheRecordArea()
    {
        var random = new Random(99);
        var pristine = NewRing(2048);
        for (int i = 0; i < 500; i++) Append(pristine, (ulong)i * 17, "message number " + i + new string('m', i % 50));
        for (int iteration = 0; iteration < 5000; iteration++)
        {
            var area = (byte[])pristine.Clone();
            int flips = random.Next(1, 6);
            for (int k = 0; k < flips; k++)
            {
                int at = random.Next(0, area.Length);
                area[at] = (byte)random.Next(256);
            }
            CheckReaderIsSafe(area, 2048);
        }
    }

    /// <summary>One walk: it ends, every text lies inside the record area, numbers grow. Safe on a ring others write.</summary>
    internal static int WalkBounded(byte[] area, int capacity)
    {
        int records = 0;
        ulong lastSeq = 0;
        var reader = Kmsg.Read(area);
        var buf = new byte[64];
        while (reader.MoveNext())
        {
            var r = reader.Current;
            Assert.True(r.Text.Length <= Kmsg.MaxTextLength);
            Assert.True(Inside(area, r.Text), "record text outside the record area");
            Assert.True(records == 0 || r.Seq > lastSeq, "sequence numbers must grow along the walk");
            lastSeq = r.Seq;
            Kmsg.FormatRecord(r.TimestampNs, r.Text, buf);
            records++;
            Assert.True(records <= capacity / Kmsg.RecordHeaderSize, "the walk did not end");
        }
        return records;
    }

    internal static void CheckReaderIsSafe(byte[] area, int capacity)
    {
        int records = WalkBounded(area, capacity);
        Assert.Equal((ulong)records, Kmsg.Count(area));
        int last = 0;
        foreach (var r in Kmsg.ReadLast(area, 3)) last++;
        Assert.Equal(Math.Min(3, records), last);
    }

    static unsafe bool Inside(byte[] area, ReadOnlySpan<byte> text)
    {
        if (text.IsEmpty) return true;
        fixed (byte* a = area)
        fixed (byte* t = text)
        {
            return t >= a + Kmsg.HeaderSize && t + text.Length <= a + area.Length;
        }
    }

    [Fact]
    public void Writer_RecoversFromScribbledLengthsStatesTextAndEnds()
    {
        var random = new Random(5);
        for (int iteration = 0; iteration < 500; iteration++)
        {
            var area = NewRing(1024);
            for (int i = 0; i < 60; i++) Append(area, 1, "before " + i);
            // Scribble over the records (not the 8 bytes by which a header names itself: a header
            // that names nothing is, to every writer, a record still being claimed) and, sometimes,
            // over Head and Tail.
            var ids = new HashSet<int>();
            for (int off = 0; off < 1024; off += 16) if (BitConverter.ToUInt64(area, 64 + off) >> 24 < 1000) for (int b = 0; b < 8; b++) ids.Add(64 + off + b);
            for (int k = 0; k < 8; k++)
            {
                int at = random.Next(Kmsg.HeaderSize, area.Length);
                if (!ids.Contains(at)) area[at] = (byte)random.Next(256);
            }
            if (random.Next(2) == 0) BitConverter.TryWriteBytes(area.AsSpan(16), (ulong)random.NextInt64());
            if (random.Next(2) == 0) BitConverter.TryWriteBytes(area.AsSpan(24), (ulong)random.NextInt64());

            for (int i = 0; i < 200; i++)
                Assert.NotEqual(Kmsg.NoSeq, Append(area, 2, "after " + i));

            // 200 records of 48 bytes cycle a 1 KiB ring several times: it must be whole again.
            var all = ReadAll(area, out bool corrupt);
            Assert.False(corrupt);
            Assert.Equal("after 199", all[^1].Text);
            Assert.Equal(Enumerable.Range(200 - all.Count, all.Count).Select(i => "after " + i), all.Select(r => r.Text));
        }
    }

    [Fact]
    public void Reader_OfAnEmptyRingReturnsNothingAndIsNotCorrupt()
    {
        var area = NewRing(256);
        var reader = Kmsg.Read(area);
        Assert.False(reader.MoveNext());
        Assert.False(reader.Corrupt);
        Assert.Equal(0UL, Kmsg.Count(area));
    }
}
