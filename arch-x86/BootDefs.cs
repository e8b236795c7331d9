// What the asm in boot/ and the C# must agree on: GDT selectors and descriptors (one GDT layout in
// every GDT the kernel loads), page-table entry bits, the boot identity map's extent and the CPU
// limit. boot/x86.inc and boot/layout.inc hold the same values for NASM; a host test (BootDefsTests)
// compares the files.

/// <summary>
/// CPU numbers run from 0 to MaxCpus - 1: every per-CPU table (PerCpuArea, the crash notes, the stack
/// sets, the AP tables of boot/trampoline.asm) is sized by this one value (boot/layout.inc MAX_CPUS).
/// 255 is all that xAPIC can address: IDs 0-254, 255 being the broadcast ID (SDM Vol. 3A 11.6.1).
/// </summary>
static class CpuLimit
{
    public const int MaxCpus = 255;
}

/// <summary>GDT selectors and descriptors (SDM Vol. 3A 3.4.5, 5.2.1). Linux's: kernel CS 0x10, DS 0x18.</summary>
static class Segments
{
    public const ushort KernelCode32 = 0x08, KernelCode = 0x10, KernelData = 0x18, TssSelector = 0x20;
    /// <summary>Present, DPL 0, code, readable, L=1 (64-bit); accessed bit set (a read-only GDT then never needs a write).</summary>
    public const ulong Code64Descriptor = 0x00AF9B000000FFFF;
    public const ulong Code32Descriptor = 0x00CF9B000000FFFF;
    /// <summary>Present, DPL 0, data, writable, accessed.</summary>
    public const ulong DataDescriptor = 0x00CF93000000FFFF;
    /// <summary>The TSS's IST slots (SDM Vol. 3A 6.14.5): NMI, #DF and #MC each run on their own stack.</summary>
    public const int IstNmi = 1, IstDoubleFault = 2, IstMachineCheck = 3;
}

/// <summary>IDT gate types (SDM Vol. 3A 6.11, 6.14.1).</summary>
static class Gates
{
    /// <summary>Present, DPL 0, interrupt gate (IF cleared on entry): 32-bit in an 8-byte entry, 64-bit in a 16-byte one.</summary>
    public const byte Interrupt = 0x8E;
}

/// <summary>QEMU's isa-debug-exit: writing v exits QEMU with status (v &lt;&lt; 1) | 1 (README "Exit statuses").</summary>
static class DebugExit
{
    public const ushort Port = 0x501;
    /// <summary>Written by the kernel: 0 = clean power-off without ACPI (status 1), 1 = a failure it detected (status 3).</summary>
    public const byte Clean = 0, Failure = 1;
}

/// <summary>Page-table entry bits (SDM Vol. 3A 4.5, tables 4-15 to 4-20) and the identity map's geometry.</summary>
static class PageTableBits
{
    public const ulong Present = 1, Writable = 1 << 1, WriteThrough = 1 << 3, CacheDisable = 1 << 4, Large = 1 << 7;
    public const ulong NoExecute = 1UL << 63;
    public const ulong AddressMask = 0x000F_FFFF_FFFF_F000;
    public const ulong PageSize = 4096, LargePageSize = 2UL << 20;
    /// <summary>
    /// The boot code and the capture entry identity-map physical memory below this before any C#
    /// runs (the loader's data, ACPI, the APICs and the crash region all lie below 4 GiB); Paging.cs
    /// maps RAM and windows above it from its pool.
    /// </summary>
    public const ulong IdentityMapEnd = 4UL << 30;
    /// <summary>The 2 MiB pages of the IOAPIC (0xFEC00000) and the local APIC (0xFEE00000): mapped uncached.</summary>
    public const int IoApicLargePage = 0x7F6, LocalApicLargePage = 0x7F7;
}
