// The framing of a vmcore on its way from the capture kernel to the host, the same on every
// channel (the shared-memory window, debugcon): a header with the total length, the vmcore in
// chunks that each carry their index, length and a checksum, and a trailer. The host accepts a
// dump only if every chunk is there, in order, intact, and the lengths add up, so a truncated or
// damaged transfer is named, never taken for a good one.
//
//   header  (64 bytes)  "NMIDUMP1", u32 version, u32 chunk size, u64 vmcore length, u64 chunk count,
//                       u32 header CRC-32 (over bytes 0..39, CRC field zero), padding
//   chunk   (24 + n)    u32 'CHNK', u32 index, u32 n, u32 reserved, u64 checksum, then n bytes
//   trailer (32 bytes)  u32 'DONE', u32 reserved, u64 chunk count, u64 vmcore length, u64 checksum of checksums
//
// The per-chunk check is a Fletcher-style pair of 64-bit sums over little-endian 8-byte words
// (bytes past the last whole word are added one by one): a few instructions per 8 bytes, so it
// costs well under a second per GiB under TCG, where a byte-wise CRC-32 would cost tens of seconds.
// It catches truncation, reordering and any damage that changes a word's value or position.
using System;

public static unsafe class DumpStream
{
    public const int HeaderSize = 64, ChunkHeaderSize = 24, TrailerSize = 32;
    public const uint Version = 1;
    public const uint DefaultChunkSize = 1 << 20;
    public const uint ChunkMagic = 0x4B4E4843;    // "CHNK"
    public const uint TrailerMagic = 0x454E4F44;  // "DONE"
    static ReadOnlySpan<byte> Magic => "NMIDUMP1"u8;

    public static ulong ChunkCount(ulong length, uint chunkSize) => chunkSize == 0 ? 0 : (length + chunkSize - 1) / chunkSize;

    /// <summary>Bytes on the wire for a vmcore of this length.</summary>
    public static ulong StreamSize(ulong length, uint chunkSize) =>
        HeaderSize + ChunkCount(length, chunkSize) * ChunkHeaderSize + length + TrailerSize;

    /// <summary>
    /// The running checksum of one chunk, fed in pieces: every piece but the last must be a
    /// multiple of 8 bytes long, so the words line up as in one pass over the whole chunk.
    /// </summary>
    public struct ChecksumState
    {
        ulong _a, _b;

        public static ChecksumState Start() => new ChecksumState { _a = 0x6E6D6964, _b = 0 };

        public void Add(byte* data, ulong length)
        {
            ulong a = _a, b = _b;
            ulong words = length / 8;
            ulong* q = (ulong*)data;
            ulong i = 0;
            // Four words a round: the same sums, a third of the loop overhead (it dominates the
            // export's time under TCG, where the copy itself is one rep movsq).
            for (; i + 4 <= words; i += 4)
            {
                a += q[i]; b += a;
                a += q[i + 1]; b += a;
                a += q[i + 2]; b += a;
                a += q[i + 3]; b += a;
            }
            for (; i < words; i++)
            {
                a += q[i];
                b += a;
            }
            for (ulong k = words * 8; k < length; k++)
            {
                a += data[k];
                b += a;
            }
            _a = a;
            _b = b;
        }

        public readonly ulong Finish() => _a ^ ((_b << 32) | (_b >> 32));
    }

    /// <summary>The checksum of one chunk in one piece.</summary>
    public static ulong Checksum(byte* data, ulong length)
    {
        ChecksumState s = ChecksumState.Start();
        s.Add(data, length);
        return s.Finish();
    }

    public static ulong Checksum(ReadOnlySpan<byte> data)
    {
        fixed (byte* p = data) return Checksum(p, (ulong)data.Length);
    }

    public static void WriteHeader(Span<byte> dst, ulong length, uint chunkSize)
    {
        dst.Slice(0, HeaderSize).Clear();
        Magic.CopyTo(dst);
        Put32(dst, 8, Version);
        Put32(dst, 12, chunkSize);
        Put64(dst, 16, length);
        Put64(dst, 24, ChunkCount(length, chunkSize));
        Put32(dst, 40, Crc32.Compute(dst.Slice(0, 40)));
    }

    public static void WriteChunkHeader(Span<byte> dst, uint index, uint length, ulong checksum)
    {
        Put32(dst, 0, ChunkMagic);
        Put32(dst, 4, index);
        Put32(dst, 8, length);
        Put32(dst, 12, 0);
        Put64(dst, 16, checksum);
    }

    public static void WriteTrailer(Span<byte> dst, ulong chunks, ulong length, ulong checksumOfChecksums)
    {
        Put32(dst, 0, TrailerMagic);
        Put32(dst, 4, 0);
        Put64(dst, 8, chunks);
        Put64(dst, 16, length);
        Put64(dst, 24, checksumOfChecksums);
    }

    /// <summary>Folds one chunk's checksum into the trailer's running value (order matters).</summary>
    public static ulong Fold(ulong running, ulong chunkChecksum) => ((running << 7) | (running >> 57)) ^ chunkChecksum;

    public enum Problem { None, NoHeader, HeaderCut, BadMagic, BadVersion, BadHeaderCrc, BadChunkSize, Truncated, BadChunk, ChunkOutOfOrder, ChunkTooLong, ChecksumMismatch, BadTrailer, LengthMismatch }

    /// <summary>What was wrong, with the numbers that say where.</summary>
    public struct Result
    {
        public Problem Problem;
        public ulong Length, Chunks, ChunkIndex, Offset, Expected, Got;

        public readonly bool Ok => Problem == Problem.None;

        public readonly void Describe(ref LogLine l)
        {
            switch (Problem)
            {
                case Problem.None: l.Append("ok: "); l.AppendDecimal(Length); l.Append(" bytes in "); l.AppendDecimal(Chunks); l.Append(" chunks"); break;
                case Problem.NoHeader: l.Append("truncated: no stream header (the capture kernel wrote nothing)"); break;
                case Problem.HeaderCut: l.Append("truncated: the stream header is cut at byte "); l.AppendDecimal(Offset); l.Append(" of "); l.AppendDecimal(HeaderSize); break;
                case Problem.BadMagic: l.Append("not a dump stream: no NMIDUMP1 header"); break;
                case Problem.BadVersion: l.Append("unsupported stream version "); l.AppendDecimal(Got); break;
                case Problem.BadHeaderCrc: l.Append("damaged: the stream header's CRC does not match"); break;
                case Problem.BadChunkSize: l.Append("damaged: chunk size "); l.AppendDecimal(Got); l.Append(" in the header"); break;
                case Problem.Truncated:
                    l.Append("truncated: "); l.AppendDecimal(ChunkIndex); l.Append(" of "); l.AppendDecimal(Chunks);
                    l.Append(" chunks arrived (stream ends at byte "); l.AppendDecimal(Offset); l.Append(", "); l.AppendDecimal(Expected); l.Append(" expected)");
                    break;
                case Problem.BadChunk: l.Append("damaged: chunk "); l.AppendDecimal(ChunkIndex); l.Append(" has no chunk header at byte "); l.AppendDecimal(Offset); break;
                case Problem.ChunkOutOfOrder: l.Append("damaged: chunk "); l.AppendDecimal(Got); l.Append(" found where chunk "); l.AppendDecimal(Expected); l.Append(" belongs"); break;
                case Problem.ChunkTooLong: l.Append("damaged: chunk "); l.AppendDecimal(ChunkIndex); l.Append(" claims "); l.AppendDecimal(Got); l.Append(" bytes, "); l.AppendDecimal(Expected); l.Append(" expected"); break;
                case Problem.ChecksumMismatch:
                    l.Append("damaged: chunk "); l.AppendDecimal(ChunkIndex); l.Append(" (vmcore bytes "); l.AppendDecimal(Offset); l.Append(" onwards) checksum 0x");
                    l.AppendHex(Got, 16); l.Append(", expected 0x"); l.AppendHex(Expected, 16);
                    break;
                case Problem.BadTrailer: l.Append("truncated: the stream has no trailer after its last chunk"); break;
                case Problem.LengthMismatch: l.Append("damaged: the trailer says "); l.AppendDecimal(Got); l.Append(" bytes, the header "); l.AppendDecimal(Expected); break;
            }
        }
    }

    /// <summary>
    /// Checks a whole stream and copies the vmcore out of it into output (which must hold the
    /// header's length; pass an empty span to only check, then call again with room).
    /// </summary>
    public static Result Decode(ReadOnlySpan<byte> stream, Span<byte> output)
    {
        Result r = default;
        if (stream.Length < HeaderSize) { r.Problem = stream.Length == 0 || AllZero(stream) ? Problem.NoHeader : Problem.HeaderCut; r.Offset = (ulong)stream.Length; return r; }
        if (!stream.Slice(0, 8).SequenceEqualTo(Magic)) { r.Problem = AllZero(stream.Slice(0, HeaderSize)) ? Problem.NoHeader : Problem.BadMagic; return r; }
        Span<byte> h = stackalloc byte[40];
        stream.Slice(0, 40).CopyTo(h);
        if (Get32(stream, 40) != Crc32.Compute(h)) { r.Problem = Problem.BadHeaderCrc; return r; }
        uint version = Get32(stream, 8);
        if (version != Version) { r.Problem = Problem.BadVersion; r.Got = version; return r; }
        uint chunkSize = Get32(stream, 12);
        r.Length = Get64(stream, 16);
        r.Chunks = Get64(stream, 24);
        if (chunkSize == 0 || chunkSize > 1 << 30 || r.Chunks != ChunkCount(r.Length, chunkSize)) { r.Problem = Problem.BadChunkSize; r.Got = chunkSize; return r; }
        bool copy = !output.IsEmpty;
        if (copy && (ulong)output.Length < r.Length) { r.Problem = Problem.LengthMismatch; r.Expected = r.Length; r.Got = (ulong)output.Length; return r; }

        ulong at = HeaderSize, done = 0, fold = 0;
        for (ulong i = 0; i < r.Chunks; i++)
        {
            ulong want = r.Length - done < chunkSize ? r.Length - done : chunkSize;
            if ((ulong)stream.Length < at + ChunkHeaderSize + want)
            {
                r.Problem = Problem.Truncated; r.ChunkIndex = i; r.Offset = (ulong)stream.Length; r.Expected = StreamSize(r.Length, chunkSize);
                return r;
            }
            if (Get32(stream, (int)at) != ChunkMagic) { r.Problem = AllZero(stream.Slice((int)at, ChunkHeaderSize)) ? Problem.Truncated : Problem.BadChunk; r.ChunkIndex = i; r.Offset = at; r.Expected = StreamSize(r.Length, chunkSize); return r; }
            uint index = Get32(stream, (int)at + 4), n = Get32(stream, (int)at + 8);
            if (index != i) { r.Problem = Problem.ChunkOutOfOrder; r.Expected = i; r.Got = index; r.ChunkIndex = i; return r; }
            if (n != want) { r.Problem = Problem.ChunkTooLong; r.ChunkIndex = i; r.Expected = want; r.Got = n; return r; }
            ulong expected = Get64(stream, (int)at + 16);
            ReadOnlySpan<byte> payload = stream.Slice((int)(at + ChunkHeaderSize), (int)n);
            ulong got = Checksum(payload);
            if (got != expected) { r.Problem = Problem.ChecksumMismatch; r.ChunkIndex = i; r.Offset = done; r.Expected = expected; r.Got = got; return r; }
            if (copy) payload.CopyTo(output.Slice((int)done));
            fold = Fold(fold, got);
            done += n;
            at += ChunkHeaderSize + n;
        }
        if ((ulong)stream.Length < at + TrailerSize || Get32(stream, (int)at) != TrailerMagic) { r.Problem = Problem.BadTrailer; r.Offset = at; return r; }
        if (Get64(stream, (int)at + 8) != r.Chunks || Get64(stream, (int)at + 16) != r.Length) { r.Problem = Problem.LengthMismatch; r.Expected = r.Length; r.Got = Get64(stream, (int)at + 16); return r; }
        if (Get64(stream, (int)at + 24) != fold) { r.Problem = Problem.ChecksumMismatch; r.ChunkIndex = r.Chunks; r.Expected = Get64(stream, (int)at + 24); r.Got = fold; return r; }
        return r;
    }

    static bool AllZero(ReadOnlySpan<byte> s)
    {
        for (int i = 0; i < s.Length; i++) if (s[i] != 0) return false;
        return true;
    }

    static bool SequenceEqualTo(this ReadOnlySpan<byte> a, ReadOnlySpan<byte> b)
    {
        if (a.Length != b.Length) return false;
        for (int i = 0; i < a.Length; i++) if (a[i] != b[i]) return false;
        return true;
    }

    static void Put32(Span<byte> d, int at, uint v) { d[at] = (byte)v; d[at + 1] = (byte)(v >> 8); d[at + 2] = (byte)(v >> 16); d[at + 3] = (byte)(v >> 24); }
    static void Put64(Span<byte> d, int at, ulong v) { Put32(d, at, (uint)v); Put32(d, at + 4, (uint)(v >> 32)); }
    static uint Get32(ReadOnlySpan<byte> s, int at) => (uint)(s[at] | s[at + 1] << 8 | s[at + 2] << 16 | s[at + 3] << 24);
    static ulong Get64(ReadOnlySpan<byte> s, int at) => Get32(s, at) | (ulong)Get32(s, at + 4) << 32;
}
