// Lists of numbers in Linux's cpulist form ("0-3,8,10-11", as /sys/devices/system/cpu/online and
// bitmap_parselist() write and read them), for VMCOREINFO's per-CPU lines: 255 APIC IDs take
// "0-254", not 900 bytes. Order is kept (a run is only ever ascending by one), so a positional list
// such as APIC_IDS (CPU n's APIC ID is the n-th number) reads back in the same order; a plain comma
// list ("0,1,2,3") is a cpulist too.
using System;

public static class CpuList
{
    /// <summary>
    /// Writes <paramref name="values"/> into <paramref name="dst"/>; returns the bytes written, or -1
    /// (the content of dst undefined) when it does not fit.
    /// </summary>
    public static int Write(Span<byte> dst, ReadOnlySpan<uint> values)
    {
        int p = 0;
        for (int i = 0; i < values.Length;)
        {
            int j = i;
            while (j + 1 < values.Length && values[j + 1] == values[j] + 1) j++;
            if (i > 0 && !Put(dst, ref p, (byte)',')) return -1;
            if (!PutNumber(dst, ref p, values[i])) return -1;
            if (j > i && (!Put(dst, ref p, (byte)'-') || !PutNumber(dst, ref p, values[j]))) return -1;
            i = j + 1;
        }
        return p;
    }

    /// <summary>Appends a list to a log line (cut with "..." by the line if it is too long).</summary>
    public static void Append(ref LogLine line, ReadOnlySpan<uint> values)
    {
        for (int i = 0; i < values.Length;)
        {
            int j = i;
            while (j + 1 < values.Length && values[j + 1] == values[j] + 1) j++;
            if (i > 0) line.AppendChar(',');
            line.AppendDecimal(values[i]);
            if (j > i)
            {
                line.AppendChar('-');
                line.AppendDecimal(values[j]);
            }
            i = j + 1;
        }
    }

    /// <summary>
    /// Reads a list: decimal numbers and ascending ranges "a-b", comma-separated. False when the text
    /// is malformed or holds more than <paramref name="into"/> has room for; <paramref name="count"/>
    /// is how many were read up to there.
    /// </summary>
    public static bool Read(ReadOnlySpan<byte> text, Span<uint> into, out int count)
    {
        count = 0;
        if (text.IsEmpty) return true;
        int i = 0;
        while (true)
        {
            if (!ParseNumber(text, ref i, out uint first)) return false;
            uint last = first;
            if (i < text.Length && text[i] == (byte)'-')
            {
                i++;
                if (!ParseNumber(text, ref i, out last) || last < first) return false;
            }
            for (ulong v = first; v <= last; v++)
            {
                if (count == into.Length) return false;
                into[count++] = (uint)v;
            }
            if (i == text.Length) return true;
            if (text[i] != (byte)',') return false;
            i++;
        }
    }

    /// <summary>The n-th number of a list without expanding it into a buffer; false when there is none.</summary>
    public static bool Nth(ReadOnlySpan<byte> text, int n, out uint value)
    {
        value = 0;
        if (n < 0) return false;
        int i = 0;
        long seen = 0;
        while (i < text.Length)
        {
            if (!ParseNumber(text, ref i, out uint first)) return false;
            uint last = first;
            if (i < text.Length && text[i] == (byte)'-')
            {
                i++;
                if (!ParseNumber(text, ref i, out last) || last < first) return false;
            }
            if (n - seen <= (long)last - first)
            {
                value = (uint)(first + (n - seen));
                return true;
            }
            seen += (long)last - first + 1;
            if (i == text.Length) return false;
            if (text[i] != (byte)',') return false;
            i++;
        }
        return false;
    }

    static bool ParseNumber(ReadOnlySpan<byte> text, ref int i, out uint value)
    {
        value = 0;
        int start = i;
        ulong v = 0;
        while (i < text.Length && text[i] >= (byte)'0' && text[i] <= (byte)'9')
        {
            v = v * 10 + (ulong)(text[i] - '0');
            if (v > uint.MaxValue) return false;
            i++;
        }
        value = (uint)v;
        return i > start;
    }

    static bool Put(Span<byte> dst, ref int p, byte b)
    {
        if (p >= dst.Length) return false;
        dst[p++] = b;
        return true;
    }

    static bool PutNumber(Span<byte> dst, ref int p, uint v)
    {
        int digits = 1;
        for (uint t = v; t >= 10; t /= 10) digits++;
        if (p + digits > dst.Length) return false;
        for (int k = digits - 1; k >= 0; k--)
        {
            dst[p + k] = (byte)('0' + v % 10);
            v /= 10;
        }
        p += digits;
        return true;
    }
}
