// LogLine: the kernel's interpolated-string formatter (kernel/printk/LogLine.cs). These pin down number
// formatting at the type limits, padding, hex widths, sanitising and truncation at 256 bytes.
namespace Kernel.Tests;

public class LogLineTests
{
    static string F(LogLine line) => Ascii.Of(line);

    [Fact]
    public void Interpolation_FormatsLiteralsAndHolesInOrder()
    {
        int nodes = 1;
        uint cpus = 4;
        Assert.Equal("smp: Brought up 1 node, 4 CPUs", F($"smp: Brought up {nodes} node, {cpus} CPUs"));
    }

    [Fact]
    public void Decimal_PrintsTypeLimitsExactly()
    {
        Assert.Equal("-2147483648 2147483647 4294967295", F($"{int.MinValue} {int.MaxValue} {uint.MaxValue}"));
        Assert.Equal("-9223372036854775808 9223372036854775807", F($"{long.MinValue} {long.MaxValue}"));
        Assert.Equal("18446744073709551615 0", F($"{ulong.MaxValue} {0UL}"));
    }

    [Fact]
    public void Decimal_SmallTypesWidenWithoutChangingValue()
    {
        byte b = 255;
        short s = -32768;
        ushort us = 65535;
        sbyte sb = -128;
        Assert.Equal("255 -32768 65535 -128", F($"{b} {s} {us} {sb}"));
    }

    [Fact]
    public void AppendDecimal_HandlesMinAndMaxWithoutInterpolation()
    {
        var line = new LogLine(0, 0);
        line.AppendDecimal(long.MinValue);
        line.AppendChar(' ');
        line.AppendDecimal(ulong.MaxValue);
        line.AppendChar(' ');
        line.AppendDecimal(0L);
        Assert.Equal("-9223372036854775808 18446744073709551615 0", F(line));
    }

    [Theory]
    [InlineData(0xdeadbeefUL, "x", "deadbeef")]
    [InlineData(0xdeadbeefUL, "X", "DEADBEEF")]
    [InlineData(0x1aUL, "x16", "000000000000001a")]
    [InlineData(0x1aUL, "X8", "0000001A")]
    [InlineData(0UL, "x", "0")]
    [InlineData(0UL, "x4", "0000")]
    [InlineData(ulong.MaxValue, "x", "ffffffffffffffff")]
    [InlineData(ulong.MaxValue, "x4", "ffffffffffffffff")]
    [InlineData(0x8000000000000000UL, "x16", "8000000000000000")]
    [InlineData(42UL, "d6", "000042")]
    [InlineData(1234567UL, "d3", "1234567")]
    [InlineData(42UL, "q", "42")]
    [InlineData(42UL, "", "42")]
    public void UnsignedFormats_MatchTheFormatString(ulong value, string format, string expected)
    {
        var line = new LogLine(0, 0);
        line.AppendFormatted(value, format);
        Assert.Equal(expected, F(line));
    }

    [Fact]
    public void Hex_RipWith16Digits()
    {
        ulong rip = 0xffffffff81000abcUL;
        Assert.Equal("rip ffffffff81000abc", F($"rip {rip:x16}"));
        Assert.Equal("rip 0000000000100000", F($"rip {0x100000UL:x16}"));
    }

    [Fact]
    public void Hex_OfNegativeSignedIsTwosComplementAtTheTypesWidth()
    {
        Assert.Equal("ffffffff", F($"{-1:x}"));
        Assert.Equal("ffffffffffffffff", F($"{-1L:x}"));
        Assert.Equal("80000000", F($"{int.MinValue:x}"));
        Assert.Equal("8000000000000000", F($"{long.MinValue:X}"));
        Assert.Equal("FFFFFFFF", F($"{uint.MaxValue:X}"));
    }

    [Fact]
    public void Decimal_ZeroPaddingPutsTheSignFirst()
    {
        Assert.Equal("-000042", F($"{-42:d6}"));
        Assert.Equal("000042", F($"{42L:d6}"));
        Assert.Equal("-9223372036854775808", F($"{long.MinValue:d6}"));
        Assert.Equal("00000000000000000000018446744073709551615", F($"{ulong.MaxValue:d41}"));
    }

    [Fact]
    public void Alignment_PositiveRightAlignsNegativeLeftAligns()
    {
        Assert.Equal("[   42]", F($"[{42,5}]"));
        Assert.Equal("[42   ]", F($"[{42,-5}]"));
        Assert.Equal("[  -42]", F($"[{-42L,5}]"));
        Assert.Equal("[  ab]", F($"[{"ab",4}]"));
        Assert.Equal("[ab  ]", F($"[{"ab",-4}]"));
        Assert.Equal("[  c]", F($"[{'c',3}]"));
        Assert.Equal("[  true]", F($"[{true,6}]"));
        Assert.Equal("[false ]", F($"[{false,-6}]"));
        Assert.Equal("[ xyz]", F($"[{"xyz"u8.ToArray().AsSpan(),4}]"));
    }

    [Fact]
    public void Alignment_NarrowerThanTheValueAddsNothing()
    {
        Assert.Equal("[123456]", F($"[{123456,3}]"));
        Assert.Equal("[123456]", F($"[{123456,-3}]"));
        Assert.Equal("[abcdef]", F($"[{"abcdef",2}]"));
    }

    [Fact]
    public void AlignmentAndFormat_Combine()
    {
        Assert.Equal("[      001a]", F($"[{0x1aUL,10:x4}]"));
        Assert.Equal("[001a      ]", F($"[{0x1a,-10:x4}]"));
        Assert.Equal("[  -000042]", F($"[{-42L,9:d6}]"));
        Assert.Equal("[    FF]", F($"[{255u,6:X}]"));
        Assert.Equal("[ab   ]", F($"[{"ab",-5:ignored}]"));
    }

    [Fact]
    public void Bool_IsLowercaseLikeLinux()
    {
        Assert.Equal("true false", F($"{true} {false}"));
    }

    [Fact]
    public void NonPrintableCharacters_BecomeQuestionMarks()
    {
        Assert.Equal("a?b", F($"a{'\n'}b"));
        Assert.Equal("?", F($"{'\u00e9'}"));
        Assert.Equal("?", F($"{'\x7f'}"));
        Assert.Equal("~ ", F($"{'~'}{' '}"));
        Assert.Equal("tab?end", F($"tab\tend"));
        Assert.Equal("caf?", F($"{"caf\u00e9"}"));
        byte[] raw = [0x41, 0x00, 0x1f, 0x20, 0x7e, 0x7f, 0x80, 0xff];
        Assert.Equal("A?? ~???", F($"{raw.AsSpan()}"));
    }

    [Fact]
    public void RawBytes_AreAppendedAsText()
    {
        Assert.Equal("name=panic", F($"name={"panic"u8.ToArray().AsSpan()}"));
        var line = new LogLine(0, 0);
        line.Append("xyz"u8);
        Assert.Equal("xyz", F(line));
    }

    [Fact]
    public void Truncation_StopsAtCapacityAndSetsTheFlag()
    {
        var line = new LogLine(0, 0);
        line.Append(new string('a', 300));
        Assert.Equal(LogLine.Capacity, line.Length);
        Assert.True(line.Truncated);
        Assert.Equal(new string('a', 256), F(line));
    }

    [Fact]
    public void ExactlyCapacity_IsNotTruncated()
    {
        var line = new LogLine(0, 0);
        line.Append(new string('b', 256));
        Assert.Equal(256, line.Length);
        Assert.False(line.Truncated);
        line.AppendChar('c');
        Assert.True(line.Truncated);
        Assert.Equal(256, line.Length);
    }

    [Fact]
    public void Truncation_CutsANumberMidway()
    {
        var line = new LogLine(0, 0);
        line.Append(new string('.', 250));
        line.AppendDecimal(ulong.MaxValue);
        Assert.True(line.Truncated);
        Assert.Equal(new string('.', 250) + "184467", F(line));
    }

    [Fact]
    public void Truncation_OfPaddingAndZeroesNeverOverflows()
    {
        var line = new LogLine(0, 0);
        line.AppendFormatted(1UL, int.MaxValue, "x99999");
        line.AppendFormatted("s", int.MinValue);
        line.AppendFormatted(-5L, int.MinValue, "d2147483647");
        Assert.Equal(256, line.Length);
        Assert.True(line.Truncated);

        var wide = new LogLine(0, 0);
        wide.AppendFormatted(7u, "x999");
        Assert.Equal(256, wide.Length);
        Assert.Equal(new string('0', 255) + "7", F(wide));
    }

    [Fact]
    public void AppendHex_PadsToMinDigitsWithoutPrefix()
    {
        var line = new LogLine(0, 0);
        line.AppendHex(0x1a, 4);
        line.AppendChar(' ');
        line.AppendHex(0x12345, 2);
        line.AppendChar(' ');
        line.AppendHex(0, 0);
        Assert.Equal("001a 12345 0", F(line));
    }

    [Fact]
    public void Clear_StartsOverAndResetsTruncation()
    {
        var line = new LogLine(0, 0);
        line.Append(new string('z', 400));
        line.Clear();
        Assert.Equal(0, line.Length);
        Assert.False(line.Truncated);
        line.Append("again");
        Assert.Equal("again", F(line));
    }

    [Fact]
    public void Default_IsAnEmptyUsableLine()
    {
        LogLine line = default;
        Assert.Equal(0, line.Length);
        Assert.True(line.AsSpan().IsEmpty);
        line.AppendDecimal(-1);
        Assert.Equal("-1", F(line));
    }

    [Fact]
    public void PadTo_FillsUpToAColumn()
    {
        var line = new LogLine(0, 0);
        line.Append("ab");
        line.PadTo(6);
        line.Append("|");
        line.PadTo(3);           // already past: nothing
        line.Append("|");
        Assert.Equal("ab    ||", F(line));
    }

    [Fact]
    public void Numbers_MatchDotNetFormattingForRandomValues()
    {
        var random = new Random(1234);
        for (int i = 0; i < 2000; i++)
        {
            long v = random.NextInt64(long.MinValue, long.MaxValue);
            ulong u = (ulong)random.NextInt64() * 3;
            int width = random.Next(0, 25);
            Assert.Equal(v.ToString(), F($"{v}"));
            Assert.Equal(u.ToString(), F($"{u}"));
            Assert.Equal(u.ToString("x" + width), F(Hex(u, width)));
            Assert.Equal(v.ToString("D" + width), Dec(v, width));
            Assert.Equal(string.Format("{0," + (width - 12) + "}", v), Aligned(v, width - 12));
        }
    }

    static LogLine Hex(ulong u, int width)
    {
        var line = new LogLine(0, 0);
        line.AppendFormatted(u, "x" + width);
        return line;
    }

    static string Dec(long v, int width)
    {
        var line = new LogLine(0, 0);
        line.AppendFormatted(v, "d" + width);
        return F(line);
    }

    static string Aligned(long v, int alignment)
    {
        var line = new LogLine(0, 0);
        line.AppendFormatted(v, alignment);
        return F(line);
    }
}
