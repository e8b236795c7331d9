// A bounded view of physical memory for the parsers that read what firmware, a loader or a crashed
// kernel left there (multiboot block, ACPI tables, the ELF core header and its notes): every read
// goes through Map, so a corrupt pointer can never make them read outside the window.

/// <summary>
/// Physical memory a reader may touch: [Start, Start + Length), readable at Base. The kernel passes
/// its identity map without page 0 (<see cref="Identity"/>(0x1000, 4 GiB)); host tests point Base at
/// a buffer that stands for some fake physical range.
/// </summary>
public unsafe struct PhysicalWindow
{
    public byte* Base;
    public ulong Start, Length;

    public PhysicalWindow(byte* @base, ulong start, ulong length)
    {
        Base = @base;
        Start = start;
        Length = length;
    }

    /// <summary>Identity-mapped physical memory [start, end): the pointer is the address.</summary>
    public static PhysicalWindow Identity(ulong start, ulong end) => new PhysicalWindow((byte*)start, start, end > start ? end - start : 0);

    /// <summary>True if [pa, pa + length) lies inside the window (for a window based at address 0, Map gives null for pa 0).</summary>
    public readonly bool Contains(ulong pa, ulong length)
    {
        if (pa < Start) return false;
        ulong offset = pa - Start;
        return offset <= Length && length <= Length - offset;
    }

    /// <summary>Where [pa, pa + length) can be read, or null when any of it lies outside the window.</summary>
    public readonly byte* Map(ulong pa, ulong length)
    {
        if (pa < Start) return null;
        ulong offset = pa - Start;
        if (offset > Length || length > Length - offset) return null;
        return Base + offset;
    }
}
