// Where the AP start-up trampoline may live: a 4 KiB page below 640 KiB that the memory map calls
// usable, that is not page 0 (the real-mode IVT, and our null guard), not QEMU's multiboot area
// (0x9000-0x9FFF: the information block and memory map) and not in the EBDA. Pure logic.
static unsafe class TrampolinePage
{
    public const ulong LowMemoryTop = 0xA0000;
    public const ulong MultibootAreaStart = 0x9000, MultibootAreaEnd = 0xA000;
    /// <summary>Linux's choice, when free: the SIPI vector 0x08.</summary>
    public const ulong Preferred = 0x8000;

    /// <summary>The chosen page, or 0 when none is free. ebdaStart 0 means no EBDA.</summary>
    public static ulong Choose(ref Multiboot.Info info, ref Multiboot.Tables tables, ulong ebdaStart, ulong size)
    {
        ulong top = ebdaStart != 0 && ebdaStart < LowMemoryTop ? ebdaStart & ~0xFFFUL : LowMemoryTop;
        if (Fits(ref info, ref tables, Preferred, size, top)) return Preferred;
        for (ulong page = 0x1000; page + size <= top; page += 0x1000)
            if (Fits(ref info, ref tables, page, size, top)) return page;
        return 0;
    }

    static bool Fits(ref Multiboot.Info info, ref Multiboot.Tables tables, ulong page, ulong size, ulong top)
    {
        if (page < 0x1000 || page + size > top) return false;
        if (page < MultibootAreaEnd && page + size > MultibootAreaStart) return false;
        for (int i = 0; i < info.RangeCount; i++)
        {
            Multiboot.MemoryRange* r = Multiboot.Range(ref tables, i);
            if (r->Type == Multiboot.MemoryAvailable && page >= r->Base && page + size <= r->Base + r->Length)
                return true;
        }
        return false;
    }
}
