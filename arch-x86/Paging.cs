// The kernel's identity map. boot/multiboot.asm (and boot/capture_entry.asm in the capture image)
// maps the low IdentityMapEnd (2 MiB pages, 4 KiB pages for the first 2 MiB with page 0 absent).
// This file edits that map: it maps RAM above it (any amount the pool allows: 64 GiB and more),
// splits a 2 MiB page into 4 KiB pages when one page must change (guard pages), maps device memory
// (the dump window, uncached APIC pages). 2 MiB pages only: QEMU's default CPU model has no 1 GiB
// pages. Page-table pages come from a static pool (boot/layout.inc). SDM Vol. 3A 4.5.
using static PageTableBits;

static unsafe class Paging
{
    /// <summary>
    /// The identity-mapped physical memory from page 4 KiB up to the end of the RAM mapped without a
    /// gap above the boot map; page 0 stays unmapped (a null dereference faults).
    /// </summary>
    public static PhysicalWindow IdentityWindow => PhysicalWindow.Identity(PageSize, s_mappedEnd == 0 ? IdentityMapEnd : s_mappedEnd);

    /// <summary>The boot map's own tables (boot/multiboot.asm: PML4, PDPT, one page directory per GiB, the first 2 MiB's page table).</summary>
    public const ulong BootTablesSize = (3 + (IdentityMapEnd >> 30)) * PageSize;

    /// <summary>Bytes of the page-table pool handed out so far (VMCOREINFO's SIZE(page_table_pool)).</summary>
    public static ulong PoolBytesUsed => s_poolNext == 0 ? 0 : s_poolNext - KernelLayout.Get.PageTablePool;

    static ulong s_poolNext;
    static ulong s_mappedEnd;

    static ulong* AllocTable()
    {
        ref KernelLayout l = ref KernelLayout.Get;
        if (s_poolNext == 0) s_poolNext = l.PageTablePool;
        if (s_poolNext + PageSize > l.PageTablePoolEnd) return null;
        ulong* t = (ulong*)s_poolNext;
        s_poolNext += PageSize;
        for (int i = 0; i < 512; i++) t[i] = 0;
        return t;
    }

    static ulong* Pml4 => (ulong*)KernelLayout.Get.BootPml4;

    /// <summary>The table one level down from entry e, created (empty) when absent and create is set.</summary>
    static ulong* Next(ulong* e, bool create)
    {
        if ((*e & Present) == 0)
        {
            if (!create) return null;
            ulong* t = AllocTable();
            if (t == null) return null;
            *e = (ulong)t | Present | Writable;
        }
        return (ulong*)(*e & AddressMask);
    }

    /// <summary>The page-directory entry covering va (creating upper levels when asked).</summary>
    static ulong* PdEntry(ulong va, bool create)
    {
        ulong* pdpt = Next(&Pml4[(va >> 39) & 511], create);
        if (pdpt == null) return null;
        ulong* pd = Next(&pdpt[(va >> 30) & 511], create);
        if (pd == null) return null;
        return &pd[(va >> 21) & 511];
    }

    /// <summary>The 4 KiB page-table entry for va, splitting a 2 MiB page first if needed.</summary>
    static ulong* PtEntry(ulong va)
    {
        ulong* pde = PdEntry(va, false);
        if (pde == null || (*pde & Present) == 0) return null;
        if ((*pde & Large) != 0)
        {
            ulong* pt = AllocTable();
            if (pt == null) return null;
            ulong baseAddr = *pde & AddressMask & ~(LargePageSize - 1);
            ulong flags = *pde & (Present | Writable | WriteThrough | CacheDisable | NoExecute);
            for (ulong i = 0; i < 512; i++) pt[i] = (baseAddr + i * PageSize) | flags;
            *pde = (ulong)pt | Present | Writable;
            FlushRange(baseAddr, LargePageSize);
        }
        ulong* table = (ulong*)(*pde & AddressMask);
        return &table[(va >> 12) & 511];
    }

    /// <summary>Removes one 4 KiB page from the map (a guard page). False when it cannot.</summary>
    public static bool UnmapPage(ulong va)
    {
        ulong* pte = PtEntry(va);
        if (pte == null) return false;
        *pte = 0;
        Cpu.Invlpg(va);
        return true;
    }

    /// <summary>Maps one 4 KiB page at its physical address (the capture kernel reads page 0 for the dump).</summary>
    public static bool MapPage(ulong va)
    {
        ulong* pte = PtEntry(va);
        if (pte == null) return false;
        *pte = (va & AddressMask) | Present | Writable;
        Cpu.Invlpg(va);
        return true;
    }

    /// <summary>
    /// Makes [start, start + size) read-only or writable again (Linux's set_memory_ro/rw): whole
    /// 2 MiB pages by their directory entry, the rest page by page (a 2 MiB page is split for it).
    /// Only this CPU's TLB is flushed: a CPU that may hold the old entries needs TlbFlush.AllCpus.
    /// False when part of the range is not mapped or a split found the pool empty.
    /// </summary>
    public static bool SetWritable(ulong start, ulong size, bool writable)
    {
        ulong end = start + size;
        bool ok = true;
        for (ulong a = start & ~(PageSize - 1); a < end;)
        {
            ulong* pde = PdEntry(a, false);
            if (pde == null || (*pde & Present) == 0) { ok = false; a += PageSize; continue; }
            if ((*pde & Large) != 0 && (a & (LargePageSize - 1)) == 0 && a + LargePageSize <= end)
            {
                *pde = writable ? *pde | Writable : *pde & ~Writable;
                a += LargePageSize;
                continue;
            }
            ulong* pte = PtEntry(a);
            if (pte == null || (*pte & Present) == 0) ok = false;
            else *pte = writable ? *pte | Writable : *pte & ~Writable;
            a += PageSize;
        }
        FlushRange(start, size);
        return ok;
    }

    /// <summary>Whether a write to va would be allowed by the page tables (every level must allow it, SDM Vol. 3A 4.6.1).</summary>
    public static bool IsWritable(ulong va)
    {
        ulong* pml4e = &Pml4[(va >> 39) & 511];
        if ((*pml4e & (Present | Writable)) != (Present | Writable)) return false;
        ulong* pdpte = &((ulong*)(*pml4e & AddressMask))[(va >> 30) & 511];
        if ((*pdpte & (Present | Writable)) != (Present | Writable)) return false;
        ulong* pde = &((ulong*)(*pdpte & AddressMask))[(va >> 21) & 511];
        if ((*pde & (Present | Writable)) != (Present | Writable)) return false;
        if ((*pde & Large) != 0) return true;
        ulong pte = ((ulong*)(*pde & AddressMask))[(va >> 12) & 511];
        return (pte & (Present | Writable)) == (Present | Writable);
    }

    public static bool IsMapped(ulong va)
    {
        ulong* pde = PdEntry(va, false);
        if (pde == null || (*pde & Present) == 0) return false;
        if ((*pde & Large) != 0) return true;
        ulong* table = (ulong*)(*pde & AddressMask);
        return (table[(va >> 12) & 511] & Present) != 0;
    }

    /// <summary>Identity-maps [pa, pa+size) with 2 MiB pages; uncached for device memory.</summary>
    public static bool MapIdentity(ulong pa, ulong size, bool uncached)
    {
        ulong start = pa & ~(LargePageSize - 1), end = (pa + size + LargePageSize - 1) & ~(LargePageSize - 1);
        for (ulong a = start; a < end; a += LargePageSize)
        {
            ulong* pde = PdEntry(a, true);
            if (pde == null) return false;
            if ((*pde & Present) != 0 && (*pde & Large) == 0)
            {
                // Already split into 4 KiB pages: change the cache bits of each.
                ulong* table = (ulong*)(*pde & AddressMask);
                for (int i = 0; i < 512; i++)
                    if ((table[i] & Present) != 0)
                        table[i] = uncached ? table[i] | CacheDisable | WriteThrough : table[i] & ~(CacheDisable | WriteThrough);
            }
            else
            {
                *pde = a | Present | Writable | Large | (uncached ? CacheDisable | WriteThrough : 0);
            }
        }
        FlushRange(start, end - start);
        return true;
    }

    /// <summary>
    /// Identity-maps a RAM range above the boot map (write-back), and grows <see cref="IdentityWindow"/>
    /// when it continues the mapped memory without a gap. False when the pool ran out (part of it
    /// may be mapped; the caller names the range and leaves it alone).
    /// </summary>
    public static bool MapRam(ulong start, ulong size)
    {
        ulong end = start + size;
        if (end <= IdentityMapEnd) return true;
        if (start < IdentityMapEnd) start = IdentityMapEnd;
        if (!MapIdentity(start, end - start, uncached: false)) return false;
        ulong mapped = s_mappedEnd == 0 ? IdentityMapEnd : s_mappedEnd;
        if (start <= mapped && end > mapped) s_mappedEnd = end;
        return true;
    }

    /// <summary>Page-table pages left in the pool.</summary>
    public static ulong PoolPagesFree
    {
        get
        {
            ref KernelLayout l = ref KernelLayout.Get;
            ulong next = s_poolNext == 0 ? l.PageTablePool : s_poolNext;
            return (l.PageTablePoolEnd - next) / PageSize;
        }
    }

    static void FlushRange(ulong start, ulong size)
    {
        // A CR3 reload flushes every non-global translation: simpler than many invlpg for 2 MiB.
        Cpu.WriteCr3(Cpu.ReadCr3());
    }
}
