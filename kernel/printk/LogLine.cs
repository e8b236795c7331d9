// LogLine: one log line formatted into a fixed 256-byte buffer on the caller's stack, as Linux's
// vsnprintf() does for printk(): bounded, truncating, never allocating, so it is safe on the crash
// path. As an interpolated string handler it lets call sites read $"rip {rip:x16}".
using System;
using System.Runtime.CompilerServices;

/// <summary>
/// A log line under construction. Every input character becomes exactly one output byte: printable
/// ASCII (0x20..0x7E) is kept, anything else becomes '?', so the line can go to a serial port, the
/// kmsg ring and a dump without escaping. Past <see cref="Capacity"/> bytes the rest is dropped and
/// <see cref="Truncated"/> is set; nothing ever faults.
/// Formats (the part after ':' in a hole): "x"/"X" hex with minimal digits, "x16"/"X8" hex
/// zero-padded to N digits, "d6" decimal zero-padded to N digits (sign first: "-000042").
/// Hex of a negative signed value is its two's complement at the type's width, as in .NET.
/// The alignment (the part after ',') pads with spaces: positive right-aligns, negative left-aligns.
/// </summary>
[InterpolatedStringHandler]
public unsafe ref struct LogLine
{
    /// <summary>Bytes one line can hold; Linux's printk lines are of the same order (LOG_LINE_MAX is ~1 KiB).</summary>
    public const int Capacity = 256;

    private fixed byte _buffer[Capacity];
    private int _length;
    private bool _truncated;

    /// <summary>The shape the compiler calls for an interpolated string; the hints are not needed.</summary>
    public LogLine(int literalLength, int formattedCount)
    {
        _length = 0;
        _truncated = false;
    }

    /// <summary>Bytes written so far (at most <see cref="Capacity"/>).</summary>
    public readonly int Length => _length;

    /// <summary>True once anything had to be dropped for lack of room.</summary>
    public readonly bool Truncated => _truncated;

    /// <summary>The formatted bytes; valid as long as this LogLine is.</summary>
    // Fully qualified: the runtime also has a CompilerServices.UnscopedRefAttribute, which Roslyn ignores.
    [System.Diagnostics.CodeAnalysis.UnscopedRef]
    public ReadOnlySpan<byte> AsSpan() => System.Runtime.InteropServices.MemoryMarshal.CreateReadOnlySpan(ref _buffer[0], _length);

    /// <summary>Starts the line over, so one LogLine can build several lines.</summary>
    public void Clear()
    {
        _length = 0;
        _truncated = false;
    }

    // ---- Building blocks usable without interpolation -------------------------------------------

    /// <summary>Appends one character (non-printable ones become '?').</summary>
    public void AppendChar(char c) => Put(Printable(c));

    /// <summary>Appends the bytes of an ASCII text (non-printable bytes become '?').</summary>
    public void Append(scoped ReadOnlySpan<byte> text)
    {
        for (int i = 0; i < text.Length; i++)
        {
            if (_length >= Capacity) { _truncated = true; return; }
            Put(Printable(text[i]));
        }
    }

    /// <summary>Appends a string literal. No null check: comparing a string with null needs a
    /// System.RuntimeType that the kernel runtime does not have, and kernel strings are literals.</summary>
    public void Append(string text)
    {
        for (int i = 0; i < text.Length; i++)
        {
            if (_length >= Capacity) { _truncated = true; return; }
            Put(Printable(text[i]));
        }
    }

    /// <summary>Appends a signed decimal number, including long.MinValue.</summary>
    public void AppendDecimal(long value) => AppendNumber(Magnitude(value), value < 0, 10, false, 0, 0);

    /// <summary>Appends an unsigned decimal number, including ulong.MaxValue.</summary>
    public void AppendDecimal(ulong value) => AppendNumber(value, false, 10, false, 0, 0);

    /// <summary>Appends lowercase hex, zero-padded to at least <paramref name="minDigits"/> digits, without "0x".</summary>
    public void AppendHex(ulong value, int minDigits) => AppendNumber(value, false, 16, false, minDigits, 0);

    /// <summary>Appends <paramref name="count"/> spaces (bounded by the room left).</summary>
    public void AppendSpaces(int count)
    {
        for (int i = 0; i < count; i++)
        {
            if (_length >= Capacity) { _truncated = true; return; }
            Put((byte)' ');
        }
    }

    /// <summary>Pads with spaces up to column <paramref name="column"/>; used for table layouts.</summary>
    public void PadTo(int column) => AppendSpaces(column - _length);

    // ---- The interpolated string handler protocol -----------------------------------------------

    public void AppendLiteral(string value) => Append(value);

    public void AppendFormatted(string value) => Append(value);
    public void AppendFormatted(string value, int alignment) => AppendAligned(value, alignment);
    public void AppendFormatted(string value, string format) => Append(value);
    public void AppendFormatted(string value, int alignment, string format) => AppendAligned(value, alignment);

    public void AppendFormatted(scoped ReadOnlySpan<byte> value) => Append(value);
    public void AppendFormatted(scoped ReadOnlySpan<byte> value, int alignment) => AppendAligned(value, alignment);
    public void AppendFormatted(scoped ReadOnlySpan<byte> value, string format) => Append(value);
    public void AppendFormatted(scoped ReadOnlySpan<byte> value, int alignment, string format) => AppendAligned(value, alignment);

    public void AppendFormatted(char value) => AppendChar(value);
    public void AppendFormatted(char value, int alignment) => AppendCharAligned(value, alignment);
    public void AppendFormatted(char value, string format) => AppendChar(value);
    public void AppendFormatted(char value, int alignment, string format) => AppendCharAligned(value, alignment);

    // Lowercase like Linux's str_true_false(), not .NET's "True".
    public void AppendFormatted(bool value) => Append(value ? "true" : "false");
    public void AppendFormatted(bool value, int alignment) => AppendAligned(value ? "true" : "false", alignment);
    public void AppendFormatted(bool value, string format) => Append(value ? "true" : "false");
    public void AppendFormatted(bool value, int alignment, string format) => AppendAligned(value ? "true" : "false", alignment);

    public void AppendFormatted(int value) => AppendSigned(value, (uint)value, 0, 10, false, 0);
    public void AppendFormatted(int value, int alignment) => AppendSigned(value, (uint)value, alignment, 10, false, 0);
    public void AppendFormatted(int value, string format) => AppendFormatted(value, 0, format);
    public void AppendFormatted(int value, int alignment, string format)
    {
        ParseFormat(format, out int radix, out bool upper, out int minDigits);
        AppendSigned(value, (uint)value, alignment, radix, upper, minDigits);
    }

    public void AppendFormatted(uint value) => AppendNumber(value, false, 10, false, 0, 0);
    public void AppendFormatted(uint value, int alignment) => AppendNumber(value, false, 10, false, 0, alignment);
    public void AppendFormatted(uint value, string format) => AppendFormatted((ulong)value, 0, format);
    public void AppendFormatted(uint value, int alignment, string format) => AppendFormatted((ulong)value, alignment, format);

    public void AppendFormatted(long value) => AppendSigned(value, (ulong)value, 0, 10, false, 0);
    public void AppendFormatted(long value, int alignment) => AppendSigned(value, (ulong)value, alignment, 10, false, 0);
    public void AppendFormatted(long value, string format) => AppendFormatted(value, 0, format);
    public void AppendFormatted(long value, int alignment, string format)
    {
        ParseFormat(format, out int radix, out bool upper, out int minDigits);
        AppendSigned(value, (ulong)value, alignment, radix, upper, minDigits);
    }

    public void AppendFormatted(ulong value) => AppendNumber(value, false, 10, false, 0, 0);
    public void AppendFormatted(ulong value, int alignment) => AppendNumber(value, false, 10, false, 0, alignment);
    public void AppendFormatted(ulong value, string format) => AppendFormatted(value, 0, format);
    public void AppendFormatted(ulong value, int alignment, string format)
    {
        ParseFormat(format, out int radix, out bool upper, out int minDigits);
        AppendNumber(value, false, radix, upper, minDigits, alignment);
    }

    // ---- Internals ----------------------------------------------------------------------------

    private void Put(byte b)
    {
        if (_length < Capacity) _buffer[_length++] = b;
        else _truncated = true;
    }

    private static byte Printable(int c) => c >= 0x20 && c <= 0x7E ? (byte)c : (byte)'?';

    // 0 - (ulong)value is the magnitude for every long, long.MinValue included (2^63 fits a ulong).
    private static ulong Magnitude(long value) => value < 0 ? 0UL - (ulong)value : (ulong)value;

    // Alignment is clamped first so that negating it can never overflow (int.MinValue).
    private static int ClampAlignment(int alignment)
        => alignment > Capacity ? Capacity : alignment < -Capacity ? -Capacity : alignment;

    private void PadBefore(int width, int alignment)
    {
        if (alignment > width) AppendSpaces(alignment - width);
    }

    private void PadAfter(int width, int alignment)
    {
        if (-alignment > width) AppendSpaces(-alignment - width);
    }

    // Each input character is one output byte, so the width is known before writing and padding
    // never has to move bytes already written.
    private void AppendAligned(string value, int alignment)
    {
        alignment = ClampAlignment(alignment);
        int width = value.Length;
        PadBefore(width, alignment);
        Append(value);
        PadAfter(width, alignment);
    }

    private void AppendAligned(scoped ReadOnlySpan<byte> value, int alignment)
    {
        alignment = ClampAlignment(alignment);
        PadBefore(value.Length, alignment);
        Append(value);
        PadAfter(value.Length, alignment);
    }

    private void AppendCharAligned(char value, int alignment)
    {
        alignment = ClampAlignment(alignment);
        PadBefore(1, alignment);
        AppendChar(value);
        PadAfter(1, alignment);
    }

    // Signed values: decimal prints sign and magnitude; hex prints the two's complement bits,
    // which the caller passes already narrowed to the value's own width.
    private void AppendSigned(long value, ulong bits, int alignment, int radix, bool upper, int minDigits)
    {
        if (radix == 16) AppendNumber(bits, false, 16, upper, minDigits, alignment);
        else AppendNumber(Magnitude(value), value < 0, 10, false, minDigits, alignment);
    }

    // "x", "X", "x16", "d6"; anything unrecognised falls back to plain decimal rather than failing,
    // because a log line with a slightly wrong format is still worth printing.
    private static void ParseFormat(string format, out int radix, out bool upper, out int minDigits)
    {
        radix = 10;
        upper = false;
        minDigits = 0;
        if (format.Length == 0) return;
        char kind = format[0];
        if (kind == 'x' || kind == 'X') { radix = 16; upper = kind == 'X'; }
        else if (kind != 'd' && kind != 'D') return;
        for (int i = 1; i < format.Length; i++)
        {
            char c = format[i];
            if (c < '0' || c > '9') break;
            minDigits = minDigits * 10 + (c - '0');
            if (minDigits > Capacity) { minDigits = Capacity; break; }
        }
    }

    private void AppendNumber(ulong magnitude, bool negative, int radix, bool upper, int minDigits, int alignment)
    {
        alignment = ClampAlignment(alignment);
        if (minDigits > Capacity) minDigits = Capacity;

        // Digits are produced least significant first into a scratch area big enough for any
        // ulong (20 decimal digits, 16 hex digits), then copied out in order.
        byte* scratch = stackalloc byte[24];
        int count = 0;
        ulong v = magnitude;
        do
        {
            int d = radix == 16 ? (int)(v & 0xF) : (int)(v % 10);
            scratch[count++] = (byte)(d < 10 ? '0' + d : (upper ? 'A' : 'a') + d - 10);
            v = radix == 16 ? v >> 4 : v / 10;
        } while (v != 0);

        int digits = count > minDigits ? count : minDigits;
        int width = digits + (negative ? 1 : 0);
        PadBefore(width, alignment);
        if (negative) Put((byte)'-');
        for (int i = count; i < digits; i++)
        {
            if (_length >= Capacity) { _truncated = true; break; }
            Put((byte)'0');
        }
        while (count > 0) Put(scratch[--count]);
        PadAfter(width, alignment);
    }
}
