// Bytes (kernel/lib/Bytes.cs): the kernel's byte-string equality, prefix test and 8-bit checksum,
// held to the BCL's SequenceEqual/StartsWith and a LINQ sum on random inputs.
using CsCheck;

namespace Kernel.Tests;

public unsafe class BytesTests
{
    // Short arrays over a small alphabet, so equal and prefix pairs come up often.
    static readonly Gen<byte[]> Short = Gen.Byte[0, 3].Array[0, 12];

    [Fact]
    public void Equal_AgreesWithSequenceEqual() =>
        Gen.Select(Short, Short).Sample((a, b) =>
            Bytes.Equal(a, b) == a.AsSpan().SequenceEqual(b) && Bytes.Equal(a, (byte[])a.Clone()));

    [Fact]
    public void StartsWith_AgreesWithTheBcl() =>
        Gen.Select(Short, Short).Sample((s, prefix) =>
            Bytes.StartsWith(s, prefix) == s.AsSpan().StartsWith(prefix) && Bytes.StartsWith(s, s.AsSpan(0, s.Length / 2)));

    [Fact]
    public void Sum_IsTheLowByteOfTheTotal_AndAChecksummedTableSumsToZero() =>
        Gen.Byte.Array[1, 300].Sample(table =>
        {
            fixed (byte* p = table)
            {
                if (Bytes.Sum(p, (uint)table.Length) != (byte)table.Sum(b => b)) return false;
                table[0] = 0;
                table[0] = (byte)(0x100 - Bytes.Sum(p, (uint)table.Length));   // what a firmware writes into a checksum field
                return Bytes.Sum(p, (uint)table.Length) == 0 && Bytes.Sum(p, 0) == 0;
            }
        });

    [Fact]
    public void Equal_TellsLengthFromContent()
    {
        Assert.True(Bytes.Equal("GRUB "u8, "GRUB "u8));
        Assert.False(Bytes.Equal("GRUB"u8, "GRUB "u8));
        Assert.False(Bytes.Equal("GRUB "u8, "GRUB"u8));
        Assert.True(Bytes.Equal(default, ReadOnlySpan<byte>.Empty));
        Assert.False(Bytes.StartsWith("GRU"u8, "GRUB "u8));
    }
}
