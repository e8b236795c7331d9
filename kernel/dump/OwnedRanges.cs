// The table of physical ranges the first kernel owns, as it lies in the first kernel's memory and
// VMCOREINFO names it (SYMBOL(owned_ranges), SIZE(owned_ranges)). This kernel has no page allocator:
// it owns its image through __bss_end, the AP trampoline page, the crash region and whatever a
// future allocator hands out; every other page of usable RAM is free. The capture kernel reads the
// table to leave free pages out of the dump (makedumpfile's dump_level bit 16, which finds free
// pages in the buddy allocator's lists instead). Written by kernel/mm/OwnedMemory.cs.
using System;

//   offset  size
//        0     4   magic "OWND"
//        4     4   count: entries in use (published after the entry it adds)
//        8     8   reserved, zero
//       16  16*n   entries { u64 start; u64 end } (end exclusive), in the order they were claimed

public static class OwnedRanges
{
    public const uint Magic = 0x444E574F;   // "OWND"
    public const int HeaderSize = 16, EntrySize = 16;

    public static int TableSize(int capacity) => HeaderSize + capacity * EntrySize;

    /// <summary>An empty table in <paramref name="table"/> (at least HeaderSize bytes).</summary>
    public static void Init(Span<byte> table)
    {
        table.Slice(0, HeaderSize).Clear();
        LittleEndian.Put32(table, 0, Magic);
    }

    /// <summary>Entries the table has room for.</summary>
    public static int Capacity(int tableSize) => tableSize < HeaderSize ? 0 : (tableSize - HeaderSize) / EntrySize;

    /// <summary>
    /// Adds [start, end): the entry is written before the count that publishes it, so a crash in
    /// between leaves the old table. False when the table is full or the range is empty.
    /// </summary>
    public static bool Add(Span<byte> table, ulong start, ulong end)
    {
        if (end <= start || LittleEndian.U32(table, 0) != Magic) return false;
        int count = (int)LittleEndian.U32(table, 4);
        if (count < 0 || count >= Capacity(table.Length)) return false;
        int at = HeaderSize + count * EntrySize;
        LittleEndian.Put64(table, at, start);
        LittleEndian.Put64(table, at + 8, end);
        System.Threading.Interlocked.MemoryBarrier();
        LittleEndian.Put32(table, 4, (uint)(count + 1));
        return true;
    }

    /// <summary>What is wrong with a table read out of a crashed kernel's memory.</summary>
    public enum Problem { None, TooShort, BadMagic, BadCount, BadEntry, NoRoom }

    /// <summary>
    /// Reads a table; nothing in it is trusted: the magic, a count that fits the size, every entry
    /// non-empty. <paramref name="count"/> is how many went into <paramref name="into"/>.
    /// </summary>
    public static Problem Read(ReadOnlySpan<byte> table, Span<PhysRange> into, out int count)
    {
        count = 0;
        if (table.Length < HeaderSize) return Problem.TooShort;
        if (LittleEndian.U32(table, 0) != Magic) return Problem.BadMagic;
        uint n = LittleEndian.U32(table, 4);
        if (n > (uint)Capacity(table.Length)) return Problem.BadCount;
        if (n > (uint)into.Length) return Problem.NoRoom;
        for (int i = 0; i < (int)n; i++)
        {
            ulong start = LittleEndian.U64(table, HeaderSize + i * EntrySize);
            ulong end = LittleEndian.U64(table, HeaderSize + i * EntrySize + 8);
            if (end <= start) return Problem.BadEntry;
            into[count++] = new PhysRange(start, end - start);
        }
        return Problem.None;
    }

    public static string Describe(Problem p) => p switch
    {
        Problem.TooShort => "shorter than its header",
        Problem.BadMagic => "no OWND magic",
        Problem.BadCount => "a count larger than its size allows",
        Problem.BadEntry => "an empty or inverted entry",
        Problem.NoRoom => "more entries than the reader has room for",
        _ => "ok",
    };
}
