// SHA-256 (kernel/Sha256.cs) against the FIPS 180-4 example vectors and against .NET's own
// implementation on random inputs of many lengths, fed in one piece and split at random points.
using System.Security.Cryptography;
using System.Text;

namespace Kernel.Tests;

public unsafe class Sha256Tests
{
    static string Hex(ReadOnlySpan<byte> b) => Convert.ToHexString(b).ToLowerInvariant();

    static string Digest(byte[] data)
    {
        var digest = new byte[32];
        Assert.True(Sha256.Hash(data, digest));
        return Hex(digest);
    }

    [Theory]
    [InlineData("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")]
    [InlineData("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")]
    [InlineData("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")]
    [InlineData("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
        "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1")]
    public void KnownVectors(string message, string expected) => Assert.Equal(expected, Digest(Encoding.ASCII.GetBytes(message)));

    [Fact]
    public void OneMillionAs_InChunksOfOddSizes()
    {
        var s = Sha256.Create();
        var chunk = Enumerable.Repeat((byte)'a', 997).ToArray();
        int left = 1_000_000;
        while (left > 0)
        {
            int n = Math.Min(left, chunk.Length);
            s.Update(chunk.AsSpan(0, n));
            left -= n;
        }
        var digest = new byte[32];
        Assert.True(s.Final(digest));
        Assert.Equal("cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0", Hex(digest));
    }

    [Theory]
    [InlineData(51)]
    [InlineData(52)]
    public void RandomInputs_OfEveryLengthTo300AndSplitAnywhere_MatchDotNet(int seed)
    {
        var rng = new Random(seed);
        for (int length = 0; length <= 300; length++)
        {
            var data = new byte[length];
            rng.NextBytes(data);
            string expected = Hex(SHA256.HashData(data));
            Assert.Equal(expected, Digest(data));

            for (int trial = 0; trial < 4; trial++)
            {
                var s = Sha256.Create();
                int at = 0;
                while (at < length)
                {
                    int n = rng.Next(0, Math.Min(length - at, 130) + 1);
                    s.Update(data.AsSpan(at, n));
                    at += n;
                }
                var digest = new byte[32];
                Assert.True(s.Final(digest));
                Assert.Equal(expected, Hex(digest));
            }
        }
    }

    [Fact]
    public void LargeRandomInput_ByPointer_MatchesDotNet()
    {
        var data = new byte[3 * 1024 * 1024 + 17];
        new Random(53).NextBytes(data);
        var s = Sha256.Create();
        fixed (byte* p = data)
        {
            s.Update(p, 1_000_001);
            s.Update(p + 1_000_001, (ulong)data.Length - 1_000_001);
        }
        var digest = new byte[32];
        Assert.True(s.Final(digest));
        Assert.Equal(Hex(SHA256.HashData(data)), Hex(digest));
    }

    [Fact]
    public void Init_StartsOver_AfterFinal()
    {
        var s = Sha256.Create();
        s.Update("garbage"u8);
        var digest = new byte[32];
        s.Final(digest);
        s.Init();
        s.Update("abc"u8);
        Assert.True(s.Final(digest));
        Assert.Equal("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", Hex(digest));
    }

    [Fact]
    public void Final_IntoLessThan32Bytes_WritesNothing()
    {
        var s = Sha256.Create();
        var small = new byte[31];
        Assert.False(s.Final(small));
        Assert.All(small, b => Assert.Equal(0, b));
    }

    [Fact]
    public void DigestsEqual_ComparesWholeDigests()
    {
        var a = SHA256.HashData("x"u8);
        var b = (byte[])a.Clone();
        Assert.True(Sha256.DigestsEqual(a, b));
        b[31] ^= 1;
        Assert.False(Sha256.DigestsEqual(a, b));
        Assert.False(Sha256.DigestsEqual(a, a.AsSpan(0, 31)));
    }
}
