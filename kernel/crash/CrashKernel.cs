// CrashKernel: the crashkernel= boot parameter and the physical region reserved for the capture
// image. The syntax is Linux's parse_crashkernel() (kernel/crash_reserve.c, formerly crash_core.c;
// Documentation/admin-guide/kdump/kdump.rst); the placement follows x86's reserve_crashkernel():
// one block below 4 GiB, aligned, taken top-down, or exactly at @offset.
// Pure logic over the copied multiboot map: it reads no memory and reserves nothing itself.
using System;

/// <summary>One entry of the range form "start-[end]:size": reserve Size when start &lt;= RAM &lt; end.</summary>
public struct CrashKernelRange
{
    public ulong Start, End, Size;

    /// <summary>"2G-" leaves the end open; Linux stores ULLONG_MAX, so does this.</summary>
    public readonly bool OpenEnd => End == ulong.MaxValue;
}

/// <summary>
/// A parsed crashkernel= value: either one size (<see cref="RangeCount"/> 0) or a list of ranges
/// keyed by system RAM, with an optional fixed offset in both forms.
/// </summary>
public unsafe struct CrashKernelRequest
{
    /// <summary>Range entries kept; a longer list is refused rather than cut.</summary>
    public const int MaxRanges = 16;

    /// <summary>The size of the simple form "size[@offset]"; 0 in the range form.</summary>
    public ulong Size;
    /// <summary>
    /// The "@offset" value, 0 when absent. As in Linux, "@0" means the same as no offset: the
    /// region is then placed top-down (crash_base 0 is "anywhere" in reserve_crashkernel()).
    /// </summary>
    public ulong Offset;
    /// <summary>Entries of the range form, 0 for the simple form.</summary>
    public int RangeCount;

    fixed ulong _start[MaxRanges];
    fixed ulong _end[MaxRanges];
    fixed ulong _size[MaxRanges];

    public readonly bool IsRangeForm => RangeCount > 0;
    public readonly bool HasOffset => Offset != 0;

    public readonly CrashKernelRange Range(int i)
    {
        CrashKernelRange r = default;
        if ((uint)i >= (uint)RangeCount || i >= MaxRanges) return r;
        r.Start = _start[i];
        r.End = _end[i];
        r.Size = _size[i];
        return r;
    }

    /// <summary>
    /// The size asked for on a machine with <paramref name="systemRam"/> bytes: the simple form's
    /// size, or the first range with start &lt;= RAM &lt; end (ends are exclusive, so 2G exactly
    /// picks "2G-"). False when no range matches (Linux: "crashkernel size resulted in zero bytes").
    /// </summary>
    public readonly bool SizeFor(ulong systemRam, out ulong size)
    {
        size = Size;
        if (RangeCount == 0) return true;
        for (int i = 0; i < RangeCount && i < MaxRanges; i++)
        {
            if (systemRam >= _start[i] && systemRam < _end[i])
            {
                size = _size[i];
                return true;
            }
        }
        size = 0;
        return false;
    }

    internal bool AddRange(ulong start, ulong end, ulong size)
    {
        if (RangeCount >= MaxRanges) return false;
        _start[RangeCount] = start;
        _end[RangeCount] = end;
        _size[RangeCount] = size;
        RangeCount++;
        return true;
    }
}

public enum CrashKernelErrorCode : byte
{
    None = 0,

    // ---- Syntax (CrashKernel.Parse): Position is the byte where parsing stopped ----
    /// <summary>The value is empty.</summary>
    Empty,
    /// <summary>A size, start, end or offset was expected (decimal or 0x hex digits).</summary>
    NumberExpected,
    /// <summary>The number with its suffix does not fit 64 bits.</summary>
    NumberTooLarge,
    /// <summary>Something other than the grammar allows: "16Q", "64M,high", a space.</summary>
    UnexpectedCharacter,
    /// <summary>Range form: the '-' after a range start is missing.</summary>
    DashExpected,
    /// <summary>Range form: the ':' before a range's size is missing.</summary>
    ColonExpected,
    /// <summary>Range form: end &lt;= start. A: start, B: end.</summary>
    EndNotAboveStart,
    /// <summary>Range form: more than CrashKernelRequest.MaxRanges entries.</summary>
    TooManyRanges,

    // ---- Reservation (CrashKernel.Reserve): A and B as listed ----
    /// <summary>The size chosen is 0: nothing to reserve.</summary>
    ZeroSize,
    /// <summary>No range covers the system RAM.</summary>
    NoRangeMatches,
    /// <summary>No free block below 4 GiB is large enough (the result's LargestFree says how large the largest is).</summary>
    TooLarge,
    /// <summary>@offset is not a multiple of <see cref="CrashKernel.Alignment"/>.</summary>
    OffsetUnaligned,
    /// <summary>The region at @offset ends above 4 GiB (or wraps). A: its end.</summary>
    OffsetAbove4G,
    /// <summary>The region at @offset overlaps the kernel image. A, B: the kernel's [start, end).</summary>
    OffsetOverlapsKernel,
    /// <summary>The region at @offset overlaps a boot module. Position: the module, A, B: its [start, end).</summary>
    OffsetOverlapsModule,
    /// <summary>The region at @offset overlaps a map entry that is not usable RAM. Position: the map entry, A, B: its [start, end).</summary>
    OffsetOverlapsReserved,
    /// <summary>The region at @offset is not inside one usable (type 1) map entry.</summary>
    OffsetNotUsable,
}

/// <summary>A reason and its numbers; <see cref="CrashKernelReservation.Describe"/> prints it.</summary>
public struct CrashKernelError
{
    public CrashKernelErrorCode Code;
    /// <summary>Syntax errors: the byte offset in the value. Overlaps: the module or map entry index.</summary>
    public int Position;
    public ulong A, B;

    public readonly bool IsSyntax => Code >= CrashKernelErrorCode.Empty && Code <= CrashKernelErrorCode.TooManyRanges;

    public static CrashKernelError Of(CrashKernelErrorCode code, int position, ulong a, ulong b)
        => new CrashKernelError { Code = code, Position = position, A = a, B = b };
}

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
                l.Append(" ("); CrashKernel.AppendSize(ref l, Size);
                if (Size != RequestedSize)
                {
                    l.Append(", "); CrashKernel.AppendSize(ref l, RequestedSize); l.Append(" rounded up to a multiple of 2M");
                }
                l.Append(RequestedOffset != 0 ? " at the requested offset" : ", highest free below 4G");
                l.Append("; RAM "); CrashKernel.AppendSize(ref l, SystemRam); l.Append(")");
                return;
            case CrashKernelErrorCode.ZeroSize:
                l.Append("crashkernel: crashkernel="); CrashKernel.AppendValue(ref l, value);
                l.Append(" asks for 0 bytes; kdump disabled");
                return;
            case CrashKernelErrorCode.NoRangeMatches:
                l.Append("crashkernel: no range in crashkernel="); CrashKernel.AppendValue(ref l, value);
                l.Append(" covers RAM "); CrashKernel.AppendSize(ref l, SystemRam); l.Append("; kdump disabled");
                return;
            case CrashKernelErrorCode.TooLarge:
                l.Append("crashkernel: cannot reserve "); CrashKernel.AppendSize(ref l, RequestedSize);
                l.Append(": the largest free usable block below 4G is "); CrashKernel.AppendSize(ref l, LargestFree);
                l.Append(" (RAM "); CrashKernel.AppendSize(ref l, SystemRam); l.Append("); kdump disabled");
                return;
        }
        l.Append("crashkernel: cannot reserve "); CrashKernel.AppendSize(ref l, RequestedSize);
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

static unsafe class CrashKernel
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

    // ---- Parsing ---------------------------------------------------------------------------------

    /// <summary>
    /// Parses "size[@offset]" or "start-[end]:size[,start-[end]:size...][@offset]". Numbers are
    /// memparse()'s: decimal or 0x hex (as BootParams.ParseInteger, a leading 0 is not octal) with
    /// an optional K, M, G, T, P or E suffix, either case. Unlike Linux, which stops reading at the
    /// range that matches, the whole value is checked, so a typo later in the list is still reported.
    /// </summary>
    public static bool Parse(ReadOnlySpan<byte> value, out CrashKernelRequest request, out CrashKernelError error)
    {
        request = default;
        error = default;
        if (value.IsEmpty) return Fail(out error, CrashKernelErrorCode.Empty, 0);
        // Linux tells the forms apart by a ':' anywhere in the value (parse_crashkernel_mem()).
        bool rangeForm = false;
        for (int k = 0; k < value.Length; k++)
            if (value[k] == (byte)':') rangeForm = true;

        int i = 0;
        CrashKernelErrorCode code;
        if (!rangeForm)
        {
            if ((code = MemParse(value, ref i, out request.Size)) != CrashKernelErrorCode.None) return Fail(out error, code, i);
        }
        else
        {
            while (true)
            {
                if ((code = MemParse(value, ref i, out ulong start)) != CrashKernelErrorCode.None) return Fail(out error, code, i);
                if (i >= value.Length || value[i] != (byte)'-') return Fail(out error, CrashKernelErrorCode.DashExpected, i);
                i++;
                ulong end = ulong.MaxValue;
                if (i >= value.Length || value[i] != (byte)':')
                {
                    int at = i;
                    if ((code = MemParse(value, ref i, out end)) != CrashKernelErrorCode.None) return Fail(out error, code, i);
                    if (end <= start)
                    {
                        error = CrashKernelError.Of(CrashKernelErrorCode.EndNotAboveStart, at, start, end);
                        return false;
                    }
                }
                if (i >= value.Length || value[i] != (byte)':') return Fail(out error, CrashKernelErrorCode.ColonExpected, i);
                i++;
                if ((code = MemParse(value, ref i, out ulong size)) != CrashKernelErrorCode.None) return Fail(out error, code, i);
                if (!request.AddRange(start, end, size)) return Fail(out error, CrashKernelErrorCode.TooManyRanges, i);
                if (i >= value.Length || value[i] != (byte)',') break;
                i++;
            }
        }
        if (i < value.Length && value[i] == (byte)'@')
        {
            i++;
            if ((code = MemParse(value, ref i, out request.Offset)) != CrashKernelErrorCode.None) return Fail(out error, code, i);
        }
        if (i != value.Length) return Fail(out error, CrashKernelErrorCode.UnexpectedCharacter, i);
        return true;
    }

    static bool Fail(out CrashKernelError error, CrashKernelErrorCode code, int position)
    {
        error = CrashKernelError.Of(code, position, 0, 0);
        return false;
    }

    /// <summary>memparse() at s[i..]: digits (0x for hex), then an optional suffix; i moves past them.</summary>
    static CrashKernelErrorCode MemParse(ReadOnlySpan<byte> s, ref int i, out ulong value)
    {
        value = 0;
        uint radix = 10;
        if (i + 1 < s.Length && s[i] == (byte)'0' && (s[i + 1] | 0x20) == (byte)'x')
        {
            radix = 16;
            i += 2;
        }
        int first = i;
        bool overflow = false;
        while (i < s.Length)
        {
            int d = DigitValue(s[i]);
            if (d < 0 || d >= (int)radix) break;
            if (value > (ulong.MaxValue - (ulong)d) / radix) overflow = true;
            else value = value * radix + (ulong)d;
            i++;
        }
        if (i == first) return CrashKernelErrorCode.NumberExpected;
        if (overflow) return CrashKernelErrorCode.NumberTooLarge;
        if (i < s.Length)
        {
            int shift = SuffixShift(s[i]);
            if (shift > 0)
            {
                if (value > ulong.MaxValue >> shift) return CrashKernelErrorCode.NumberTooLarge;
                value <<= shift;
                i++;
            }
        }
        return CrashKernelErrorCode.None;
    }

    static int SuffixShift(byte c)
    {
        int lower = c | 0x20;
        return lower == 'k' ? 10 : lower == 'm' ? 20 : lower == 'g' ? 30 : lower == 't' ? 40 : lower == 'p' ? 50 : lower == 'e' ? 60 : 0;
    }

    static int DigitValue(byte c)
    {
        if (c >= (byte)'0' && c <= (byte)'9') return c - '0';
        int lower = c | 0x20;
        if (lower >= 'a' && lower <= 'f') return lower - 'a' + 10;
        return -1;
    }

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

    /// <summary>
    /// A size as memparse() would read it back: the largest of E P T G M K that divides it exactly
    /// ("64M", "1536M", "130559K"), else plain bytes.
    /// </summary>
    public static void AppendSize(ref LogLine l, ulong bytes)
    {
        if (bytes == 0) { l.AppendChar('0'); return; }
        for (int shift = 60; shift >= 10; shift -= 10)
        {
            if ((bytes & ((1UL << shift) - 1)) != 0) continue;
            l.AppendDecimal(bytes >> shift);
            l.AppendChar(shift == 60 ? 'E' : shift == 50 ? 'P' : shift == 40 ? 'T' : shift == 30 ? 'G' : shift == 20 ? 'M' : 'K');
            return;
        }
        l.AppendDecimal(bytes);
    }

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
