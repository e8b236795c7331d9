// The receiver following a window the guest is still writing: chunks are taken as their magic
// appears (the capture kernel writes a chunk's payload first and its header's first word last), the
// vmcore is verified the moment the trailer lands, and a writer that stops half way leaves the same
// verdict an offline receive gives (truncated), never a vmcore.
namespace Nmidump.Inspector.Tests;

public class LiveReceiveTests : IDisposable
{
    const uint ChunkSize = 1 << 16;
    readonly TempDir _dir = new();
    static readonly byte[] Vmcore = FakeCrash.Default;
    static readonly byte[] Stream = Channel.Encode(Vmcore, ChunkSize);

    public void Dispose() => _dir.Dispose();

    /// <summary>
    /// Writes the stream into the window file piece by piece in the capture kernel's order (each
    /// piece's bytes after its first 8, then its first 8), stopping before byte <paramref name="stopAt"/>.
    /// </summary>
    static void Guest(string window, int stopAt, ManualResetEventSlim done)
    {
        using var f = new FileStream(window, FileMode.Open, FileAccess.Write, FileShare.ReadWrite);
        var pieces = new List<(int At, int Length)> { (0, DumpStream.HeaderSize) };
        int at = DumpStream.HeaderSize;
        while (at < Stream.Length - DumpStream.TrailerSize)
        {
            int n = (int)LittleEndian.U32(Stream, at + 8);
            pieces.Add((at, DumpStream.ChunkHeaderSize + n));
            at += DumpStream.ChunkHeaderSize + n;
        }
        pieces.Add((at, DumpStream.TrailerSize));
        foreach (var (start, length) in pieces)
        {
            if (start + length > stopAt) break;
            RandomAccess.Write(f.SafeFileHandle, Stream.AsSpan(start + 8, length - 8), start + 8);
            f.Flush();
            Thread.Sleep(2);
            RandomAccess.Write(f.SafeFileHandle, Stream.AsSpan(start, 8), start);
        }
        done.Set();
    }

    [Fact]
    public void Follow_TakesEachChunkAsItLands_AndVerifiesBeforeTheWriterExits()
    {
        string window = _dir.File("vmcore.window"), vmcore = _dir.File("vmcore");
        PrivateFile.Prepare(window, 4 << 20);
        using var written = new ManualResetEventSlim();
        using var exit = new ManualResetEventSlim();
        var guest = new Thread(() => Guest(window, int.MaxValue, written));
        guest.Start();
        var seen = new List<ulong>();
        ReceiveResult r = DumpReceiver.Follow(window, vmcore, () => !exit.IsSet, (done, total) => seen.Add(done));
        Assert.True(r.Ok, r.Message);
        Assert.False(exit.IsSet, "the vmcore was verified while the writer still ran");
        exit.Set();
        guest.Join();
        Assert.Equal(Vmcore, File.ReadAllBytes(vmcore));
        Assert.Equal((int)DumpStream.ChunkCount((ulong)Vmcore.Length, ChunkSize), seen.Count);
        Assert.Equal(seen.Order(), seen);
        Assert.Equal((ulong)Vmcore.Length, seen[^1]);
    }

    [Fact]
    public void Follow_WriterThatStopsHalfWay_IsNamedTruncated_AndLeavesNoVmcore()
    {
        string window = _dir.File("vmcore.window"), vmcore = _dir.File("vmcore");
        PrivateFile.Prepare(window, 4 << 20);
        int chunk5 = Channel.ChunkAt(5, ChunkSize);
        using var written = new ManualResetEventSlim();
        var guest = new Thread(() => Guest(window, chunk5 + 100, written));
        guest.Start();
        ReceiveResult r = DumpReceiver.Follow(window, vmcore, () => !written.IsSet);
        guest.Join();
        Assert.False(r.Ok);
        Assert.Equal(DumpStream.Problem.Truncated, r.Problem);
        Assert.EndsWith($"truncated: 5 of {DumpStream.ChunkCount((ulong)Vmcore.Length, ChunkSize)} chunks arrived (stream ends at byte {chunk5}, {Stream.Length} expected)", r.Message);
        Assert.False(File.Exists(vmcore));
        Assert.Equal(DumpReceiver.Receive(window, vmcore).Message, r.Message);
    }

    [Fact]
    public void Follow_ACancelledWait_EndsWithTheStreamSoFar()
    {
        string window = _dir.File("vmcore.window"), vmcore = _dir.File("vmcore");
        PrivateFile.Prepare(window, 4 << 20);
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
        ReceiveResult r = DumpReceiver.Follow(window, vmcore, () => true, null, cancel.Token);
        Assert.False(r.Ok);
        Assert.Equal(DumpStream.Problem.NoHeader, r.Problem);
    }
}
