// The framing of a vmcore on its way from the capture kernel to the host, the same on every
// channel (the shared-memory window, debugcon): a header with the total length, the vmcore in
// chunks that each carry their index, length and a checksum, and a trailer. The host accepts a
// dump only if every chunk is there, in order, intact, and the lengths add up, so a truncated or
// damaged transfer is named, never taken for a good one. In the window each chunk's payload is
// written before its header, and each header's magic last, so a reader following the window while
// the guest writes (DumpStreamReader) may take a chunk as soon as its magic is there.
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

        /// <summary>
        /// Copies <paramref name="length"/> bytes from src to dst and adds them, in one pass: every
        /// word is loaded once, summed and stored from the same register, so the checksum is of
        /// exactly the bytes sent, whatever the source does meanwhile (and a second read of the
        /// source costs nothing under TCG, where the reads dominate).
        /// </summary>
        public void AddCopy(byte* dst, byte* src, ulong length)
        {
            ulong a = _a, b = _b;
            ulong words = length / 8;
            ulong* s = (ulong*)src;
            ulong* d = (ulong*)dst;
            ulong i = 0;
            for (; i + 4 <= words; i += 4)
            {
                ulong w0 = s[i], w1 = s[i + 1], w2 = s[i + 2], w3 = s[i + 3];
                d[i] = w0; d[i + 1] = w1; d[i + 2] = w2; d[i + 3] = w3;
                a += w0; b += a;
                a += w1; b += a;
                a += w2; b += a;
                a += w3; b += a;
            }
            for (; i < words; i++)
            {
                ulong w = s[i];
                d[i] = w;
                a += w;
                b += a;
            }
            for (ulong k = words * 8; k < length; k++)
            {
                byte v = src[k];
                dst[k] = v;
                a += v;
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
    /// The decoder, fed one piece at a time: the header, each chunk with its chunk header, the
    /// trailer. Spans are at most a chunk long, so a stream of any length (a 64 GiB full dump) is
    /// checked as it is read, or as it arrives in a window the guest is still writing. Each call
    /// says whether the piece was good; on the first bad one <see cref="Result"/> names the problem.
    /// </summary>
    public struct Reader
    {
        uint _chunkSize;
        ulong _fold;
        /// <summary>Length and Chunks once the header is read; Problem when something was wrong.</summary>
        public Result Result;
        /// <summary>Index of the next chunk.</summary>
        public ulong NextChunk;
        /// <summary>Vmcore bytes checked so far (where the next chunk's payload goes in the vmcore).</summary>
        public ulong Done;
        /// <summary>Stream offset of the next piece.</summary>
        public ulong Position;

        public readonly uint ChunkSize => _chunkSize;
        public readonly bool ChunksDone => NextChunk == Result.Chunks;
        /// <summary>Stream bytes of the whole stream the header describes.</summary>
        public readonly ulong StreamLength => StreamSize(Result.Length, _chunkSize);
        /// <summary>Stream bytes the next chunk takes, its header included.</summary>
        public readonly int NextChunkBytes => ChunkHeaderSize + (int)(Result.Length - Done < _chunkSize ? Result.Length - Done : _chunkSize);

        /// <summary>
        /// The header: <paramref name="head"/> is the stream's first bytes, up to HeaderSize of them
        /// (fewer when the channel holds fewer).
        /// </summary>
        public bool ReadHeader(ReadOnlySpan<byte> head)
        {
            this = default;
            if (head.Length < HeaderSize) return Fail(head.Length == 0 || AllZero(head) ? Problem.NoHeader : Problem.HeaderCut, (ulong)head.Length);
            if (!Bytes.Equal(head.Slice(0, 8), Magic)) return Fail(AllZero(head.Slice(0, HeaderSize)) ? Problem.NoHeader : Problem.BadMagic, 0);
            Span<byte> h = stackalloc byte[40];
            head.Slice(0, 40).CopyTo(h);
            if (Get32(head, 40) != Crc32.Compute(h)) return Fail(Problem.BadHeaderCrc, 0);
            uint version = Get32(head, 8);
            if (version != Version) { Result.Got = version; return Fail(Problem.BadVersion, 0); }
            uint chunkSize = Get32(head, 12);
            Result.Length = Get64(head, 16);
            Result.Chunks = Get64(head, 24);
            if (chunkSize == 0 || chunkSize > 1 << 30 || Result.Chunks != ChunkCount(Result.Length, chunkSize))
            {
                Result.Got = chunkSize;
                return Fail(Problem.BadChunkSize, 0);
            }
            _chunkSize = chunkSize;
            Position = HeaderSize;
            return true;
        }

        /// <summary>
        /// The next chunk: <paramref name="piece"/> holds the stream from <see cref="Position"/> on, at
        /// most <see cref="NextChunkBytes"/> of it (fewer when the channel ends sooner). On success
        /// <paramref name="payload"/> is its vmcore bytes, to go at offset Done before this call.
        /// </summary>
        public bool ReadChunk(ReadOnlySpan<byte> piece, out ReadOnlySpan<byte> payload)
        {
            payload = default;
            ulong i = NextChunk, at = Position;
            ulong want = Result.Length - Done < _chunkSize ? Result.Length - Done : _chunkSize;
            if ((ulong)piece.Length < ChunkHeaderSize + want)
            {
                Result.ChunkIndex = i;
                Result.Expected = StreamLength;
                return Fail(Problem.Truncated, at + (ulong)piece.Length);
            }
            if (Get32(piece, 0) != ChunkMagic)
            {
                Result.ChunkIndex = i;
                Result.Expected = StreamLength;
                return Fail(AllZero(piece.Slice(0, ChunkHeaderSize)) ? Problem.Truncated : Problem.BadChunk, at);
            }
            uint index = Get32(piece, 4), n = Get32(piece, 8);
            if (index != i) { Result.Expected = i; Result.Got = index; Result.ChunkIndex = i; return Fail(Problem.ChunkOutOfOrder, Result.Offset); }
            if (n != want) { Result.ChunkIndex = i; Result.Expected = want; Result.Got = n; return Fail(Problem.ChunkTooLong, Result.Offset); }
            ulong expected = Get64(piece, 16);
            ReadOnlySpan<byte> bytes = piece.Slice(ChunkHeaderSize, (int)n);
            ulong got = Checksum(bytes);
            if (got != expected) { Result.ChunkIndex = i; Result.Expected = expected; Result.Got = got; return Fail(Problem.ChecksumMismatch, Done); }
            _fold = Fold(_fold, got);
            payload = bytes;
            Done += n;
            Position += ChunkHeaderSize + n;
            NextChunk++;
            return true;
        }

        /// <summary>The trailer after the last chunk: <paramref name="piece"/> holds up to TrailerSize bytes from Position.</summary>
        public bool ReadTrailer(ReadOnlySpan<byte> piece)
        {
            if (piece.Length < TrailerSize || Get32(piece, 0) != TrailerMagic) return Fail(Problem.BadTrailer, Position);
            if (Get64(piece, 8) != Result.Chunks || Get64(piece, 16) != Result.Length)
            {
                Result.Expected = Result.Length;
                Result.Got = Get64(piece, 16);
                return Fail(Problem.LengthMismatch, Result.Offset);
            }
            if (Get64(piece, 24) != _fold)
            {
                Result.ChunkIndex = Result.Chunks;
                Result.Expected = Get64(piece, 24);
                Result.Got = _fold;
                return Fail(Problem.ChecksumMismatch, 0);
            }
            Position += TrailerSize;
            return true;
        }

        bool Fail(Problem p, ulong offset)
        {
            Result.Problem = p;
            Result.Offset = offset;
            return false;
        }
    }

    /// <summary>
    /// Checks a whole stream and copies the vmcore out of it into output (which must hold the
    /// header's length; pass an empty span to only check, then call again with room).
    /// </summary>
    public static Result Decode(ReadOnlySpan<byte> stream, Span<byte> output)
    {
        Reader r = default;
        if (!r.ReadHeader(stream.Length < HeaderSize ? stream : stream.Slice(0, HeaderSize))) return r.Result;
        bool copy = !output.IsEmpty;
        if (copy && (ulong)output.Length < r.Result.Length)
        {
            r.Result.Problem = Problem.LengthMismatch;
            r.Result.Expected = r.Result.Length;
            r.Result.Got = (ulong)output.Length;
            return r.Result;
        }
        while (!r.ChunksDone)
        {
            ulong at = r.Position, done = r.Done;
            ReadOnlySpan<byte> piece = at >= (ulong)stream.Length ? default : stream.Slice((int)at);
            if (piece.Length > r.NextChunkBytes) piece = piece.Slice(0, r.NextChunkBytes);
            if (!r.ReadChunk(piece, out ReadOnlySpan<byte> payload)) return r.Result;
            if (copy) payload.CopyTo(output.Slice((int)done));
        }
        ReadOnlySpan<byte> tail = r.Position >= (ulong)stream.Length ? default : stream.Slice((int)r.Position);
        r.ReadTrailer(tail.Length > TrailerSize ? tail.Slice(0, TrailerSize) : tail);
        return r.Result;
    }

    static bool AllZero(ReadOnlySpan<byte> s)
    {
        for (int i = 0; i < s.Length; i++) if (s[i] != 0) return false;
        return true;
    }

    static void Put32(Span<byte> d, int at, uint v) { d[at] = (byte)v; d[at + 1] = (byte)(v >> 8); d[at + 2] = (byte)(v >> 16); d[at + 3] = (byte)(v >> 24); }
    static void Put64(Span<byte> d, int at, ulong v) { Put32(d, at, (uint)v); Put32(d, at + 4, (uint)(v >> 32)); }
    static uint Get32(ReadOnlySpan<byte> s, int at) => (uint)(s[at] | s[at + 1] << 8 | s[at + 2] << 16 | s[at + 3] << 24);
    static ulong Get64(ReadOnlySpan<byte> s, int at) => Get32(s, at) | (ulong)Get32(s, at + 4) << 32;
}
