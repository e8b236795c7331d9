// Kallsyms: the kernel's own symbol table, so an oops can say "function+0xoff/0xsize" with no
// debugger at hand. Mirrors Linux's kallsyms_lookup() (kernel/kallsyms.c) over a simpler table that
// the build writes (tools/Build/KallsymsWriter.cs); the reader trusts nothing in it.
using System;

// Table format (little-endian, all offsets from the start of the table):
//
//   header, 16 bytes:
//        0  u32  Magic         'KSYM' = 0x4D59534B
//        4  u32  Count         number of entries
//        8  u32  NamesOffset   where the names blob starts (>= 16 + 16 * Count)
//       12  u32  NamesSize     bytes in the names blob
//   entries, Count x 16 bytes from offset 16, sorted by address, no two with the same address:
//        0  u64  Address
//        8  u32  Size          0 = unknown: the symbol runs up to the next one
//       12  u32  NameOffset    from the start of the names blob
//   names blob: NUL-terminated ASCII names.
//
// A zero-size symbol with no symbol after it covers only its own first byte: nothing says where
// it ends, and guessing would attribute unrelated code to it.

public static class Kallsyms
{
    public const uint Magic = 0x4D59534B;
    public const int HeaderSize = 16;
    public const int EntrySize = 16;

    /// <summary>Number of entries, or 0 if the header is not a usable table.</summary>
    public static int Count(ReadOnlySpan<byte> table)
        => ReadHeader(table, out int count, out _, out _) ? count : 0;

    /// <summary>
    /// Finds the symbol that covers <paramref name="address"/>: the last one starting at or below it,
    /// if the address is inside [Address, Address + Size). Binary search, so it is cheap enough for
    /// every frame of a backtrace. False if no symbol covers it or the table is unusable; on an
    /// unsorted table the answer may be wrong but the search still stays inside the table.
    /// </summary>
    public static bool Lookup(ReadOnlySpan<byte> table, ulong address, out ReadOnlySpan<byte> name,
                              out ulong offset, out ulong size)
    {
        name = default;
        offset = 0;
        size = 0;
        if (!ReadHeader(table, out int count, out int namesOffset, out int namesSize) || count == 0) return false;

        // Last entry with Address <= address.
        int lo = 0, hi = count - 1, found = -1;
        while (lo <= hi)
        {
            int mid = lo + (hi - lo) / 2;
            if (EntryAddress(table, mid) <= address)
            {
                found = mid;
                lo = mid + 1;
            }
            else
            {
                hi = mid - 1;
            }
        }
        if (found < 0) return false;

        ulong start = EntryAddress(table, found);
        ulong length = EntrySize32(table, found);
        if (length == 0)
        {
            // Runs to the next symbol that starts above it.
            int next = found + 1;
            while (next < count && EntryAddress(table, next) <= start) next++;
            if (next < count) length = EntryAddress(table, next) - start;
            else if (address != start) return false;
        }
        if (length != 0 && address - start >= length) return false;
        if (!NameAt(table, namesOffset, namesSize, EntryNameOffset(table, found), out name)) return false;
        offset = address - start;
        size = length;
        return true;
    }

    /// <summary>Finds a symbol by exact name (linear: for set-up and tests, not for hot paths).</summary>
    public static bool LookupName(ReadOnlySpan<byte> table, ReadOnlySpan<byte> name, out ulong address, out ulong size)
    {
        address = 0;
        size = 0;
        if (!ReadHeader(table, out int count, out int namesOffset, out int namesSize)) return false;
        for (int i = 0; i < count; i++)
        {
            if (!NameAt(table, namesOffset, namesSize, EntryNameOffset(table, i), out ReadOnlySpan<byte> candidate))
                continue;
            if (candidate.Length != name.Length) continue;
            int k = 0;
            while (k < name.Length && candidate[k] == name[k]) k++;
            if (k != name.Length) continue;
            address = EntryAddress(table, i);
            size = EntrySize32(table, i);
            return true;
        }
        return false;
    }

    /// <summary>The index-th entry as stored (false if out of range or its name is outside the blob).</summary>
    public static bool Entry(ReadOnlySpan<byte> table, int index, out ulong address, out ulong size,
                             out ReadOnlySpan<byte> name)
    {
        address = 0;
        size = 0;
        name = default;
        if (!ReadHeader(table, out int count, out int namesOffset, out int namesSize)) return false;
        if (index < 0 || index >= count) return false;
        if (!NameAt(table, namesOffset, namesSize, EntryNameOffset(table, index), out name)) return false;
        address = EntryAddress(table, index);
        size = EntrySize32(table, index);
        return true;
    }

    /// <summary>
    /// Checks the whole table: header, every name inside the blob and NUL-terminated, addresses
    /// strictly increasing. Lookup never faults without this; Validate says whether its answers
    /// can be believed.
    /// </summary>
    public static bool Validate(ReadOnlySpan<byte> table)
    {
        if (!ReadHeader(table, out int count, out int namesOffset, out int namesSize)) return false;
        for (int i = 0; i < count; i++)
        {
            uint nameOffset = EntryNameOffset(table, i);
            if (nameOffset >= (uint)namesSize) return false;
            int end = namesOffset + (int)nameOffset;
            while (end < namesOffset + namesSize && table[end] != 0) end++;
            if (end == namesOffset + namesSize) return false;
            if (i > 0 && EntryAddress(table, i) <= EntryAddress(table, i - 1)) return false;
        }
        return true;
    }

    // Header sanity in O(1): every entry and the names blob lie inside the table.
    private static bool ReadHeader(ReadOnlySpan<byte> table, out int count, out int namesOffset, out int namesSize)
    {
        count = 0;
        namesOffset = 0;
        namesSize = 0;
        if (table.Length < HeaderSize || ReadU32(table, 0) != Magic) return false;
        uint c = ReadU32(table, 4), no = ReadU32(table, 8), ns = ReadU32(table, 12);
        ulong entriesEnd = HeaderSize + (ulong)c * EntrySize;
        if (entriesEnd > (ulong)table.Length) return false;
        if (no < entriesEnd || (ulong)no + ns > (ulong)table.Length) return false;
        count = (int)c;
        namesOffset = (int)no;
        namesSize = (int)ns;
        return true;
    }

    // The name runs to its NUL, or to the end of the blob if a corrupt table has none.
    private static bool NameAt(ReadOnlySpan<byte> table, int namesOffset, int namesSize, uint nameOffset,
                               out ReadOnlySpan<byte> name)
    {
        name = default;
        if (nameOffset >= (uint)namesSize) return false;
        int start = namesOffset + (int)nameOffset, end = start;
        while (end < namesOffset + namesSize && table[end] != 0) end++;
        name = table.Slice(start, end - start);
        return true;
    }

    private static ulong EntryAddress(ReadOnlySpan<byte> t, int i) => ReadU64(t, HeaderSize + i * EntrySize);
    private static uint EntrySize32(ReadOnlySpan<byte> t, int i) => ReadU32(t, HeaderSize + i * EntrySize + 8);
    private static uint EntryNameOffset(ReadOnlySpan<byte> t, int i) => ReadU32(t, HeaderSize + i * EntrySize + 12);

    private static uint ReadU32(ReadOnlySpan<byte> s, int offset)
        => (uint)s[offset] | (uint)s[offset + 1] << 8 | (uint)s[offset + 2] << 16 | (uint)s[offset + 3] << 24;

    private static ulong ReadU64(ReadOnlySpan<byte> s, int offset)
        => ReadU32(s, offset) | (ulong)ReadU32(s, offset + 4) << 32;
}
