// The memory ranges VMCOREINFO names (SYMBOL(name) with SIZE(name), times LENGTH(name) for arrays):
// what dump filtering keeps whole at every level, because every reader (ours, crash, makedumpfile)
// goes to them by name. Part of the VMCOREINFO reader (Vmcoreinfo.cs); trusts nothing in the text.
using System;

public static partial class Vmcoreinfo
{
    /// <summary>
    /// The memory ranges VMCOREINFO names: every SYMBOL(name)=address with a SIZE(name)=bytes, times
    /// LENGTH(name)= when the symbol is an array (crash_notes: one buffer per CPU). Dump filtering keeps
    /// these whole at every level, since the readers (ours, crash, makedumpfile) go to them by name.
    /// Returns how many were written into <paramref name="into"/> (those past its room are dropped).
    /// </summary>
    public static int NamedRanges(ReadOnlySpan<byte> text, Span<PhysRange> into)
    {
        int n = 0;
        for (int at = 0; at < text.Length && n < into.Length;)
        {
            int end = at;
            while (end < text.Length && text[end] != (byte)'\n') end++;
            ReadOnlySpan<byte> line = text.Slice(at, end - at);
            at = end + 1;
            if (!StartsWith(line, "SYMBOL(")) continue;
            int close = 7;
            while (close < line.Length && line[close] != (byte)')') close++;
            if (close < 8 || close + 1 >= line.Length || line[close + 1] != (byte)'=') continue;
            ReadOnlySpan<byte> name = line.Slice(7, close - 7);
            if (!ParseHex(line.Slice(close + 2), out ulong address)) continue;
            if (!FindNamed(text, "SIZE(", name, out ulong size) || size == 0) continue;
            if (FindNamed(text, "LENGTH(", name, out ulong length) && length > 1)
                size = length <= ulong.MaxValue / size ? size * length : ulong.MaxValue;
            if (address > ulong.MaxValue - size) continue;
            into[n++] = new PhysRange(address, size);
        }
        return n;
    }

    /// <summary>The unsigned value of "prefix name)=value" for a name given as bytes.</summary>
    private static bool FindNamed(ReadOnlySpan<byte> text, string prefix, ReadOnlySpan<byte> name, out ulong value)
    {
        value = 0;
        return FindValue(text, prefix, new Name(name), ")", out ReadOnlySpan<byte> v) && ParseUnsigned(v, out value);
    }

    private static bool StartsWith(ReadOnlySpan<byte> line, string prefix)
    {
        if (line.Length < prefix.Length) return false;
        for (int i = 0; i < prefix.Length; i++)
            if (line[i] != prefix[i]) return false;
        return true;
    }
}
