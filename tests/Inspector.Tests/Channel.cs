// The capture kernel's side of the transfer, for the receiver tests: a vmcore framed with the
// kernel's own DumpStream writers (header, chunk headers with their checksums, the trailer with
// the folded checksum of checksums), as the export loop writes it into the window or debugcon.
namespace Nmidump.Inspector.Tests;

static class Channel
{
    public static byte[] Encode(byte[] vmcore, uint chunkSize)
    {
        ulong chunks = DumpStream.ChunkCount((ulong)vmcore.Length, chunkSize);
        var stream = new byte[DumpStream.StreamSize((ulong)vmcore.Length, chunkSize)];
        DumpStream.WriteHeader(stream, (ulong)vmcore.Length, chunkSize);
        int at = DumpStream.HeaderSize;
        ulong fold = 0;
        for (ulong i = 0; i < chunks; i++)
        {
            int from = (int)(i * chunkSize);
            int n = (int)Math.Min(chunkSize, (ulong)vmcore.Length - (ulong)from);
            ulong sum = DumpStream.Checksum(vmcore.AsSpan(from, n));
            DumpStream.WriteChunkHeader(stream.AsSpan(at), (uint)i, (uint)n, sum);
            vmcore.AsSpan(from, n).CopyTo(stream.AsSpan(at + DumpStream.ChunkHeaderSize));
            at += DumpStream.ChunkHeaderSize + n;
            fold = DumpStream.Fold(fold, sum);
        }
        DumpStream.WriteTrailer(stream.AsSpan(at), chunks, (ulong)vmcore.Length, fold);
        return stream;
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
