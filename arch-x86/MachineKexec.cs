// machine_kexec for a crash image (arch/x86/kernel/machine_kexec_64.c, relocate_kernel_64.S): the
// first kernel prepares, at load time and inside the crashkernel= region's reserved tail, an
// identity map of the region and a control page holding the hand-over code, both digested with the
// image (KexecDigest.cs); at crash time it copies nothing, switches to the region's page tables from
// the control page and jumps to the capture entry. The map covers the region alone, wherever it is
// and however much RAM the machine has: the capture entry touches nothing outside its region before
// it loads page tables of its own (boot/capture_entry.asm). The core header in the tail is not digested.
// Between the load and the jump the first kernel maps the region read-only (Kexec.ProtectRegion).
using System.Runtime;
using System.Runtime.CompilerServices;
using static PageTableBits;

static unsafe class MachineKexec
{
    /// <summary>Bytes at the end of the region kept for the hand-over: page tables, control page, core header.</summary>
    public const ulong TailSize = 64 * 1024;
    // Offsets inside the tail.
    const ulong TablesOffset = 0;                  // PML4, PDPT, up to 4 page directories: 6 pages
    const int MaxDirectories = 4;
    const ulong ControlPageOffset = 6 * PageSize;  // hand-over code, then its stack
    public const ulong CoreHeaderOffset = 8 * PageSize;
    public const ulong CoreHeaderCapacity = TailSize - CoreHeaderOffset;

    /// <summary>
    /// The page tables in use: PML4, PDPT and the page directories the region needs (the tail's
    /// spare directories are zero and no entry points at them, so they are not digested).
    /// </summary>
    public static PhysRange PageTables(ulong regionBase, ulong regionSize)
    {
        ulong directories = ((regionBase + regionSize - 1) >> 30) - (regionBase >> 30) + 1;
        return new PhysRange(TailBase(regionBase, regionSize) + TablesOffset, (2 + directories) * PageSize);
    }

    [MethodImpl(MethodImplOptions.InternalCall), RuntimeImport("*", "jump_to_control_page")]
    static extern void JumpToControlPage(ulong page, ulong coreHeader, ulong regionBase, ulong regionSize, ulong entry, ulong cr3, ulong stackTop);

    public static ulong TailBase(ulong regionBase, ulong regionSize) => regionBase + regionSize - TailSize;

    /// <summary>
    /// Builds the identity map the hand-over switches to: the region (2 MiB aligned, CrashKernel.Alignment)
    /// in 2 MiB pages; 0 when it spans more page directories than the tail has room for (more than 3 GiB).
    /// </summary>
    public static ulong BuildIdentityMap(ulong regionBase, ulong regionSize)
    {
        ulong* pml4 = (ulong*)(TailBase(regionBase, regionSize) + TablesOffset);
        ulong* pdpt = pml4 + 512;
        ulong* pd = pdpt + 512;
        ulong first = regionBase >> 30, last = (regionBase + regionSize - 1) >> 30;
        // One PML4 entry and one PDPT: the region must not straddle a 512 GiB boundary either.
        if (last - first >= MaxDirectories || (first >> 9) != (last >> 9)) return 0;
        for (int i = 0; i < (2 + MaxDirectories) * 512; i++) pml4[i] = 0;
        pml4[(regionBase >> 39) & 511] = (ulong)pdpt | Present | Writable;
        for (ulong g = first; g <= last; g++) pdpt[g & 511] = (ulong)(pd + (g - first) * 512) | Present | Writable;
        for (ulong a = regionBase; a < regionBase + regionSize; a += LargePageSize)
            pd[((a >> 30) - first) * 512 + ((a >> 21) & 511)] = a | Present | Writable | Large;
        return (ulong)pml4;
    }

    /// <summary>
    /// At load time: the hand-over code copied into its control page and the identity map built,
    /// so the crash path only checks them and jumps. False when the code does not fit its half of
    /// the control page (the other half is its stack), or the region is too large for the map.
    /// </summary>
    public static bool Prepare(ulong regionBase, ulong regionSize, out ulong cr3, out PhysRange handOver, out PhysRange tables)
    {
        ref KernelLayout l = ref KernelLayout.Get;
        ulong tail = TailBase(regionBase, regionSize);
        ulong page = tail + ControlPageOffset;
        ulong size = l.RelocateKernelEnd - l.RelocateKernel;
        cr3 = 0;
        handOver = new PhysRange(page, size);
        tables = PageTables(regionBase, regionSize);
        if (size > PageSize / 2) return false;
        byte* src = (byte*)l.RelocateKernel, dst = (byte*)page;
        for (ulong i = 0; i < size; i++) dst[i] = src[i];
        cr3 = BuildIdentityMap(regionBase, regionSize);
        return cr3 != 0;
    }

    /// <summary>
    /// The jump, through the hand-over code Prepare placed and the digest check approved. Interrupts
    /// are off and every other CPU is stopped; nothing here allocates or takes a lock. Never returns.
    /// </summary>
    public static void Jump(ulong regionBase, ulong regionSize, ulong entry, ulong coreHeader, ulong cr3)
    {
        ulong page = TailBase(regionBase, regionSize) + ControlPageOffset;
        Cpu.DisableInterrupts();
        // arch_kexec_unprotect_crashkres(): the region was read-only since the load; the capture
        // kernel writes it from its first instruction. Only this CPU runs now: its TLB is all that matters.
        Paging.SetWritable(regionBase, regionSize, writable: true);
        JumpToControlPage(page, coreHeader, regionBase, regionSize, entry, cr3, page + 2 * PageSize);
    }
}
