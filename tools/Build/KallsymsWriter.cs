// KallsymsWriter: builds the kernel's embedded symbol table (the format is documented at the top of
// kernel/printk/Kallsyms.cs, whose reader the kernel and the tests use). Host-only, the counterpart of
// Linux's scripts/kallsyms: sorted by address, one symbol per address, names as plain ASCII.
#nullable enable
using System;
using System.Collections.Generic;

public static class KallsymsWriter
{
    /// <summary>
    /// Sorts the symbols by address and keeps one per address: the one with a size over one without,
    /// then the shorter name, then the ordinally smaller name, so the same input always gives the
    /// same bytes. Symbols without a name are left out; sizes above 4 GiB are clamped (the format
    /// stores 32 bits); characters outside printable ASCII become '?'.
    /// </summary>
    public static byte[] Build(IEnumerable<(ulong Address, ulong Size, string Name)> symbols)
    {
        ArgumentNullException.ThrowIfNull(symbols);

        var list = new List<(ulong Address, ulong Size, string Name)>();
        foreach (var s in symbols)
            if (!string.IsNullOrEmpty(s.Name)) list.Add(s);
        list.Sort(Preferred);

        var kept = new List<(ulong Address, uint Size, string Name)>(list.Count);
        foreach (var s in list)
        {
            if (kept.Count > 0 && kept[^1].Address == s.Address) continue;   // first is the preferred one
            kept.Add((s.Address, s.Size > uint.MaxValue ? uint.MaxValue : (uint)s.Size, s.Name));
        }

        // Identical names (static functions of the same name in different files) share one copy.
        var names = new List<byte>();
        var nameOffsets = new Dictionary<string, uint>(StringComparer.Ordinal);
        var entryNameOffsets = new uint[kept.Count];
        for (int i = 0; i < kept.Count; i++)
        {
            string name = kept[i].Name;
            if (!nameOffsets.TryGetValue(name, out uint offset))
            {
                offset = checked((uint)names.Count);
                foreach (char c in name) names.Add(c >= 0x20 && c <= 0x7E ? (byte)c : (byte)'?');
                names.Add(0);
                nameOffsets.Add(name, offset);
            }
            entryNameOffsets[i] = offset;
        }

        long namesOffset = Kallsyms.HeaderSize + (long)kept.Count * Kallsyms.EntrySize;
        long total = namesOffset + names.Count;
        if (total > int.MaxValue) throw new InvalidOperationException($"kallsyms table of {total} bytes is too large");

        var table = new byte[total];
        var span = table.AsSpan();
        WriteU32(span, 0, Kallsyms.Magic);
        WriteU32(span, 4, (uint)kept.Count);
        WriteU32(span, 8, (uint)namesOffset);
        WriteU32(span, 12, (uint)names.Count);
        for (int i = 0; i < kept.Count; i++)
        {
            int at = Kallsyms.HeaderSize + i * Kallsyms.EntrySize;
            WriteU64(span, at, kept[i].Address);
            WriteU32(span, at + 8, kept[i].Size);
            WriteU32(span, at + 12, entryNameOffsets[i]);
        }
        names.CopyTo(table, (int)namesOffset);
        return table;
    }

    // Address first; within one address the symbol to keep sorts first.
    private static int Preferred((ulong Address, ulong Size, string Name) a, (ulong Address, ulong Size, string Name) b)
    {
        int c = a.Address.CompareTo(b.Address);
        if (c != 0) return c;
        c = (a.Size == 0).CompareTo(b.Size == 0);            // sized before unsized
        if (c != 0) return c;
        c = a.Name.Length.CompareTo(b.Name.Length);
        if (c != 0) return c;
        c = string.CompareOrdinal(a.Name, b.Name);
        if (c != 0) return c;
        return b.Size.CompareTo(a.Size);                     // same name twice: the larger size
    }

    private static void WriteU32(Span<byte> s, int offset, uint v)
    {
        s[offset] = (byte)v;
        s[offset + 1] = (byte)(v >> 8);
        s[offset + 2] = (byte)(v >> 16);
        s[offset + 3] = (byte)(v >> 24);
    }

    private static void WriteU64(Span<byte> s, int offset, ulong v)
    {
        WriteU32(s, offset, (uint)v);
        WriteU32(s, offset + 4, (uint)(v >> 32));
    }
}
