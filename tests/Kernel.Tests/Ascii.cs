// Test helpers: kernel code speaks ASCII bytes, xunit compares strings.
using System.Text;

namespace Kernel.Tests;

static class Ascii
{
    public static string Of(ReadOnlySpan<byte> bytes) => Encoding.ASCII.GetString(bytes);

    /// <summary>The text of a line; taking it by value lets tests pass interpolated strings straight in.</summary>
    public static string Of(LogLine line) => Encoding.ASCII.GetString(line.AsSpan());

    public static byte[] Bytes(string text) => Encoding.Latin1.GetBytes(text);
}
