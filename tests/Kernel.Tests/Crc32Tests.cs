// CRC-32 (kernel/Crc32.cs): the IEEE/zlib check values, incremental use as zlib's crc32() chains it,
// and a bit-at-a-time reference written from the polynomial on random data.
using System.Text;

namespace Kernel.Tests;

public unsafe class Crc32Tests
{
    static uint Reference(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in data)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0xEDB88320u & (uint)-(int)(crc & 1));
        }
        return ~crc;
    }

    [Theory]
    [InlineData("", 0x00000000u)]
    [InlineData("123456789", 0xCBF43926u)]
    [InlineData("a", 0xE8B7BE43u)]
    [InlineData("The quick brown fox jumps over the lazy dog", 0x414FA339u)]
    public void KnownVectors(string text, uint expected) => Assert.Equal(expected, Crc32.Compute(Encoding.ASCII.GetBytes(text)));

    [Fact]
    public void Update_ChainsLikeZlib()
    {
        var data = Encoding.ASCII.GetBytes("123456789");
        for (int split = 0; split <= data.Length; split++)
            Assert.Equal(0xCBF43926u, Crc32.Update(Crc32.Update(0, data.AsSpan(0, split)), data.AsSpan(split)));
    }

    [Theory]
    [InlineData(61)]
    [InlineData(62)]
    public void RandomData_MatchesTheBitwiseReference(int seed)
    {
        var rng = new Random(seed);
        for (int i = 0; i < 500; i++)
        {
            var data = new byte[rng.Next(0, 2000)];
            rng.NextBytes(data);
            uint expected = Reference(data);
            Assert.Equal(expected, Crc32.Compute(data));
            int split = rng.Next(0, data.Length + 1);
            fixed (byte* p = data)
                Assert.Equal(expected, Crc32.Update(Crc32.Update(0, p, (ulong)split), p + split, (ulong)(data.Length - split)));
        }
    }

    [Fact]
    public void SingleBitFlips_AreAllDetected()
    {
        var data = new byte[256];
        new Random(63).NextBytes(data);
        uint good = Crc32.Compute(data);
        for (int bit = 0; bit < data.Length * 8; bit++)
        {
            data[bit / 8] ^= (byte)(1 << (bit % 8));
            Assert.NotEqual(good, Crc32.Compute(data));
            data[bit / 8] ^= (byte)(1 << (bit % 8));
        }
    }
}
