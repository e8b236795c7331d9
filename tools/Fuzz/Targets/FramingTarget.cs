// Fuzz target: the transfer framing decoder (DumpStream.Decode, the receiver's check of a window or
// debugcon stream), over streams the kernel's own writer framed: the real dump's headers and a
// synthetic crash's vmcore in chunks of several sizes, then cut, flipped and spliced. A stream it
// accepts must copy out as it checked; a refusal is the decoder's line.
using System.Text;
using CsCheck;

namespace Nmidump.Fuzz;

public sealed class FramingTarget : FuzzTarget
{
    public override string Name => "framing";
    public override string What => "the transfer framing decoder (DumpStream.Decode over a window or debugcon stream)";
    public override int HotPrefix => DumpStream.HeaderSize + DumpStream.ChunkHeaderSize;

    /// <summary>Largest vmcore a fuzzed stream may claim to carry before the decoder is asked to fill it.</summary>
    const ulong MaxOutput = 1 << 20;

    readonly List<byte[]> _seeds;
    public override IReadOnlyList<byte[]> Seeds => _seeds;

    public FramingTarget()
    {
        _seeds =
        [
            Frame(FuzzMachine.RealVmcoreHeaders, 1024),
            Frame(FuzzMachine.RealVmcoreHeaders, DumpStream.DefaultChunkSize),
            Frame(FuzzMachine.Vmcore(2, 4), 4096),
            Frame([], 4096),
            Frame(Encoding.ASCII.GetBytes("short"), 2),
        ];
    }

    /// <summary>The stream the capture kernel writes for <paramref name="vmcore"/>: header, checksummed chunks, trailer.</summary>
    public static byte[] Frame(byte[] vmcore, uint chunkSize)
    {
        ulong chunks = DumpStream.ChunkCount((ulong)vmcore.Length, chunkSize);
        var s = new byte[DumpStream.StreamSize((ulong)vmcore.Length, chunkSize)];
        DumpStream.WriteHeader(s, (ulong)vmcore.Length, chunkSize);
        int at = DumpStream.HeaderSize;
        ulong fold = 0;
        for (ulong i = 0; i < chunks; i++)
        {
            int from = (int)(i * chunkSize), n = (int)Math.Min(chunkSize, (ulong)vmcore.Length - (ulong)from);
            ulong sum = DumpStream.Checksum(vmcore.AsSpan(from, n));
            DumpStream.WriteChunkHeader(s.AsSpan(at), (uint)i, (uint)n, sum);
            vmcore.AsSpan(from, n).CopyTo(s.AsSpan(at + DumpStream.ChunkHeaderSize));
            at += DumpStream.ChunkHeaderSize + n;
            fold = DumpStream.Fold(fold, sum);
        }
        DumpStream.WriteTrailer(s.AsSpan(at), chunks, (ulong)vmcore.Length, fold);
        return s;
    }

    public override Gen<byte[]> Generated { get; } = Gen.Select(Gen.Byte.Array[0, 3000], Gen.UInt[1, 700], (v, c) => Frame(v, c));

    public override FuzzOutcome Check(byte[] input)
    {
        DumpStream.Result check = DumpStream.Decode(input, default);
        if (!check.Ok) return FuzzOutcome.Rejected(Describe(check));
        if (check.Length > MaxOutput) return FuzzOutcome.Ok;
        var output = new byte[check.Length];
        DumpStream.Result full = DumpStream.Decode(input, output);
        if (!full.Ok) throw new FuzzFailure($"a stream that checked out failed when copied: {Describe(full)}");
        if (full.Length != check.Length || full.Chunks != check.Chunks)
            throw new FuzzFailure($"checking and copying the same stream disagree: {check.Length} bytes in {check.Chunks} chunks, then {full.Length} in {full.Chunks}");
        return FuzzOutcome.Ok;
    }

    static string Describe(DumpStream.Result r)
    {
        LogLine l = default;
        r.Describe(ref l);
        return Encoding.Latin1.GetString(l.AsSpan());
    }
}
