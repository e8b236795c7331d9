// The console's walk of the kmsg ring (Kmsg.ReadCommittedFrom): it prints records in order, so it
// waits at a record still being written instead of passing it, picks up where it left off, starts
// over at the oldest record when the ring has moved past its place, and passes unfinished records
// only when told to (the panicking CPU, once every other CPU is stopped).
using System.Text;

namespace Kernel.Tests;

public class KmsgConsoleReadTests
{
    static List<string> Texts(ref KmsgReader r)
    {
        var texts = new List<string>();
        while (r.MoveNext()) texts.Add(Ascii.Of(r.Current.Text));
        return texts;
    }

    [Fact]
    public void StopsAtARecordStillBeingWritten_AndResumesThereOnceItIsCommitted()
    {
        var area = KmsgTests.NewRing(4096);
        Kmsg.Append(area, 1, "a"u8);
        Assert.Equal(KmsgReserveStatus.Reserved, Kmsg.Reserve(area, 1, 2, KernLevel.Info, 1, false, out KmsgReservation b));
        Kmsg.Append(area, 3, "c"u8);

        var r = Kmsg.ReadCommittedFrom(area, 0, passUnfinished: false);
        Assert.Equal(["a"], Texts(ref r));
        ulong waitingAt = r.Position;
        Assert.Equal(1UL, Kmsg.SeqOf(waitingAt));                   // it waits at b, not past it

        var passing = Kmsg.ReadCommittedFrom(area, 0, passUnfinished: true);
        Assert.Equal(["a", "c"], Texts(ref passing));

        Kmsg.Commit(area, in b, "b"u8);
        var resumed = Kmsg.ReadCommittedFrom(area, waitingAt, passUnfinished: false);
        Assert.Equal(["b", "c"], Texts(ref resumed));
        Assert.Equal(3UL, Kmsg.SeqOf(resumed.Position));
    }

    [Fact]
    public void APlaceTheRingHasMovedPast_StartsAtTheOldestRecordKept()
    {
        var area = KmsgTests.NewRing(512);
        Kmsg.Append(area, 0, "first"u8);
        var r = Kmsg.ReadCommittedFrom(area, 0, false);
        Assert.True(r.MoveNext());
        ulong after = r.Position;
        for (int i = 0; i < 100; i++) Kmsg.Append(area, (ulong)i, Encoding.ASCII.GetBytes($"line {i}"));
        Assert.True(Kmsg.ReadHeader(area, out KmsgHeader h));
        Assert.True(h.FirstSeq > Kmsg.SeqOf(after), "the ring wrapped past the console's place");

        var again = Kmsg.ReadCommittedFrom(area, after, false);
        Assert.True(again.MoveNext());
        Assert.Equal(h.FirstSeq, again.Current.Seq);
    }

    [Fact]
    public void OlderUnfinishedRecords_DoNotHoldUpAWalkFromLaterOn()
    {
        var area = KmsgTests.NewRing(4096);
        Assert.Equal(KmsgReserveStatus.Reserved, Kmsg.Reserve(area, 4, 1, KernLevel.Info, 0, false, out _));   // a writer stopped for good
        Kmsg.Append(area, 2, "later"u8);
        // A place the ring no longer holds (here: past Head) restarts the walk at Tail, the stopped
        // writer's record; being older than the place, it is passed, not waited for.
        var r = Kmsg.ReadCommittedFrom(area, Kmsg.Pack(1, 1000), false);
        Assert.Equal(["later"], Texts(ref r));
    }

    [Fact]
    public void NoRing_IsAnEmptyWalk()
    {
        var r = Kmsg.ReadCommittedFrom(new byte[256], 0, false);
        Assert.False(r.MoveNext());
        Assert.True(r.Corrupt);
    }
}
