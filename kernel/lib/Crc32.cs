// Crc32: CRC-32 as zlib's crc32() and IEEE 802.3 define it (reflected polynomial 0xEDB88320, initial
// and final XOR 0xFFFFFFFF), for framing the dump on its way to the host so that a cut or damaged
// transfer is detected. Byte-at-a-time with a 256-entry table (Sarwate's method).
using System;
using System.Threading;

public static unsafe class Crc32
{
    /// <summary>The reflected generator polynomial x^32 + x^26 + ... + 1.</summary>
    public const uint Polynomial = 0xEDB88320;

    /// <summary>The CRC of one buffer: Compute("123456789") is 0xCBF43926.</summary>
    public static uint Compute(ReadOnlySpan<byte> data) => Update(0, data);

    /// <summary>
    /// Continues a CRC as zlib's crc32(crc, buf, len) does: start from 0, pass each result back in,
    /// and Update(Update(0, a), b) == Compute(a followed by b).
    /// </summary>
    public static uint Update(uint crc, ReadOnlySpan<byte> data)
    {
        fixed (byte* p = data) return Update(crc, p, (ulong)data.Length);
    }

    /// <summary>The same over memory by pointer, for ranges larger than a span can describe.</summary>
    public static uint Update(uint crc, byte* data, ulong length)
    {
        EnsureTable();
        uint c = ~crc;
        fixed (uint* table = s_table.T)
        {
            for (ulong i = 0; i < length; i++)
                c = table[(c ^ data[i]) & 0xFF] ^ (c >> 8);
        }
        return ~c;
    }

    private struct Table
    {
        public fixed uint T[256];
    }

    // Computed on first use; two CPUs racing here write the same values, and the flag is published
    // after the table, so a reader that sees the flag sees the whole table.
    private static Table s_table;
    private static int s_ready;

    private static void EnsureTable()
    {
        if (Volatile.Read(ref s_ready) != 0) return;
        for (int n = 0; n < 256; n++)
        {
            uint c = (uint)n;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? Polynomial ^ (c >> 1) : c >> 1;
            s_table.T[n] = c;
        }
        Volatile.Write(ref s_ready, 1);
    }
}
