// The ranges a core header describes: physical memory ranges (note buffers, RAM, the crash
// region) and PT_LOAD segments (where RAM sits physically and where the kernel maps it).
using System;

/// <summary>A physical range [Start, Start + Size): a note buffer, a RAM range, the crash-kernel region.</summary>
public struct PhysRange
{
    public ulong Start, Size;

    public PhysRange(ulong start, ulong size)
    {
        Start = start;
        Size = size;
    }

    /// <summary>One past the last byte, or 0 when the range wraps past 2^64 (never valid).</summary>
    public readonly ulong End => Start + Size >= Start ? Start + Size : 0;

    /// <summary>True if [start, start + size) shares a byte with this range (empty ranges share none).</summary>
    public readonly bool Overlaps(ulong start, ulong size)
        => size != 0 && Size != 0 && start < Start + Size && Start < start + size;
}

/// <summary>
/// A preserved memory range as a PT_LOAD describes it: physical start (p_paddr), the virtual address
/// it is mapped at (p_vaddr; the identity here), its size (p_memsz) and how much of it the file
/// holds (p_filesz): the rest, up to Size, is memory that was all zeros and reads as zeros (ELF's
/// rule, what makedumpfile's zero-page exclusion relies on in ELF output).
/// </summary>
public struct LoadSegment
{
    public ulong PhysAddr, VirtAddr, Size;
    public ulong FileSize;

    /// <summary>A range held whole in the file (p_filesz = p_memsz), as the core header describes RAM.</summary>
    public LoadSegment(ulong physAddr, ulong virtAddr, ulong size)
    {
        PhysAddr = physAddr;
        VirtAddr = virtAddr;
        Size = size;
        FileSize = size;
    }

    public LoadSegment(ulong physAddr, ulong virtAddr, ulong size, ulong fileSize)
    {
        PhysAddr = physAddr;
        VirtAddr = virtAddr;
        Size = size;
        FileSize = fileSize;
    }

    public readonly ulong End => PhysAddr + Size;
}
