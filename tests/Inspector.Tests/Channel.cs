// The capture kernel's side of the transfer, for the receiver tests: a vmcore framed with the
// kernel's own DumpStream writers (header, chunk headers with their checksums, the trailer with
// the folded checksum of checksums), as the export loop writes it into the window or debugcon.
namespace Nmidump.Inspector.Tests;

static class Channel
{
    /// <summary>The stream for a vmcore in memory: the fuzzer's framing (tools/Fuzz/Targets/FramingTarget.cs), one writer for both.</summary>
    public static byte[] Encode(byte[] vmcore, uint chunkSize) => Nmidump.Fuzz.FramingTarget.Frame(vmcore, chunkSize);

    /// <summary>
    /// The same framing from a vmcore file of any size into a stream file, written sparse: an
    /// all-zero payload is skipped, so a mostly-empty 2.5 GiB dump costs little disk.
    /// </summary>
    public static void EncodeFile(string vmcorePath, string streamPath, uint chunkSize)
    {
        using var input = new FileStream(vmcorePath, FileMode.Open, FileAccess.Read, FileShare.Read, 1);
        using var output = new FileStream(streamPath, FileMode.Create, FileAccess.Write);
        ulong length = (ulong)input.Length, chunks = DumpStream.ChunkCount(length, chunkSize), fold = 0;
        var small = new byte[DumpStream.HeaderSize];
        DumpStream.WriteHeader(small, length, chunkSize);
        output.Write(small, 0, DumpStream.HeaderSize);
        ulong zeroSum = DumpStream.Checksum(new byte[chunkSize]);
        var buffer = new byte[chunkSize];
        for (ulong i = 0; i < chunks; i++)
        {
            int n = (int)Math.Min(chunkSize, length - i * chunkSize);
            input.ReadExactly(buffer, 0, n);
            var chunk = new ReadOnlySpan<byte>(buffer, 0, n);
            bool zero = chunk.IndexOfAnyExcept((byte)0) < 0;
            ulong sum = zero && n == chunkSize ? zeroSum : DumpStream.Checksum(chunk);
            DumpStream.WriteChunkHeader(small, (uint)i, (uint)n, sum);
            output.Write(small, 0, DumpStream.ChunkHeaderSize);
            if (!zero) output.Write(chunk);
            else output.Seek(n, SeekOrigin.Current);
            fold = DumpStream.Fold(fold, sum);
        }
        DumpStream.WriteTrailer(small, chunks, length, fold);
        output.Write(small, 0, DumpStream.TrailerSize);
    }

    /// <summary>Where chunk <paramref name="index"/>'s header starts in a stream.</summary>
    public static int ChunkAt(int index, uint chunkSize) => DumpStream.HeaderSize + index * (DumpStream.ChunkHeaderSize + (int)chunkSize);

    /// <summary>A shared-memory window file: the stream at offset 0, zeros after it.</summary>
    public static byte[] Window(byte[] stream, int windowSize)
    {
        var window = new byte[windowSize];
        stream.AsSpan(0, Math.Min(stream.Length, windowSize)).CopyTo(window);
        return window;
    }
}
