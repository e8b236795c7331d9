// The physical memory this kernel owns, published for the dump (like memblock's reserved regions,
// which is what a kernel without a page allocator has): the image through __bss_end, the AP
// trampoline page, the crash region, and whatever a future allocator hands out through Claim.
// Everything else in usable RAM is free, so a filtered dump (dump_level bit 16) leaves it out; the
// table's format is kernel/dump/OwnedRanges.cs, and VMCOREINFO names it (SYMBOL(owned_ranges)).
using System;

static unsafe class OwnedMemory
{
    public const int Capacity = 64;
    const int TableBytes = OwnedRanges.HeaderSize + Capacity * OwnedRanges.EntrySize;

    struct Storage { public fixed byte Bytes[TableBytes]; }
    static Storage s_table;

    public static byte* Address { get { fixed (byte* p = s_table.Bytes) return p; } }
    public const int Size = TableBytes;
    static Span<byte> Table => new Span<byte>(Address, TableBytes);

    /// <summary>At boot, before anything else is claimed: the kernel image with its bss.</summary>
    public static void Init()
    {
        OwnedRanges.Init(Table);
        ref KernelLayout k = ref KernelLayout.Get;
        Claim(k.ImageStart, k.ImageEnd - k.ImageStart, "kernel image");
    }

    /// <summary>
    /// Records [start, start + size) as owned (rounded out to pages by the dump filter). A full
    /// table is a bug: an owned range missing from it would be left out of every filtered dump.
    /// </summary>
    public static void Claim(ulong start, ulong size, string what)
    {
        bool added = OwnedRanges.Add(Table, start, start + size);
        Bug.On(!added, "OwnedMemory.Claim: the owned-ranges table has room for every range the kernel owns");
        Log.Debug($"mm: owned [mem 0x{start:x8}-0x{start + size - 1:x8}] {what}");
    }
}
