// CrashKernel: the physical region reserved for the capture image, from a parsed crashkernel=
// request (CrashKernelParse.cs). The placement follows x86's reserve_crashkernel():
// one block below 4 GiB, aligned, taken top-down, or exactly at @offset.
// Pure logic over the copied multiboot map: it reads no memory and reserves nothing itself.
using System;

/// <summary>The outcome of crashkernel= on this machine: the region, or why there is none.</summary>
public struct CrashKernelReservation
{
    public CrashKernelError Error;
    /// <summary>The reserved physical region [Start, Start + Size), valid when <see cref="Reserved"/>.</summary>
    public ulong Start, Size;
    /// <summary>The size the parameter asked for on this RAM (Size is it rounded up to the alignment).</summary>
    public ulong RequestedSize;
    /// <summary>The fixed offset asked for, 0 for top-down placement.</summary>
    public ulong RequestedOffset;
    /// <summary>The system RAM the range form was matched against: the sum of the usable map entries, as Linux's memblock_phys_mem_size().</summary>
    public ulong SystemRam;
    /// <summary>The largest aligned free block below 4 GiB (what the largest request could get).</summary>
    public ulong LargestFree;

    public readonly bool Reserved => Error.Code == CrashKernelErrorCode.None && Size != 0;
    public readonly ulong End => Start + Size;

    /// <summary>
    /// The one line for the console: "crashkernel reserved: ..." on success, else the reason, ending
    /// in "kdump disabled". <paramref name="value"/> is the parameter's text (shown in syntax errors).
    /// </summary>
    public readonly void Describe(ref LogLine l, scoped ReadOnlySpan<byte> value)
    {
        CrashKernelError e = Error;
        if (e.IsSyntax)
        {
            l.Append("Malformed boot parameter crashkernel=");
            CrashKernel.AppendValue(ref l, value);
            l.Append(": expected size[@offset] or ranges like 512M-2G:64M,2G-:128M; kdump disabled");
            return;
        }
        switch (e.Code)
        {
            case CrashKernelErrorCode.None:
                l.Append("crashkernel reserved: 0x"); l.AppendHex(Start, 16); l.Append(" - 0x"); l.AppendHex(End, 16);
                l.Append(" ("); Kstrtox.AppendSize(ref l, Size);
                if (Size != RequestedSize)
                {
                    l.Append(", "); Kstrtox.AppendSize(ref l, RequestedSize); l.Append(" rounded up to a multiple of 2M");
                }
                l.Append(RequestedOffset != 0 ? " at the requested offset" : ", highest free below 4G");
                l.Append("; RAM "); Kstrtox.AppendSize(ref l, SystemRam); l.Append(")");
                return;
            case CrashKernelErrorCode.ZeroSize:
                l.Append("crashkernel: crashkernel="); CrashKernel.AppendValue(ref l, value);
                l.Append(" asks for 0 bytes; kdump disabled");
                return;
            case CrashKernelErrorCode.NoRangeMatches:
                l.Append("crashkernel: no range in crashkernel="); CrashKernel.AppendValue(ref l, value);
                l.Append(" covers RAM "); Kstrtox.AppendSize(ref l, SystemRam); l.Append("; kdump disabled");
                return;
            case CrashKernelErrorCode.TooLarge:
                l.Append("crashkernel: cannot reserve "); Kstrtox.AppendSize(ref l, RequestedSize);
                l.Append(": the largest free usable block below 4G is "); Kstrtox.AppendSize(ref l, LargestFree);
                l.Append(" (RAM "); Kstrtox.AppendSize(ref l, SystemRam); l.Append("); kdump disabled");
                return;
        }
        l.Append("crashkernel: cannot reserve "); Kstrtox.AppendSize(ref l, RequestedSize);
        l.Append(" at 0x"); l.AppendHex(RequestedOffset, 8); l.Append(": ");
        switch (e.Code)
        {
            case CrashKernelErrorCode.OffsetUnaligned: l.Append("the offset is not a multiple of 2M"); break;
            case CrashKernelErrorCode.OffsetAbove4G: l.Append("it ends above 4G"); break;
            case CrashKernelErrorCode.OffsetOverlapsKernel: l.Append("it overlaps the kernel "); AppendMem(ref l, e.A, e.B); break;
            case CrashKernelErrorCode.OffsetOverlapsModule:
                l.Append("it overlaps module "); l.AppendDecimal((long)e.Position); l.AppendChar(' '); AppendMem(ref l, e.A, e.B);
                break;
            case CrashKernelErrorCode.OffsetOverlapsReserved:
                l.Append("it overlaps "); AppendMem(ref l, e.A, e.B); l.Append(", which is not usable RAM");
                break;
            case CrashKernelErrorCode.OffsetNotUsable: l.Append("it is not inside one usable RAM range"); break;
            default: l.Append("error "); l.AppendDecimal((long)e.Code); break;
        }
        l.Append("; kdump disabled");
    }

    /// <summary>"[mem 0x00100000-0x006fffff]": Linux's inclusive form of [start, end).</summary>
    static void AppendMem(ref LogLine l, ulong start, ulong end)
    {
        l.Append("[mem 0x"); l.AppendHex(start, 8); l.Append("-0x"); l.AppendHex(end > start ? end - 1 : start, 8); l.AppendChar(']');
    }
}

static unsafe partial class CrashKernel
{
    /// <summary>
    /// Alignment of the region's start and size: 2 MiB, one large page, so the capture kernel's
    /// region can be mapped with 2 MiB pages that cover nothing else. Linux uses CRASH_ALIGN = 16 MiB
    /// on x86-64 (arch/x86/kernel/setup.c); a 64 MiB QEMU guest has only three such slots above the
    /// kernel, and nothing here needs more than large-page alignment.
    /// </summary>
    public const ulong Alignment = 2UL << 20;
    /// <summary>The first MiB (real-mode IVT, BIOS data, EBDA, the AP trampoline) is never taken.</summary>
    public const ulong Floor = 1UL << 20;
    /// <summary>The region lies below 4 GiB, as Linux's default (CRASH_ADDR_LOW_MAX) for crashkernel=X.</summary>
    public const ulong Ceiling = 1UL << 32;

    // ---- Placement ---------------------------------------------------------------------------------

    /// <summary>Parse, then <see cref="Reserve"/>: the whole of crashkernel= in one call.</summary>
    public static bool Setup(ReadOnlySpan<byte> value, ref Multiboot.Info info, ref Multiboot.Tables tables,
                             ulong kernelStart, ulong kernelEnd, out CrashKernelReservation result)
    {
        if (!Parse(value, out CrashKernelRequest request, out CrashKernelError error))
        {
            result = default;
            result.Error = error;
            result.SystemRam = Multiboot.AvailableBytes(ref info, ref tables);
            return false;
        }
        return Reserve(in request, ref info, ref tables, kernelStart, kernelEnd, out result);
    }

    /// <summary>
    /// Chooses the region: a multiple of <see cref="Alignment"/> in size and start, inside one usable
    /// map entry, above <see cref="Floor"/>, below <see cref="Ceiling"/>, clear of the kernel image
    /// [kernelStart, kernelEnd), of every module [Start, End) and of every map entry that is not
    /// usable RAM (a map may list a reserved hole inside a usable entry). Without an offset the
    /// highest such place wins (Linux allocates top-down); with one, exactly there or not at all.
    /// </summary>
    public static bool Reserve(in CrashKernelRequest request, ref Multiboot.Info info, ref Multiboot.Tables tables,
                               ulong kernelStart, ulong kernelEnd, out CrashKernelReservation result)
    {
        result = default;
        result.SystemRam = Multiboot.AvailableBytes(ref info, ref tables);
        result.RequestedOffset = request.Offset;

        int ranges = info.RangeCount < Multiboot.MaxMemoryRanges ? info.RangeCount : Multiboot.MaxMemoryRanges;
        int modules = info.ModuleCount < Multiboot.MaxModules ? info.ModuleCount : Multiboot.MaxModules;
        // Everything the region must not touch: the kernel, the modules, the non-usable entries.
        PhysRange* busy = stackalloc PhysRange[1 + Multiboot.MaxModules + Multiboot.MaxMemoryRanges];
        int busyCount = 0;
        busy[busyCount++] = Extent(kernelStart, kernelEnd);
        for (int m = 0; m < modules; m++)
        {
            Multiboot.Module* mod = Multiboot.ModuleAt(ref tables, m);
            busy[busyCount++] = Extent(mod->Start, mod->End);
        }
        for (int r = 0; r < ranges; r++)
        {
            Multiboot.MemoryRange* e = Multiboot.Range(ref tables, r);
            if (e->Type != Multiboot.MemoryAvailable) busy[busyCount++] = MapExtent(e);
        }

        // The largest aligned free block, and the highest place a block of `size` fits.
        bool sized = request.SizeFor(result.SystemRam, out ulong size);
        result.RequestedSize = size;
        ulong aligned = size <= Ceiling ? AlignUp(size) : 0;
        ulong best = 0;
        bool found = false;
        for (int r = 0; r < ranges; r++)
        {
            Multiboot.MemoryRange* e = Multiboot.Range(ref tables, r);
            if (e->Type != Multiboot.MemoryAvailable) continue;
            ulong lo = e->Base > Floor ? e->Base : Floor;
            ulong end = e->Base + e->Length < e->Base ? ulong.MaxValue : e->Base + e->Length;
            ulong hi = end < Ceiling ? end : Ceiling;
            if (hi <= lo) continue;
            // Each free piece of [lo, hi) starts at lo or where a busy range ends.
            for (int k = -1; k < busyCount; k++)
            {
                ulong s = k < 0 ? lo : busy[k].End;
                if (s < lo || s >= hi || Covered(busy, busyCount, s)) continue;
                ulong pieceEnd = hi;
                for (int j = 0; j < busyCount; j++)
                    if (busy[j].Size != 0 && busy[j].Start > s && busy[j].Start < pieceEnd) pieceEnd = busy[j].Start;
                ulong a = AlignUp(s), b = AlignDown(pieceEnd);
                if (b <= a) continue;
                if (b - a > result.LargestFree) result.LargestFree = b - a;
                if (aligned != 0 && b - a >= aligned && (!found || b - aligned > best))
                {
                    best = b - aligned;
                    found = true;
                }
            }
        }

        if (!sized) return Fail(ref result, CrashKernelErrorCode.NoRangeMatches, 0, 0, 0);
        if (size == 0) return Fail(ref result, CrashKernelErrorCode.ZeroSize, 0, 0, 0);
        if (aligned == 0) return Fail(ref result, CrashKernelErrorCode.TooLarge, 0, 0, 0);

        if (request.HasOffset)
        {
            ulong start = request.Offset;
            if (start % Alignment != 0) return Fail(ref result, CrashKernelErrorCode.OffsetUnaligned, 0, 0, 0);
            // An aligned offset other than 0 is at least 2 MiB, so the first MiB is out of reach.
            if (start > Ceiling || aligned > Ceiling - start) return Fail(ref result, CrashKernelErrorCode.OffsetAbove4G, 0, 0, 0);
            PhysRange want = new PhysRange(start, aligned);
            if (want.Overlaps(busy[0].Start, busy[0].Size))
                return Fail(ref result, CrashKernelErrorCode.OffsetOverlapsKernel, 0, busy[0].Start, busy[0].End);
            for (int m = 0; m < modules; m++)
                if (want.Overlaps(busy[1 + m].Start, busy[1 + m].Size))
                    return Fail(ref result, CrashKernelErrorCode.OffsetOverlapsModule, m, busy[1 + m].Start, busy[1 + m].End);
            bool inside = false;
            for (int r = 0; r < ranges; r++)
            {
                Multiboot.MemoryRange* e = Multiboot.Range(ref tables, r);
                if (e->Type != Multiboot.MemoryAvailable)
                {
                    PhysRange x = MapExtent(e);
                    if (want.Overlaps(x.Start, x.Size)) return Fail(ref result, CrashKernelErrorCode.OffsetOverlapsReserved, r, x.Start, x.End);
                }
                else if (start >= e->Base && start - e->Base <= e->Length && aligned <= e->Length - (start - e->Base)) inside = true;
            }
            if (!inside) return Fail(ref result, CrashKernelErrorCode.OffsetNotUsable, 0, 0, 0);
            result.Start = start;
            result.Size = aligned;
            return true;
        }

        if (!found) return Fail(ref result, CrashKernelErrorCode.TooLarge, 0, 0, 0);
        result.Start = best;
        result.Size = aligned;
        return true;
    }

    static bool Fail(ref CrashKernelReservation result, CrashKernelErrorCode code, int position, ulong a, ulong b)
    {
        result.Error = CrashKernelError.Of(code, position, a, b);
        result.Start = result.Size = 0;
        return false;
    }

    /// <summary>[start, end) as a PhysRange; an inverted extent is empty.</summary>
    static PhysRange Extent(ulong start, ulong end) => new PhysRange(start, end > start ? end - start : 0);

    /// <summary>A map entry as a PhysRange; one running past 2^64 is cut at 2^64 - 1.</summary>
    static PhysRange MapExtent(Multiboot.MemoryRange* e)
        => new PhysRange(e->Base, e->Length <= ulong.MaxValue - e->Base ? e->Length : ulong.MaxValue - e->Base);

    static bool Covered(PhysRange* busy, int count, ulong pa)
    {
        for (int j = 0; j < count; j++)
            if (busy[j].Size != 0 && pa >= busy[j].Start && pa - busy[j].Start < busy[j].Size) return true;
        return false;
    }

    static ulong AlignUp(ulong v) => (v + (Alignment - 1)) & ~(Alignment - 1);
    static ulong AlignDown(ulong v) => v & ~(Alignment - 1);

    // ---- Formatting --------------------------------------------------------------------------------

    /// <summary>The parameter's text as given, cut like BootParams' malformed values so the line keeps its reason.</summary>
    internal static void AppendValue(ref LogLine l, scoped ReadOnlySpan<byte> value)
    {
        if (value.Length <= BootParams.MaxValueShown) l.Append(value);
        else
        {
            l.Append(value.Slice(0, BootParams.MaxValueShown));
            l.Append("...");
        }
    }
}
