// Sha256: SHA-256 (FIPS 180-4), incremental, allocation-free. The first kernel digests the capture
// image's segments at load time and checks them again before jumping into it, as kexec-tools'
// purgatory does (purgatory/purgatory.c, verify_sha256_digest()); the host compares with .NET's.
using System;
using System.Threading;

/// <summary>
/// One hash computation: <see cref="Init"/>, any number of <see cref="Update(ReadOnlySpan{byte})"/>,
/// then <see cref="Final"/>. A plain struct of 112 bytes, so it can live on the stack of a crashed
/// CPU or in a static; it holds no pointers.
/// </summary>
public unsafe struct Sha256
{
    public const int DigestSize = 32, BlockSize = 64;

    private fixed uint _h[8];
    private fixed byte _block[BlockSize];
    private int _blockLength;
    private ulong _totalBytes;

    /// <summary>A context ready for Update.</summary>
    public static Sha256 Create()
    {
        Sha256 s = default;
        s.Init();
        return s;
    }

    /// <summary>FIPS 180-4 section 5.3.3: the initial hash value H(0).</summary>
    public void Init()
    {
        _h[0] = 0x6a09e667; _h[1] = 0xbb67ae85; _h[2] = 0x3c6ef372; _h[3] = 0xa54ff53a;
        _h[4] = 0x510e527f; _h[5] = 0x9b05688c; _h[6] = 0x1f83d9ab; _h[7] = 0x5be0cd19;
        _blockLength = 0;
        _totalBytes = 0;
        EnsureConstants();
    }

    public void Update(ReadOnlySpan<byte> data)
    {
        fixed (byte* p = data) Update(p, (ulong)data.Length);
    }

    /// <summary>Hashes memory by pointer, for ranges larger than a span can describe (kexec segments).</summary>
    public void Update(byte* data, ulong length)
    {
        if (length == 0) return;
        _totalBytes += length;
        fixed (uint* h = _h)
        fixed (byte* block = _block)
        {
            // A context used before Init (or scribbled) must not index outside the block.
            if ((uint)_blockLength >= BlockSize) _blockLength = 0;
            if (_blockLength > 0)
            {
                ulong take = (ulong)(BlockSize - _blockLength);
                if (take > length) take = length;
                for (ulong i = 0; i < take; i++) block[_blockLength + (int)i] = data[i];
                _blockLength += (int)take;
                data += take;
                length -= take;
                if (_blockLength < BlockSize) return;
                Compress(h, block);
                _blockLength = 0;
            }
            while (length >= BlockSize)
            {
                Compress(h, data);
                data += BlockSize;
                length -= BlockSize;
            }
            for (int i = 0; i < (int)length; i++) block[i] = data[i];
            _blockLength = (int)length;
        }
    }

    /// <summary>
    /// Pads (section 5.1.1: a 1 bit, zeros, the bit length as 64 bits big-endian) and writes the
    /// 32-byte digest. False if <paramref name="digest"/> is shorter than 32 bytes. The context must
    /// be Init-ed again before reuse.
    /// </summary>
    public bool Final(Span<byte> digest)
    {
        if (digest.Length < DigestSize) return false;
        ulong bits = _totalBytes << 3;
        fixed (uint* h = _h)
        fixed (byte* block = _block)
        {
            if ((uint)_blockLength >= BlockSize) _blockLength = 0;
            int n = _blockLength;
            block[n++] = 0x80;
            if (n > BlockSize - 8)
            {
                while (n < BlockSize) block[n++] = 0;
                Compress(h, block);
                n = 0;
            }
            while (n < BlockSize - 8) block[n++] = 0;
            for (int i = 0; i < 8; i++) block[BlockSize - 1 - i] = (byte)(bits >> (8 * i));
            Compress(h, block);
            for (int i = 0; i < 8; i++)
            {
                digest[4 * i] = (byte)(h[i] >> 24);
                digest[4 * i + 1] = (byte)(h[i] >> 16);
                digest[4 * i + 2] = (byte)(h[i] >> 8);
                digest[4 * i + 3] = (byte)h[i];
            }
        }
        _blockLength = 0;
        return true;
    }

    /// <summary>The digest of one buffer.</summary>
    public static bool Hash(ReadOnlySpan<byte> data, Span<byte> digest)
    {
        Sha256 s = Create();
        s.Update(data);
        return s.Final(digest);
    }

    /// <summary>Compares two digests without stopping at the first difference.</summary>
    public static bool DigestsEqual(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b)
    {
        if (a.Length != b.Length) return false;
        int diff = 0;
        for (int i = 0; i < a.Length; i++) diff |= a[i] ^ b[i];
        return diff == 0;
    }

    // ---- The compression function (section 6.2.2) -----------------------------------------------

    private static uint Rotr(uint x, int n) => (x >> n) | (x << (32 - n));

    // Eight rounds per loop pass with the eight working variables rotating roles instead of moving
    // (the usual unrolling of section 6.2.2, step 3): the crash path digests the capture image with
    // this, and under TCG the seven register moves per round and the loop's branch cost as much as
    // the round's arithmetic. Ch and Maj in their two-operation forms.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private static void Round(uint a, uint b, uint c, ref uint d, uint e, uint f, uint g, ref uint h, uint kw)
    {
        uint t1 = h + (Rotr(e, 6) ^ Rotr(e, 11) ^ Rotr(e, 25)) + (g ^ (e & (f ^ g))) + kw;
        d += t1;
        h = t1 + (Rotr(a, 2) ^ Rotr(a, 13) ^ Rotr(a, 22)) + ((a & b) | (c & (a | b)));
    }

    // No zeroing of the schedule's 256 bytes per block: every word is written before it is read.
    [System.Runtime.CompilerServices.SkipLocalsInit]
    private static void Compress(uint* h, byte* m)
    {
        EnsureConstants();    // one load once filled; covers a context that skipped Init
        uint* w = stackalloc uint[64];
        uint* mw = (uint*)m;
        for (int t = 0; t < 16; t++)
        {
            uint x = mw[t];
            w[t] = (x >> 24) | ((x >> 8) & 0xFF00) | ((x << 8) & 0xFF_0000) | (x << 24);
        }
        for (int t = 16; t < 64; t++)
        {
            uint w15 = w[t - 15], w2 = w[t - 2];
            uint s0 = Rotr(w15, 7) ^ Rotr(w15, 18) ^ (w15 >> 3);
            uint s1 = Rotr(w2, 17) ^ Rotr(w2, 19) ^ (w2 >> 10);
            w[t] = w[t - 16] + s0 + w[t - 7] + s1;
        }
        uint a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
        for (int t = 0; t < 64; t += 8)
        {
            Round(a, b, c, ref d, e, f, g, ref hh, s_k.K[t] + w[t]);
            Round(hh, a, b, ref c, d, e, f, ref g, s_k.K[t + 1] + w[t + 1]);
            Round(g, hh, a, ref b, c, d, e, ref f, s_k.K[t + 2] + w[t + 2]);
            Round(f, g, hh, ref a, b, c, d, ref e, s_k.K[t + 3] + w[t + 3]);
            Round(e, f, g, ref hh, a, b, c, ref d, s_k.K[t + 4] + w[t + 4]);
            Round(d, e, f, ref g, hh, a, b, ref c, s_k.K[t + 5] + w[t + 5]);
            Round(c, d, e, ref f, g, hh, a, ref b, s_k.K[t + 6] + w[t + 6]);
            Round(b, c, d, ref e, f, g, hh, ref a, s_k.K[t + 7] + w[t + 7]);
        }
        h[0] += a; h[1] += b; h[2] += c; h[3] += d;
        h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
    }

    // ---- The constants K (section 4.2.2) ------------------------------------------------------------

    private struct Constants
    {
        public fixed uint K[64];
    }

    // Filled on first use (the kernel's C# has no constant uint tables: arrays need the allocator).
    // Filling is idempotent, so two CPUs racing here write the same values; the flag is published
    // after the table.
    private static Constants s_k;
    private static int s_kReady;

    /// <summary>The first 32 bits of the fractional parts of the cube roots of the first 64 primes.</summary>
    private static void EnsureConstants()
    {
        if (Volatile.Read(ref s_kReady) != 0) return;
        fixed (uint* k = s_k.K)
        {
            k[0] = 0x428a2f98; k[1] = 0x71374491; k[2] = 0xb5c0fbcf; k[3] = 0xe9b5dba5;
            k[4] = 0x3956c25b; k[5] = 0x59f111f1; k[6] = 0x923f82a4; k[7] = 0xab1c5ed5;
            k[8] = 0xd807aa98; k[9] = 0x12835b01; k[10] = 0x243185be; k[11] = 0x550c7dc3;
            k[12] = 0x72be5d74; k[13] = 0x80deb1fe; k[14] = 0x9bdc06a7; k[15] = 0xc19bf174;
            k[16] = 0xe49b69c1; k[17] = 0xefbe4786; k[18] = 0x0fc19dc6; k[19] = 0x240ca1cc;
            k[20] = 0x2de92c6f; k[21] = 0x4a7484aa; k[22] = 0x5cb0a9dc; k[23] = 0x76f988da;
            k[24] = 0x983e5152; k[25] = 0xa831c66d; k[26] = 0xb00327c8; k[27] = 0xbf597fc7;
            k[28] = 0xc6e00bf3; k[29] = 0xd5a79147; k[30] = 0x06ca6351; k[31] = 0x14292967;
            k[32] = 0x27b70a85; k[33] = 0x2e1b2138; k[34] = 0x4d2c6dfc; k[35] = 0x53380d13;
            k[36] = 0x650a7354; k[37] = 0x766a0abb; k[38] = 0x81c2c92e; k[39] = 0x92722c85;
            k[40] = 0xa2bfe8a1; k[41] = 0xa81a664b; k[42] = 0xc24b8b70; k[43] = 0xc76c51a3;
            k[44] = 0xd192e819; k[45] = 0xd6990624; k[46] = 0xf40e3585; k[47] = 0x106aa070;
            k[48] = 0x19a4c116; k[49] = 0x1e376c08; k[50] = 0x2748774c; k[51] = 0x34b0bcb5;
            k[52] = 0x391c0cb3; k[53] = 0x4ed8aa4a; k[54] = 0x5b9cca4f; k[55] = 0x682e6ff3;
            k[56] = 0x748f82ee; k[57] = 0x78a5636f; k[58] = 0x84c87814; k[59] = 0x8cc70208;
            k[60] = 0x90befffa; k[61] = 0xa4506ceb; k[62] = 0xbef9a3f7; k[63] = 0xc67178f2;
        }
        Volatile.Write(ref s_kReady, 1);
    }
}
