// CrashKernelParse: the crashkernel= value, "size[@offset]" or "start-[end]:size,...[@offset]", as
// Linux's parse_crashkernel() reads it (kernel/crash_reserve.c, formerly crash_core.c;
// Documentation/admin-guide/kdump/kdump.rst), into a request; CrashKernel.cs places it.
// Pure logic: it reads nothing but the value.
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

static unsafe partial class CrashKernel
{
    // ---- Parsing ---------------------------------------------------------------------------------

    /// <summary>
    /// Parses "size[@offset]" or "start-[end]:size[,start-[end]:size...][@offset]". Numbers are
    /// memparse()'s (Kstrtox): decimal or 0x hex (a leading 0 is not octal) with
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

    /// <summary>memparse() at s[i..] (Kstrtox), its failure as a crashkernel= error.</summary>
    static CrashKernelErrorCode MemParse(ReadOnlySpan<byte> s, ref int i, out ulong value) => Kstrtox.MemParse(s, ref i, out value) switch
    {
        NumberError.None => CrashKernelErrorCode.None,
        NumberError.NoDigits => CrashKernelErrorCode.NumberExpected,
        _ => CrashKernelErrorCode.NumberTooLarge,
    };
}
