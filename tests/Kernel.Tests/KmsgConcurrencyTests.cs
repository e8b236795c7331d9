// The kmsg ring under the conditions it was redesigned for: writers on many CPUs at once, a writer
// interrupted by another on its own CPU (an NMI inside printk), writers stopped for good half-way
// (the crash shootdown), and a property test over random mixes of all of them against a model.
using System.Text;
using CsCheck;

namespace Kernel.Tests;

public class KmsgConcurrencyTests
{
    static string Line(int writer, int n) => $"w{writer} n{n} " + new string((char)('a' + (writer * 7 + n) % 26), (writer * 31 + n * 17) % 70);

    static (int Writer, int N) Parse(string text)
    {
        var parts = text.Split(' ');
        Assert.True(parts.Length == 3 && parts[0][0] == 'w' && parts[1][0] == 'n', $"not a line any writer wrote: '{text}'");
        var w = int.Parse(parts[0][1..]);
        var n = int.Parse(parts[1][1..]);
        Assert.Equal(Line(w, n), text);
        return (w, n);
    }

    /// <summary>
    /// Real threads standing in for CPUs append to a ring as fast as they can while another walks
    /// it (1 MiB: the ring still wraps many times, yet rarely fills up to a record a descheduled
    /// thread holds, so most appends race each other for the head instead of failing). Afterwards the ring holds whole records only, numbered without a gap, each exactly as
    /// its writer wrote it and in each writer's own order; every record is stored, dropped or lost.
    /// </summary>
    [Fact]
    public void ConcurrentWriters_LeaveOnlyWholeRecordsInEachWritersOrder()
    {
        const int writers = 4, perWriter = 50000;
        // Encoded up front, so the writers spend their time in the ring, racing each other.
        var lines = Enumerable.Range(0, writers).Select(w => Enumerable.Range(0, perWriter).Select(n => Encoding.ASCII.GetBytes(Line(w, n))).ToArray()).ToArray();
        var area = GC.AllocateArray<byte>(Kmsg.HeaderSize + (1 << 20), pinned: true);
        Assert.True(Kmsg.Init(area));
        int stored = 0, failed = 0;
        using var stop = new CancellationTokenSource();
        var start = new Barrier(writers + 1);
        var threads = Enumerable.Range(0, writers).Select(w => new Thread(() =>
        {
            start.SignalAndWait();
            for (int n = 0; n < perWriter; n++)
            {
                ulong seq = Kmsg.Append(area, (ulong)n, lines[w][n], KernLevel.Debug, w);
                if (seq == Kmsg.NoSeq) Interlocked.Increment(ref failed);
                else Interlocked.Increment(ref stored);
            }
        })).ToList();
        Exception? walkFailure = null;
        int walks = 0;
        var walker = new Thread(() =>
        {
            start.SignalAndWait();
            try
            {
                for (; !stop.IsCancellationRequested; walks++) KmsgTests.WalkBounded(area, 1 << 20);
            }
            catch (Exception e) { walkFailure = e; }
        });
        threads.ForEach(t => t.Start());
        walker.Start();
        Assert.All(threads, t => Assert.True(t.Join(TimeSpan.FromMinutes(2)), "a writer never finished"));
        stop.Cancel();
        Assert.True(walker.Join(TimeSpan.FromMinutes(1)), "the walk did not end");
        Assert.Null(walkFailure);
        Assert.True(walks > 0);

        var all = KmsgTests.ReadAll(area, out bool corrupt, out ulong unfinished);
        Assert.False(corrupt);
        Assert.Equal(0UL, unfinished);
        var h = KmsgTests.Header(area);
        Assert.Equal((ulong)stored, h.NextSeq);
        Assert.Equal((ulong)failed, h.Lost);
        Assert.Equal((ulong)stored, h.Dropped + (ulong)all.Count);
        Assert.Equal(Enumerable.Range((int)h.FirstSeq, all.Count).Select(i => (ulong)i), all.Select(r => r.Seq));
        var lastOf = new int[writers];
        Array.Fill(lastOf, -1);
        foreach (var r in all)
        {
            var (w, n) = Parse(r.Text);
            Assert.True(n > lastOf[w], $"writer {w}'s line {n} after its line {lastOf[w]}");
            Assert.Equal((ulong)n, r.Ts);
            lastOf[w] = n;
        }
    }

    /// <summary>
    /// An NMI inside printk: a writer claims a record, another claims and finishes one on top of it
    /// (the same CPU, nested), then the first finishes. Both are whole, in the order they claimed.
    /// </summary>
    [Fact]
    public void NestedWriter_InsideAnotherWritersRecord_BothRecordsAreWhole()
    {
        var area = KmsgTests.NewRing(1024);
        Assert.Equal(KmsgReserveStatus.Reserved, Kmsg.Reserve(area, 5, 1, KernLevel.Info, 0, false, out var outer));
        Assert.Equal(1UL, KmsgTests.Append(area, 2, "nmi line"));
        var before = KmsgTests.ReadAll(area, out _, out ulong unfinished);
        Assert.Equal(["nmi line"], before.Select(r => r.Text));
        Assert.Equal(1UL, unfinished);
        Kmsg.Commit(area, in outer, "outer"u8);
        var all = KmsgTests.ReadAll(area, out bool corrupt, out unfinished);
        Assert.False(corrupt);
        Assert.Equal(0UL, unfinished);
        Assert.Equal([(0UL, 1UL, "outer"), (1UL, 2UL, "nmi line")], all);
    }

    /// <summary>
    /// A writer stopped for good after its claim (the shootdown NMI): the records after it stay
    /// readable; once the ring has come round to it nothing is written over it (new records are
    /// counted lost), until the panicking CPU, with every writer stopped, may pass it.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void StoppedWriter_BlocksOnlyItsOwnBytes_AndThePanicCpuMayPassIt(bool stoppedBeforeItsHeader)
    {
        var area = KmsgTests.NewRing(512);
        KmsgTests.Append(area, 1, "first");
        StopAWriter(area, stoppedBeforeItsHeader, out ulong stoppedSeq);
        for (int i = 0; i < 3; i++) KmsgTests.Append(area, 2, "after " + i);
        var all = KmsgTests.ReadAll(area, out bool corrupt, out ulong unfinished);
        Assert.False(corrupt);
        Assert.Equal(1UL, unfinished);
        Assert.Equal(["first", "after 0", "after 1", "after 2"], all.Select(r => r.Text));
        Assert.DoesNotContain(stoppedSeq, all.Select(r => r.Seq));

        // Round and round: "first" is pushed out, then the stopped record is the oldest.
        int stored = 0, lost = 0;
        for (int i = 0; i < 40; i++)
            if (KmsgTests.Append(area, 3, "more " + i) == Kmsg.NoSeq) lost++; else stored++;
        Assert.True(lost > 0 && stored > 0);
        Assert.Equal((ulong)lost, KmsgTests.Header(area).Lost);
        Assert.Equal(stoppedSeq, KmsgTests.Header(area).FirstSeq);
        all = KmsgTests.ReadAll(area, out corrupt, out unfinished);
        Assert.False(corrupt);
        Assert.Equal(1UL, unfinished);

        // The panicking CPU, every other CPU stopped: it passes the unfinished record.
        Assert.Equal(KmsgReserveStatus.Reserved, Kmsg.Reserve(area, 5, 9, KernLevel.Emerg, 1, true, out var r));
        Kmsg.Commit(area, in r, "panic"u8);
        all = KmsgTests.ReadAll(area, out corrupt, out unfinished);
        Assert.False(corrupt);
        Assert.Equal(0UL, unfinished);
        Assert.Equal("panic", all[^1].Text);
        Assert.True(KmsgTests.Header(area).FirstSeq > stoppedSeq);
    }

    /// <summary>Claims a record the way a writer stopped by an NMI leaves it: reserved, or claimed with no header written.</summary>
    static void StopAWriter(byte[] area, bool beforeItsHeader, out ulong seq)
    {
        var snapshot = (byte[])area.Clone();
        Assert.Equal(KmsgReserveStatus.Reserved, Kmsg.Reserve(area, 20, 5, KernLevel.Info, 2, false, out var r));
        seq = r.Seq;
        // Pushing Tail writes only the header; the claim's own stores are in the record area.
        if (beforeItsHeader) Array.Copy(snapshot, Kmsg.HeaderSize, area, Kmsg.HeaderSize, area.Length - Kmsg.HeaderSize);
    }

    enum Op { Append, StopReserved, StopBeforeHeader, CommitOldestOpen, PanicAppend }

    /// <summary>
    /// Any mix of appends, writers stopped at either point, late commits and panic appends, on rings
    /// of any size: the walk never sees damage; it returns exactly the committed records still
    /// between Tail and Head, each as written, in sequence order; it counts the unfinished ones
    /// there; and every committed record pushed out is counted dropped.
    /// </summary>
    [Fact]
    public void Property_TheWalkMatchesAModelOfEveryRecordEverWritten()
    {
        var genOp = Gen.Select(Gen.Enum<Op>(), Gen.Int[0, 200]);
        Gen.Select(Gen.Int[7, 11], genOp.Array[1, 300]).Sample(t =>
        {
            var (bits, ops) = t;
            var area = KmsgTests.NewRing(1 << bits);
            var model = new Dictionary<ulong, string?>();   // seq -> text, null while unfinished
            var open = new List<KmsgReservation>();
            var texts = new Dictionary<ulong, string>();
            int n = 0;
            foreach (var (op, length) in ops)
            {
                string text = $"r{n++} " + new string('x', length);
                switch (op)
                {
                    case Op.Append:
                    case Op.PanicAppend:
                        var status = Kmsg.Reserve(area, text.Length, (ulong)n, KernLevel.Notice, 1, op == Op.PanicAppend, out var r);
                        if (status != KmsgReserveStatus.Reserved) { Assert.Equal(KmsgReserveStatus.Busy, status); break; }
                        Kmsg.Commit(area, in r, Encoding.ASCII.GetBytes(text));
                        model[r.Seq] = text[..r.TextLength];
                        break;
                    case Op.StopReserved:
                    case Op.StopBeforeHeader:
                        var snapshot = (byte[])area.Clone();
                        if (Kmsg.Reserve(area, text.Length, (ulong)n, KernLevel.Notice, 2, false, out var s) != KmsgReserveStatus.Reserved) break;
                        model[s.Seq] = null;
                        if (op == Op.StopBeforeHeader)
                            Array.Copy(snapshot, Kmsg.HeaderSize, area, Kmsg.HeaderSize, area.Length - Kmsg.HeaderSize);
                        else
                        {
                            open.Add(s);
                            texts[s.Seq] = text[..s.TextLength];
                        }
                        break;
                    case Op.CommitOldestOpen:
                        ulong first = KmsgTests.Header(area).FirstSeq;
                        open.RemoveAll(o => o.Seq < first);     // passed by a panic append: its bytes are no longer its own
                        if (open.Count == 0) break;
                        Kmsg.Commit(area, open[0], Encoding.ASCII.GetBytes(texts[open[0].Seq]));
                        model[open[0].Seq] = texts[open[0].Seq];
                        open.RemoveAt(0);
                        break;
                }
            }
            var h = KmsgTests.Header(area);
            var all = KmsgTests.ReadAll(area, out bool corrupt, out ulong unfinished);
            Assert.False(corrupt);
            var kept = model.Where(m => m.Key >= h.FirstSeq).OrderBy(m => m.Key).ToList();
            Assert.Equal(kept.Where(m => m.Value != null).Select(m => (m.Key, m.Value!)), all.Select(r => (r.Seq, r.Text)));
            Assert.Equal((ulong)kept.Count(m => m.Value == null), unfinished);
            Assert.Equal((ulong)model.Count, h.NextSeq);
            var gone = model.Where(m => m.Key < h.FirstSeq).ToList();
            Assert.Equal((ulong)gone.Count(m => m.Value != null), h.Dropped);
            Assert.Equal((ulong)gone.Count(m => m.Value == null), h.Lost);   // Busy was not counted: Reserve leaves that to its caller
        }, iter: 400);
    }
}
