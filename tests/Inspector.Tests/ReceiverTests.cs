// The transfer's host end: a vmcore framed by the capture kernel's DumpStream writers comes back
// byte-identical through a window file (stream then zeros) and a debugcon file (the stream alone);
// every kind of cut or damage is named with its own reason and leaves no vmcore behind.
namespace Nmidump.Inspector.Tests;

public class ReceiverTests : IDisposable
{
    const uint ChunkSize = 1 << 16;
    readonly TempDir _dir = new();
    static readonly byte[] Vmcore = FakeCrash.Default;
    static readonly byte[] Stream = Channel.Encode(Vmcore, ChunkSize);
    static readonly int Chunks = (int)DumpStream.ChunkCount((ulong)Vmcore.Length, ChunkSize);

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void RoundTrip_ThroughWindowAndDebugcon_GivesTheSameVmcore()
    {
        Assert.Equal(26, Chunks);
        string window = _dir.Write("vmcore.window", Channel.Window(Stream, 4 << 20));
        string debugcon = _dir.Write("vmcore.debugcon", Stream);
        string fromWindow = _dir.File("vmcore"), fromDebugcon = _dir.File("vmcore.2");

        long size = DumpReceiver.Receive(window, fromWindow, out string message);
        Assert.Equal(Vmcore.Length, size);
        Assert.Equal($"{window}: ok: {Vmcore.Length} bytes in {Chunks} chunks", message);
        ReceiveResult r = DumpReceiver.Receive(debugcon, fromDebugcon);
        Assert.True(r.Ok, r.Message);
        Assert.Equal(Vmcore.Length, r.Size);

        Assert.Equal(Vmcore, File.ReadAllBytes(fromWindow));
        Assert.True(DumpReceiver.CompareFiles(fromWindow, fromDebugcon, out string same), same);
        Assert.Equal($"identical ({Vmcore.Length} bytes)", same);
        Assert.Equal(["vmcore", "vmcore.2", "vmcore.debugcon", "vmcore.window"], Directory.GetFiles(_dir.Path).Select(Path.GetFileName).Order());
    }

    [Fact]
    public void ReceivedVmcore_IsWhatTheInspectorReads()
    {
        string window = _dir.Write("vmcore.window", Channel.Window(Stream, 2 << 20));
        string vmcore = _dir.File("vmcore");
        Assert.True(DumpReceiver.Receive(window, vmcore).Ok);
        var run = CliRun.Of(vmcore);
        Assert.Equal(0, run.Exit);
        Assert.Contains(FakeCrash.PanicMessage, run.Out);
    }

    [Fact]
    public void UnevenLastChunk_AndTinyChunks_RoundTrip()
    {
        foreach (uint chunk in new uint[] { 1, 7, 4096, 1 << 20, 1 << 22 })
        {
            byte[] small = Vmcore[..(chunk == 1 ? 3000 : Vmcore.Length)];
            string file = _dir.Write($"s{chunk}", Channel.Encode(small, chunk));
            ReceiveResult r = DumpReceiver.Receive(file, _dir.File($"v{chunk}"));
            Assert.True(r.Ok, r.Message);
            Assert.Equal(small, File.ReadAllBytes(_dir.File($"v{chunk}")));
        }
    }

    [Fact]
    public void CompareFiles_NamesTheFirstDifference()
    {
        byte[] other = (byte[])Vmcore.Clone();
        other[0x12345] ^= 0x10;
        string a = _dir.Write("a", Vmcore), b = _dir.Write("b", other), c = _dir.Write("c", Vmcore[..1000]);
        Assert.False(DumpReceiver.CompareFiles(a, b, out string m));
        Assert.Equal($"{a} and {b} differ at byte {0x12345} (0x12345): 0x{Vmcore[0x12345]:x2} vs 0x{other[0x12345]:x2}", m);
        Assert.False(DumpReceiver.CompareFiles(a, c, out m));
        Assert.Equal($"{a} has {Vmcore.Length} bytes, {c} has 1000", m);
        Assert.False(DumpReceiver.CompareFiles(a, _dir.File("none"), out m));
        Assert.Equal($"{_dir.File("none")}: no such file", m);
    }

    /// <summary>Receives a damaged channel file: the reason, the decoder's verdict, and no vmcore left.</summary>
    (string Reason, DumpStream.Problem Problem) Damaged(string name, byte[] channel)
    {
        string file = _dir.Write(name, channel);
        string vmcore = _dir.File(name + ".vmcore");
        File.WriteAllText(vmcore, "a stale vmcore from an earlier run");
        ReceiveResult r = DumpReceiver.Receive(file, vmcore);
        Assert.False(r.Ok);
        Assert.Equal(0, r.Size);
        Assert.StartsWith(file + ": ", r.Message);
        Assert.False(File.Exists(vmcore), "no vmcore may be left behind");
        Assert.DoesNotContain(Directory.GetFiles(_dir.Path), f => f.EndsWith(".partial"));
        Assert.Equal(-1, DumpReceiver.Receive(file, vmcore, out string again));
        Assert.Equal(r.Message, again);
        return (r.Message[(file.Length + 2)..], r.Problem);
    }

    static byte[] Modified(Action<byte[]> change)
    {
        byte[] s = (byte[])Stream.Clone();
        change(s);
        return s;
    }

    [Fact]
    public void EveryKindOfDamage_HasItsOwnReason()
    {
        int chunk3 = Channel.ChunkAt(3, ChunkSize);
        int trailer = Stream.Length - DumpStream.TrailerSize;
        var reasons = new List<string>();
        void Expect(string name, byte[] channel, DumpStream.Problem problem, string reason)
        {
            var (got, gotProblem) = Damaged(name, channel);
            Assert.Equal(reason, got);
            Assert.Equal(problem, gotProblem);
            reasons.Add(got);
        }

        Expect("nothing.window", new byte[1 << 20], DumpStream.Problem.NoHeader,
            "truncated: no stream header (the capture kernel wrote nothing)");
        Expect("header-cut.debugcon", Stream[..40], DumpStream.Problem.HeaderCut,
            "truncated: the stream header is cut at byte 40 of 64");
        Expect("mid-chunk.debugcon", Stream[..(chunk3 + 1000)], DumpStream.Problem.Truncated,
            $"truncated: 3 of {Chunks} chunks arrived (stream ends at byte {chunk3 + 1000}, {Stream.Length} expected)");
        Expect("zeroed-tail.window", Channel.Window(Stream[..chunk3], 4 << 20), DumpStream.Problem.Truncated,
            $"truncated: 3 of {Chunks} chunks arrived (stream ends at byte {chunk3}, {Stream.Length} expected)");
        Expect("no-trailer.debugcon", Stream[..trailer], DumpStream.Problem.BadTrailer,
            "truncated: the stream has no trailer after its last chunk");
        Expect("no-trailer.window", Channel.Window(Stream[..trailer], 4 << 20), DumpStream.Problem.BadTrailer,
            "truncated: the stream has no trailer after its last chunk");
        byte[] flipped = Modified(s => s[chunk3 + DumpStream.ChunkHeaderSize + 777] ^= 0x04);
        Expect("flipped.window", flipped, DumpStream.Problem.ChecksumMismatch,
            $"damaged: chunk 3 (vmcore bytes {3 * ChunkSize} onwards) checksum 0x{DumpStream.Checksum(flipped.AsSpan(chunk3 + 24, (int)ChunkSize)):x16}, " +
            $"expected 0x{DumpStream.Checksum(Vmcore.AsSpan(3 * (int)ChunkSize, (int)ChunkSize)):x16}");
        int chunk4 = Channel.ChunkAt(4, ChunkSize), size = DumpStream.ChunkHeaderSize + (int)ChunkSize;
        Expect("swapped.window", Modified(s =>
        {
            Stream.AsSpan(chunk4, size).CopyTo(s.AsSpan(chunk3));
            Stream.AsSpan(chunk3, size).CopyTo(s.AsSpan(chunk4));
        }), DumpStream.Problem.ChunkOutOfOrder, "damaged: chunk 4 found where chunk 3 belongs");
        Expect("header-crc.window", Modified(s => s[20] ^= 1), DumpStream.Problem.BadHeaderCrc,
            "damaged: the stream header's CRC does not match");
        Expect("garbage.window", Modified(s => s[0] = (byte)'X'), DumpStream.Problem.BadMagic,
            "not a dump stream: no NMIDUMP1 header");
        Expect("chunk-header.window", Modified(s => s[chunk3] = 0x55), DumpStream.Problem.BadChunk,
            $"damaged: chunk 3 has no chunk header at byte {chunk3}");
        Expect("folded.window", Modified(s => s[trailer + 24] ^= 0x80), DumpStream.Problem.ChecksumMismatch,
            $"damaged: chunk {Chunks} (vmcore bytes 0 onwards) checksum 0x{LittleEndian.U64(Stream, trailer + 24):x16}, expected 0x{LittleEndian.U64(Stream, trailer + 24) ^ 0x80:x16}");

        Assert.Equal(reasons.Count, reasons.Distinct().Count() + 1);   // the two no-trailer cases read alike, by design
    }

    [Fact]
    public void CompleteStream_InAWindowFullOfZeros_IsAccepted_EvenPastTwoGiBOfWindow()
    {
        // Only the stream is mapped: a window file larger than the reader's 2 GiB still works.
        string window = _dir.File("big.window");
        using (var f = File.Create(window))
        {
            f.Write(Stream);
            f.SetLength(3L << 30);   // sparse
        }
        ReceiveResult r = DumpReceiver.Receive(window, _dir.File("vmcore"));
        Assert.True(r.Ok, r.Message);
        Assert.Equal(Vmcore, File.ReadAllBytes(_dir.File("vmcore")));
    }

    [Fact]
    public void StreamClaimingThreeGiB_WithOnlyItsHeader_IsNamedTruncated()
    {
        var header = new byte[DumpStream.HeaderSize];
        DumpStream.WriteHeader(header, 3UL << 30, DumpStream.DefaultChunkSize);
        var (reason, problem) = Damaged("huge.window", header);
        Assert.Equal($"truncated: 0 of 3072 chunks arrived (stream ends at byte 64, {DumpStream.StreamSize(3UL << 30, DumpStream.DefaultChunkSize)} expected)", reason);
        Assert.Equal(DumpStream.Problem.Truncated, problem);
    }

    /// <summary>
    /// A full dump of a big machine: a 2.5 GiB PT_LOAD above 4 GiB, past 2 GiB of file. The
    /// receiver takes it chunk by chunk (any size), and the inspector reads memory at its far end.
    /// </summary>
    [Fact]
    public void VmcoreOverTwoGiB_WithMemoryAboveFourGiB_IsReceivedAndInspected()
    {
        byte[] marker = System.Text.Encoding.ASCII.GetBytes("nmidump: the far end of a 2.5 GiB PT_LOAD at 4 GiB");
        using var big = new TempDir(inMemory: true);
        string original = big.File("big.vmcore"), stream = big.File("big.window"), vmcore = big.File("vmcore");
        ulong at = new FakeCrash().WriteWithHighLoad(original, 0x1_0000_0000, 5UL << 29, marker);
        Channel.EncodeFile(original, stream, DumpStream.DefaultChunkSize);

        var progress = new List<ulong>();
        ReceiveResult r = DumpReceiver.Receive(stream, vmcore, (done, total) => progress.Add(done));
        Assert.True(r.Ok, r.Message);
        Assert.Equal(new FileInfo(original).Length, r.Size);
        Assert.True(r.Size > int.MaxValue);
        Assert.Equal((ulong)r.Size, progress[^1]);
        // The headers, notes and low memory come back byte for byte; the zero chunks were not written
        // (the file is sparse there) and the marker past 2 GiB is read below through the inspector's reader.
        Assert.Equal(Head(original, 4 << 20), Head(vmcore, 4 << 20));

        var run = CliRun.Of(vmcore, "--no-disasm");
        Assert.True(run.Exit == 0, run.Err);
        Assert.Contains("0x0000000100000000", run.Out);
        Assert.Contains(FakeCrash.PanicMessage, run.Out);
        using var file = MappedFile.Open(vmcore);
        unsafe
        {
            Assert.True(VmcoreFile.Open(file.Pointer, (ulong)file.Length, out VmcoreFile core, out _));
            var read = new byte[marker.Length];
            Assert.Equal(marker.Length, core.ReadPhysical(at, read));
            Assert.Equal(marker, read);
        }
    }

    static byte[] Head(string path, int n)
    {
        using var f = File.OpenRead(path);
        var b = new byte[n];
        f.ReadExactly(b);
        return b;
    }

    [Fact]
    public void MissingChannelFile_IsNamed()
    {
        string file = _dir.File("vmcore.window");
        ReceiveResult r = DumpReceiver.Receive(file, _dir.File("vmcore"));
        Assert.False(r.Ok);
        Assert.Equal($"{file}: no such file", r.Message);
    }

    [Fact]
    public void OutputOverTheChannelFile_IsRefused()
    {
        string file = _dir.Write("vmcore.window", Stream);
        ReceiveResult r = DumpReceiver.Receive(file, file);
        Assert.False(r.Ok);
        Assert.Equal(Stream, File.ReadAllBytes(file));
    }

    [Fact]
    public void Receive_ReplacesAnOlderVmcoreOnSuccess()
    {
        string window = _dir.Write("vmcore.window", Stream);
        string vmcore = _dir.Write("vmcore", [1, 2, 3]);
        Assert.True(DumpReceiver.Receive(window, vmcore).Ok);
        Assert.Equal(Vmcore, File.ReadAllBytes(vmcore));
    }
}
