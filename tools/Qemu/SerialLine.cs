// The serial console as lines: COM1 bytes decoded as UTF-8, split at '\n', the kernel's '\r'
// line ends stripped, each line stamped with the time since QEMU started.
using System.Globalization;
using System.Text;

namespace Nmidump.Qemu;

/// <summary>One line the guest wrote to COM1.</summary>
/// <param name="Index">Position in <see cref="QemuMachine.Lines"/>, usable as a start index.</param>
/// <param name="Time">When the line's end arrived, measured from QEMU's start.</param>
/// <param name="Text">The line without its "\r\n".</param>
public sealed record SerialLine(int Index, TimeSpan Time, string Text)
{
    /// <summary>"[   1.234] text", as in failure messages.</summary>
    public override string ToString() =>
        "[" + Time.TotalSeconds.ToString("0.000", CultureInfo.InvariantCulture).PadLeft(8) + "] " + Text;
}

/// <summary>Turns a byte stream into lines. Not thread-safe: one reader feeds it.</summary>
internal sealed class LineSplitter
{
    private readonly Decoder _decoder = Encoding.UTF8.GetDecoder();
    private readonly StringBuilder _partial = new();
    private char[] _chars = new char[4096];

    /// <summary>Text received after the last line end.</summary>
    public string Partial => _partial.ToString();

    /// <summary>Feeds bytes; returns the lines they complete.</summary>
    public List<string> Push(ReadOnlySpan<byte> bytes, bool flush = false)
    {
        var needed = _decoder.GetCharCount(bytes, flush);
        if (needed > _chars.Length) _chars = new char[needed];
        var count = _decoder.GetChars(bytes, _chars, flush);
        var lines = new List<string>();
        for (var i = 0; i < count; i++)
        {
            var c = _chars[i];
            if (c == '\n')
            {
                lines.Add(Strip(_partial));
                _partial.Clear();
            }
            else
            {
                _partial.Append(c);
            }
        }
        return lines;
    }

    /// <summary>At end of stream: an unterminated last line still counts as a line.</summary>
    public string? Finish()
    {
        Push([], flush: true);
        if (_partial.Length == 0) return null;
        var last = Strip(_partial);
        _partial.Clear();
        return last;
    }

    private static string Strip(StringBuilder line)
    {
        var end = line.Length;
        while (end > 0 && line[end - 1] == '\r') end--;
        return line.ToString(0, end);
    }
}
