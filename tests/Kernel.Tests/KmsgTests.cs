// Kmsg: the log ring (kernel/printk/Kmsg.cs). The writer is checked against a model of what the ring must
// hold after many wrap-arounds; the reader is fed corrupt and random areas, as the capture kernel
// and the host inspector will be, and must neither throw nor run forever.
using System.Runtime.InteropServices;
using System.Text;

namespace Kernel.Tests;

public class KmsgTests
{
    static byte[] NewRing(int capacity)
    {
        var area = new byte[Kmsg.HeaderSize + capacity];
        Assert.True(Kmsg.Init(area));
        return area;
    }

    static ulong Append(byte[] area, ulong ts, string text) => Kmsg.Append(area, ts, Encoding.ASCII.GetBytes(text));

    static List<(ulong Seq, ulong Ts, string Text)> ReadAll(byte[] area, out bool corrupt)
    {
        var list = new List<(ulong, ulong, string)>();
        var reader = Kmsg.Read(area);
        while (reader.MoveNext())
        {
            var r = reader.Current;
            list.Add((r.Seq, r.TimestampNs, Ascii.Of(r.Text)));
        }
        corrupt = reader.Corrupt;
        return list;
    }

    static KmsgHeader Header(byte[] area)
    {
        Assert.True(Kmsg.ReadHeader(area, out var h));
        return h;
    }

    [Fact]
    public void EveryRecordKeepsItsLevel_AndAnImpossibleLevelIsDamage()
    {
        var area = NewRing(4096);
        for (int i = 0; i < 8; i++) Kmsg.Append(area, (ulong)i, Encoding.ASCII.GetBytes($"level {i}"), (KernLevel)i);
        Kmsg.Append(area, 9, "plain"u8);
        var levels = new List<KernLevel>();
        var reader = Kmsg.Read(area);
        while (reader.MoveNext()) levels.Add(reader.Current.Level);
        Assert.False(reader.Corrupt);
        Assert.Equal(Enumerable.Range(0, 8).Select(i => (KernLevel)i).Append(KernLevel.Info), levels);

        // The level byte of the first record (record header offset 6) set to 8: not a level Linux has.
        area[Kmsg.HeaderSize + 6] = 8;
        reader = Kmsg.Read(area);
        Assert.False(reader.MoveNext());
        Assert.True(reader.Corrupt);
    }

    [Fact]
    public void HeaderLayout_IsTheDocumented64Bytes()
    {
        Assert.Equal(64, Marshal.SizeOf<KmsgHeader>());
        Assert.Equal(0, (int)Marshal.OffsetOf<KmsgHeader>(nameof(KmsgHeader.Magic)));
        Assert.Equal(12, (int)Marshal.OffsetOf<KmsgHeader>(nameof(KmsgHeader.Capacity)));
        Assert.Equal(16, (int)Marshal.OffsetOf<KmsgHeader>(nameof(KmsgHeader.Head)));
        Assert.Equal(24, (int)Marshal.OffsetOf<KmsgHeader>(nameof(KmsgHeader.Tail)));
        Assert.Equal(32, (int)Marshal.OffsetOf<KmsgHeader>(nameof(KmsgHeader.NextSeq)));
        Assert.Equal(40, (int)Marshal.OffsetOf<KmsgHeader>(nameof(KmsgHeader.Dropped)));

        var area = NewRing(1000);
        Assert.Equal("KMSG", Encoding.ASCII.GetString(area, 0, 4));
        var h = Header(area);
        Assert.Equal(2u, h.Version);
        Assert.Equal(64u, h.DataOffset);
        Assert.Equal(1000u, h.Capacity);
        Assert.Equal(1024u, h.MaxText);
        Assert.Equal(24u, h.RecordHeader);
        Assert.Equal(1064UL, Kmsg.AreaSize(area));
    }

    [Fact]
    public void Init_RoundsCapacityDownTo8AndRejectsTinyOrMisalignedAreas()
    {
        var area = new byte[64 + 101];
        Assert.True(Kmsg.Init(area));
        Assert.Equal(96u, Header(area).Capacity);

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
        Assert.Equal(0UL, Header(area).Dropped);
        Assert.Equal(3UL, Kmsg.Count(area));
    }

    [Fact]
    public void WrapAround_ManyTimes_KeepsTheNewestRecordsAndCountsTheDropped()
    {
        var random = new Random(42);
        var area = NewRing(600);
        var model = new List<(ulong Seq, ulong Ts, string Text)>();
        ulong dropped = 0;
        for (int i = 0; i < 20000; i++)
        {
            string text = "line " + i + " " + new string((char)('a' + i % 26), random.Next(0, 90));
            ulong seq = Append(area, (ulong)i * 1000, text);
            Assert.Equal((ulong)i, seq);
            model.Add((seq, (ulong)i * 1000, text));

            var all = ReadAll(area, out bool corrupt);
            Assert.False(corrupt);
            int droppedNow = model.Count - all.Count;
            dropped += (ulong)droppedNow;
            model.RemoveRange(0, droppedNow);
            Assert.Equal(model, all);
            // Records are dropped only as far as needed: had one fewer been dropped the new record
            // would not have fitted, so less than one dropped record's worth (<= 128 bytes) is free.
            var h = Header(area);
            if (droppedNow > 0) Assert.True(h.Tail - h.Head > 600 - 128, $"ring emptied too far at {i}");
        }
        var end = Header(area);
        Assert.Equal(20000UL, end.NextSeq);
        Assert.Equal(dropped, end.Dropped);
        Assert.Equal(20000UL, end.Dropped + (ulong)model.Count);
        Assert.True(end.Tail > 600UL * 100, "the ring must have wrapped many times");
    }

    [Fact]
    public void Dropping_IsMinimal_AFullRingLosesOnlyWhatTheNewRecordNeeds()
    {
        var area = NewRing(24 * 10 + 8 * 10);      // exactly ten records with 1..8 bytes of text
        for (int i = 0; i < 10; i++) Append(area, 0, "abcdefgh");
        Assert.Equal(10UL, Kmsg.Count(area));
        Append(area, 0, "ABCDEFGH");
        Assert.Equal(10UL, Kmsg.Count(area));
        Assert.Equal(1UL, Header(area).Dropped);
        Append(area, 0, new string('x', 40));       // 64 bytes: two old records must go
        Assert.Equal(3UL, Header(area).Dropped);
        Assert.Equal(9UL, Kmsg.Count(area));
    }

    [Fact]
    public void RecordThatFitsOnlyAfterEmptyingTheRing_RestartsAtOffsetZero()
    {
        var area = NewRing(64);                        // one 40-byte record leaves 24 bytes at the end
        for (int i = 0; i < 50; i++)
        {
            Assert.Equal((ulong)i, Append(area, (ulong)i, "sixteen chars " + (i % 10) + "!"));
            var all = ReadAll(area, out bool corrupt);
            Assert.False(corrupt);
            Assert.Equal([((ulong)i, (ulong)i, "sixteen chars " + (i % 10) + "!")], all);
            var h = Header(area);
            Assert.Equal((ulong)i, h.Dropped);
            Assert.Equal(40UL, h.Tail - h.Head);
            Assert.Equal(0UL, h.Head % 64);            // always restarted at the start of the area
        }
    }

    [Fact]
    public void LongText_IsCutTo1024Bytes()
    {
        var area = NewRing(8192);
        Append(area, 5, new string('q', 5000));
        var all = ReadAll(area, out _);
        Assert.Single(all);
        Assert.Equal(new string('q', 1024), all[0].Text);
    }

    [Fact]
    public void TextLargerThanATinyRing_IsCutToWhatTheRingHolds()
    {
        var area = NewRing(Kmsg.MinCapacity);
        for (int i = 0; i < 5; i++) Assert.Equal((ulong)i, Append(area, 1, "0123456789abcdef" + i));
        var all = ReadAll(area, out bool corrupt);
        Assert.False(corrupt);
        Assert.Single(all);
        Assert.Equal("01234567", all[0].Text);
        Assert.Equal(4UL, all[0].Seq);
    }

    [Fact]
    public void ReadLast_ReturnsTheNewestNOldestFirst()
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
        Expect(a => a[4] = 1);                                   // version 1 (no levels): not this layout
        Expect(a => BitConverter.TryWriteBytes(a.AsSpan(8), 60u));   // data offset below the header
        Expect(a => BitConverter.TryWriteBytes(a.AsSpan(12), 4096u)); // capacity past the area
        Expect(a => BitConverter.TryWriteBytes(a.AsSpan(12), 100u));  // capacity not a multiple of 8
        Expect(a => BitConverter.TryWriteBytes(a.AsSpan(16), 64UL));  // head past tail
        Expect(a => BitConverter.TryWriteBytes(a.AsSpan(24), 5000UL)); // tail - head > capacity
        Expect(a => BitConverter.TryWriteBytes(a.AsSpan(24), 33UL));  // unaligned tail
        Assert.False(Kmsg.ReadHeader(good.AsSpan(0, 63), out _));
        Assert.False(Kmsg.ReadHeader(good.AsSpan(0, 100), out _));  // record area cut off
    }

    [Fact]
    public void Reader_StopsAtACorruptRecordAndKeepsWhatCameBefore()
    {
        var area = NewRing(4096);
        for (int i = 0; i < 5; i++) Append(area, (ulong)i, "record " + i);
        int third = Kmsg.HeaderSize + 2 * 32;                   // each record is 24 + 8 = 32 bytes
        Assert.Equal(32u, BitConverter.ToUInt32(area, third));
        area[third] = 40;                                        // length no longer matches text
        var all = ReadAll(area, out bool corrupt);
        Assert.True(corrupt);
        Assert.Equal(["record 0", "record 1"], all.Select(r => r.Text));

        area[third] = 32;
        BitConverter.TryWriteBytes(area.AsSpan(third + 8), 77UL);   // sequence gap
        all = ReadAll(area, out corrupt);
        Assert.True(corrupt);
        Assert.Equal(2, all.Count);
    }

    [Fact]
    public void Reader_FedRandomBytesBehindAValidLookingHeader_NeverThrowsOrLoops()
    {
        var random = new Random(20240611);
        for (int iteration = 0; iteration < 3000; iteration++)
        {
            int capacity = 8 * random.Next(Kmsg.MinCapacity / 8, 300);
            var area = new byte[Kmsg.HeaderSize + capacity];
            random.NextBytes(area);
            // Make the header pass its checks about half of the time, so the record walk is fuzzed.
            BitConverter.TryWriteBytes(area.AsSpan(0), Kmsg.Magic);
            BitConverter.TryWriteBytes(area.AsSpan(4), Kmsg.Version);
            BitConverter.TryWriteBytes(area.AsSpan(8), (uint)Kmsg.HeaderSize);
            BitConverter.TryWriteBytes(area.AsSpan(12), (uint)capacity);
            if (random.Next(2) == 0)
            {
                ulong head = (ulong)random.NextInt64(0, 1L << 40) & ~7UL;
                ulong tail = head + ((ulong)random.Next(0, capacity + 1) & ~7UL);
                BitConverter.TryWriteBytes(area.AsSpan(16), head);
                BitConverter.TryWriteBytes(area.AsSpan(24), tail);
            }
            if (random.Next(3) == 0)
            {
                // Plant a few plausible record headers so walks go further than the first word.
                for (int k = 0; k < 5; k++)
                {
                    int at = Kmsg.HeaderSize + 8 * random.Next(0, capacity / 8);
                    if (at + 8 > area.Length) continue;
                    BitConverter.TryWriteBytes(area.AsSpan(at), (uint)(8 * random.Next(0, 8)));
                    BitConverter.TryWriteBytes(area.AsSpan(at + 4), (uint)random.Next(0, 40));
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

    static void CheckReaderIsSafe(byte[] area, int capacity)
    {
        int records = 0;
        var reader = Kmsg.Read(area);
        while (reader.MoveNext())
        {
            var r = reader.Current;
            Assert.True(r.Text.Length <= Kmsg.MaxTextLength);
            Assert.True(Inside(area, r.Text), "record text outside the record area");
            var buf = new byte[64];
            Kmsg.FormatRecord(r.TimestampNs, r.Text, buf);
            records++;
            Assert.True(records <= capacity / Kmsg.RecordHeaderSize, "the walk did not end");
        }
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
    public void Writer_RecoversFromAScribbledRing()
    {
        var random = new Random(5);
        for (int iteration = 0; iteration < 500; iteration++)
        {
            var area = NewRing(1024);
            for (int i = 0; i < 60; i++) Append(area, 1, "before " + i);
            // Scribble over the records and, sometimes, Head and Tail (not the identity fields).
            for (int k = 0; k < 8; k++) area[random.Next(Kmsg.HeaderSize, area.Length)] = (byte)random.Next(256);
            if (random.Next(2) == 0) BitConverter.TryWriteBytes(area.AsSpan(16), (ulong)random.NextInt64());
            if (random.Next(2) == 0) BitConverter.TryWriteBytes(area.AsSpan(24), (ulong)random.NextInt64());

            for (int i = 0; i < 200; i++)
                Assert.NotEqual(Kmsg.NoSeq, Append(area, 2, "after " + i));

            // 200 records of 32 bytes cycle a 1 KiB ring several times: it must be whole again.
            var all = ReadAll(area, out bool corrupt);
            Assert.False(corrupt);
            Assert.Equal("after 199", all[^1].Text);
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
