// The addresses the linker chose (boot/layout.asm's kernel_layout table, same order) and the
// per-CPU stack-set geometry shared with boot/layout.inc.
using System.Runtime;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

[StructLayout(LayoutKind.Sequential)]
struct KernelLayout
{
    public ulong ImageStart, ImageEnd;
    public ulong TextStart, TextEnd;
    public ulong KallsymsStart, KallsymsEnd;
    public ulong BuildIdNote, BuildIdNoteEnd;
    public ulong BssStart, BssEnd;
    public ulong PerCpuStacks, PerCpuStacksEnd;
    public ulong BootStackGuard, BootStackBottom, BootStackTop;
    public ulong IsrStubTable;
    public ulong BootPml4;
    public ulong PageTablePool, PageTablePoolEnd;
    public ulong BootMagic, BootInfo, BootEbdaSegment;
    public ulong RtBug, KernelBug, CpuIdle;
    public ulong TrampolineStart, TrampolineEnd;
    public ulong TrGdtrBase, TrFar32, TrFar64, TrCr3, TrEntry, TrGdt, TrPm32, TrLm64;
    public ulong ApEntry64, SmpApApicIds, SmpApStackTops, SmpApPerCpu;
    /// <summary>Where the image was linked (1 MiB for the kernel, 0 for the capture PIE); not relocated.</summary>
    public ulong ImageLinkStart;
    public ulong RelocateKernel, RelocateKernelEnd;
    /// <summary>The unwind tables (.eh_frame), named in VMCOREINFO for dump readers.</summary>
    public ulong EhFrameStart, EhFrameEnd;
    /// <summary>The trampoline's IDT pointer slots, the entry code's early IDT pointers and NMI counter.</summary>
    public ulong TrIdt32, TrIdt64, EarlyIdt32Ptr, EarlyIdt64Ptr, EarlyNmiCount;
    /// <summary>The entry code's copy of the BIOS data area (BiosDataArea.Size bytes; zero in the capture image).</summary>
    public ulong BootBda;
    /// <summary>The end of the image's read-only part (header, code, constants, unwind tables), page aligned.</summary>
    public ulong RoEnd;

    /// <summary>How far the image runs from where it was linked: 0 for the kernel, the region base for the capture image.</summary>
    public readonly ulong LoadBias => ImageStart - ImageLinkStart;

    public const ulong StackSetSize = 72 * 1024;
    public const ulong GuardSize = 4096;
    // Offsets inside one CPU's stack set: each stack sits above its own guard page.
    public const ulong KernelStackOffset = 4096, KernelStackSize = 16 * 1024;
    public const ulong NmiStackOffset = 24 * 1024, NmiStackSize = 16 * 1024;
    public const ulong DfStackOffset = 44 * 1024, DfStackSize = 16 * 1024;
    public const ulong McStackOffset = 64 * 1024, McStackSize = 8 * 1024;

    [MethodImpl(MethodImplOptions.InternalCall), RuntimeImport("*", "get_kernel_layout")]
    static extern unsafe KernelLayout* GetRaw();

    public static unsafe ref KernelLayout Get => ref *GetRaw();
}
