// ElfCoreError: why a core header or a vmcore was refused (or a writer ran out of room), with its
// numbers, printed in one line as Linux's fs/proc/vmcore.c warnings do.
using System;

/// <summary>Why a core header or a vmcore was refused (or a writer ran out of room).</summary>
public enum ElfCoreErrorCode
{
    None = 0,
    /// <summary>A: bytes needed, B: bytes available.</summary>
    BufferTooSmall,
    /// <summary>B: bytes available (fewer than an ELF header, or no magic).</summary>
    NotElf,
    /// <summary>A: e_ident[EI_CLASS].</summary>
    NotElf64,
    /// <summary>A: e_ident[EI_DATA].</summary>
    NotLittleEndian,
    /// <summary>A: e_ident[EI_VERSION], B: e_version.</summary>
    BadVersion,
    /// <summary>A: e_type.</summary>
    NotCore,
    /// <summary>A: e_machine.</summary>
    NotX86_64,
    /// <summary>A: e_ehsize.</summary>
    BadHeaderSize,
    /// <summary>A: e_phentsize.</summary>
    BadProgramHeaderSize,
    NoProgramHeaders,
    /// <summary>A: e_phnum, B: the most accepted.</summary>
    TooManyProgramHeaders,
    /// <summary>A program header table past the end. A: where it ends, B: bytes available.</summary>
    Truncated,
    /// <summary>Index: program header. A: p_filesz, B: p_memsz.</summary>
    SizeMismatch,
    /// <summary>Index: program header. A: address, B: size.</summary>
    NoteUnreadable,
    /// <summary>Index: program header. A: size, B: the most accepted.</summary>
    NoteTooLarge,
    /// <summary>A: count, B: capacity.</summary>
    TooManyNotes,
    /// <summary>A: count, B: capacity.</summary>
    TooManyLoads,
    /// <summary>Index: program header. A: physical start, B: size.</summary>
    LoadWraps,
    /// <summary>Index: program header. A: p_offset, B: p_paddr (a core header's PT_LOAD has them equal).</summary>
    LoadOffsetNotPaddr,
    /// <summary>Index: program header. A: physical start, B: size.</summary>
    LoadNotRam,
    /// <summary>Index: program header. A: physical start, B: size.</summary>
    LoadInCrashKernel,
    /// <summary>A segment's bytes past the end of the file. Index: program header. A: end, B: file size.</summary>
    SegmentTruncated,
    /// <summary>Index: program header. A: file offset, B: size.</summary>
    SegmentWraps,
    /// <summary>The dump would exceed 2^64 bytes or the notes 2^31 (A: notes size).</summary>
    LayoutOverflow,
    /// <summary>A note buffer changed between validation and the merge. Index: note buffer.</summary>
    NoteChanged,
    /// <summary>Memory the dump filter must look at is outside the readable window. A: start, B: size.</summary>
    MemoryUnreadable,
}

/// <summary>A reason with its numbers, printed in one line by <see cref="Describe"/>.</summary>
public struct ElfCoreError
{
    public ElfCoreErrorCode Code;
    /// <summary>The program header (or note buffer) concerned, or -1.</summary>
    public int Index;
    public ulong A, B;

    public static ElfCoreError Ok => new ElfCoreError { Code = ElfCoreErrorCode.None, Index = -1 };

    public static ElfCoreError Of(ElfCoreErrorCode code, int index, ulong a, ulong b)
        => new ElfCoreError { Code = code, Index = index, A = a, B = b };

    /// <summary>Appends the reason, e.g. "not x86-64 (e_machine 40)".</summary>
    public readonly void Describe(ref LogLine l)
    {
        switch (Code)
        {
            case ElfCoreErrorCode.None: l.Append("no error"); break;
            case ElfCoreErrorCode.BufferTooSmall:
                l.Append("buffer too small: 0x"); l.AppendHex(A, 1); l.Append(" bytes needed, 0x"); l.AppendHex(B, 1); l.Append(" available");
                break;
            case ElfCoreErrorCode.NotElf:
                l.Append("not an ELF file ("); l.AppendDecimal(B); l.Append(" bytes, no 7f 45 4c 46 header)");
                break;
            case ElfCoreErrorCode.NotElf64: l.Append("not ELF64 (EI_CLASS "); l.AppendDecimal(A); l.Append(")"); break;
            case ElfCoreErrorCode.NotLittleEndian: l.Append("not little-endian (EI_DATA "); l.AppendDecimal(A); l.Append(")"); break;
            case ElfCoreErrorCode.BadVersion:
                l.Append("unknown ELF version (EI_VERSION "); l.AppendDecimal(A); l.Append(", e_version "); l.AppendDecimal(B); l.Append(")");
                break;
            case ElfCoreErrorCode.NotCore: l.Append("not a core file (e_type "); l.AppendDecimal(A); l.Append(")"); break;
            case ElfCoreErrorCode.NotX86_64: l.Append("not x86-64 (e_machine "); l.AppendDecimal(A); l.Append(")"); break;
            case ElfCoreErrorCode.BadHeaderSize: l.Append("bad e_ehsize "); l.AppendDecimal(A); l.Append(" (64 expected)"); break;
            case ElfCoreErrorCode.BadProgramHeaderSize: l.Append("bad e_phentsize "); l.AppendDecimal(A); l.Append(" (56 expected)"); break;
            case ElfCoreErrorCode.NoProgramHeaders: l.Append("no program headers (e_phnum 0)"); break;
            case ElfCoreErrorCode.TooManyProgramHeaders:
                l.Append("too many program headers (e_phnum "); l.AppendDecimal(A); l.Append(", at most "); l.AppendDecimal(B); l.Append(")");
                break;
            case ElfCoreErrorCode.Truncated:
                l.Append("truncated: program header table ends at 0x"); l.AppendHex(A, 1);
                l.Append(" but the file has 0x"); l.AppendHex(B, 1); l.Append(" bytes");
                break;
            case ElfCoreErrorCode.SizeMismatch:
                Segment(ref l); l.Append(": p_filesz 0x"); l.AppendHex(A, 1); l.Append(" differs from p_memsz 0x"); l.AppendHex(B, 1);
                break;
            case ElfCoreErrorCode.NoteUnreadable:
                Segment(ref l); l.Append(": PT_NOTE at 0x"); l.AppendHex(A, 1); l.Append(" size 0x"); l.AppendHex(B, 1);
                l.Append(" is outside readable memory");
                break;
            case ElfCoreErrorCode.NoteTooLarge:
                Segment(ref l); l.Append(": PT_NOTE of 0x"); l.AppendHex(A, 1); l.Append(" bytes, at most 0x"); l.AppendHex(B, 1); l.Append(" accepted");
                break;
            case ElfCoreErrorCode.TooManyNotes:
                l.Append("too many note buffers ("); l.AppendDecimal(A); l.Append(", room for "); l.AppendDecimal(B); l.Append(")");
                break;
            case ElfCoreErrorCode.TooManyLoads:
                l.Append("too many PT_LOADs ("); l.AppendDecimal(A); l.Append(", room for "); l.AppendDecimal(B); l.Append(")");
                break;
            case ElfCoreErrorCode.LoadWraps:
                Segment(ref l); l.Append(": PT_LOAD at 0x"); l.AppendHex(A, 1); l.Append(" size 0x"); l.AppendHex(B, 1); l.Append(" wraps around");
                break;
            case ElfCoreErrorCode.LoadOffsetNotPaddr:
                Segment(ref l); l.Append(": PT_LOAD p_offset 0x"); l.AppendHex(A, 1); l.Append(" differs from p_paddr 0x"); l.AppendHex(B, 1);
                break;
            case ElfCoreErrorCode.LoadNotRam:
                Segment(ref l); l.Append(": PT_LOAD [0x"); l.AppendHex(A, 1); l.Append("-0x"); l.AppendHex(A + B - 1, 1); l.Append("] is not RAM");
                break;
            case ElfCoreErrorCode.LoadInCrashKernel:
                Segment(ref l); l.Append(": PT_LOAD [0x"); l.AppendHex(A, 1); l.Append("-0x"); l.AppendHex(A + B - 1, 1);
                l.Append("] overlaps the crash kernel region");
                break;
            case ElfCoreErrorCode.SegmentTruncated:
                l.Append("truncated: "); Segment(ref l); l.Append(" ends at 0x"); l.AppendHex(A, 1);
                l.Append(" but the file has 0x"); l.AppendHex(B, 1); l.Append(" bytes");
                break;
            case ElfCoreErrorCode.SegmentWraps:
                Segment(ref l); l.Append(": offset 0x"); l.AppendHex(A, 1); l.Append(" size 0x"); l.AppendHex(B, 1); l.Append(" wraps around");
                break;
            case ElfCoreErrorCode.LayoutOverflow: l.Append("dump layout overflows (notes 0x"); l.AppendHex(A, 1); l.Append(" bytes)"); break;
            case ElfCoreErrorCode.NoteChanged:
                l.Append("note buffer "); l.AppendDecimal((long)Index); l.Append(" changed after it was validated");
                break;
            case ElfCoreErrorCode.MemoryUnreadable:
                l.Append("memory [0x"); l.AppendHex(A, 1); l.Append("-0x"); l.AppendHex(A + B - 1, 1); l.Append("] cannot be read (not mapped)");
                break;
            default: l.Append("unknown error "); l.AppendDecimal((long)Code); break;
        }
    }

    private readonly void Segment(ref LogLine l)
    {
        l.Append("program header ");
        l.AppendDecimal((long)Index);
    }
}
