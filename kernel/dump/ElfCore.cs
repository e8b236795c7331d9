// ElfCore: what the crash-dump formats share. ELF64 constants (System V gABI, "ELF Header" and
// "Program Header"), little-endian field access, the ranges the core header describes, and one error
// type whose reason prints as a single line, as Linux's fs/proc/vmcore.c warnings do.
using System;

/// <summary>ELF64 constants for x86-64 core files (gABI 4.1; the psABI gives EM_X86_64).</summary>
public static class Elf
{
    /// <summary>sizeof(Elf64_Ehdr) and sizeof(Elf64_Phdr).</summary>
    public const int HeaderSize = 64, ProgramHeaderSize = 56;

    // e_ident (gABI "ELF Identification")
    public const int EiClass = 4, EiData = 5, EiVersion = 6, EiOsAbi = 7;
    public const byte ElfClass64 = 2, ElfData2Lsb = 1, EvCurrent = 1;

    // Elf64_Ehdr field offsets
    public const int EType = 16, EMachine = 18, EVersion = 20, EEntry = 24, EPhoff = 32, EShoff = 40,
        EFlags = 48, EEhsize = 52, EPhentsize = 54, EPhnum = 56, EShentsize = 58, EShnum = 60, EShstrndx = 62;

    public const ushort EtCore = 4;
    /// <summary>AMD x86-64 (psABI); 40 is ARM, 3 is i386, 183 is AArch64.</summary>
    public const ushort EmX86_64 = 62;
    /// <summary>e_phnum escape meaning "the count is in section 0": never produced or accepted here.</summary>
    public const ushort PnXnum = 0xFFFF;

    // Elf64_Phdr field offsets
    public const int PType = 0, PFlags = 4, POffset = 8, PVaddr = 16, PPaddr = 24, PFilesz = 32, PMemsz = 40, PAlign = 48;

    public const uint PtNull = 0, PtLoad = 1, PtNote = 4;
    public const uint PfX = 1, PfW = 2, PfR = 4;

    /// <summary>The page size of the x86-64 dump layout (the first PT_LOAD starts on such a boundary).</summary>
    public const ulong PageSize = 4096;

    /// <summary>True if the buffer starts with the ELF magic 7f 'E' 'L' 'F'.</summary>
    public static bool HasMagic(ReadOnlySpan<byte> b)
        => b.Length >= 4 && b[0] == 0x7F && b[1] == (byte)'E' && b[2] == (byte)'L' && b[3] == (byte)'F';
}

/// <summary>Little-endian loads and stores on spans, bounds-checked by the span (no BinaryPrimitives in the kernel).</summary>
public static class LittleEndian
{
    public static ushort U16(ReadOnlySpan<byte> b, int at) => (ushort)(b[at] | b[at + 1] << 8);

    public static uint U32(ReadOnlySpan<byte> b, int at)
        => (uint)b[at] | (uint)b[at + 1] << 8 | (uint)b[at + 2] << 16 | (uint)b[at + 3] << 24;

    public static ulong U64(ReadOnlySpan<byte> b, int at) => U32(b, at) | (ulong)U32(b, at + 4) << 32;

    public static void Put16(Span<byte> b, int at, ushort v)
    {
        b[at] = (byte)v;
        b[at + 1] = (byte)(v >> 8);
    }

    public static void Put32(Span<byte> b, int at, uint v)
    {
        b[at] = (byte)v;
        b[at + 1] = (byte)(v >> 8);
        b[at + 2] = (byte)(v >> 16);
        b[at + 3] = (byte)(v >> 24);
    }

    public static void Put64(Span<byte> b, int at, ulong v)
    {
        Put32(b, at, (uint)v);
        Put32(b, at + 4, (uint)(v >> 32));
    }
}

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
/// it is mapped at (p_vaddr; the identity here) and its size (p_filesz = p_memsz).
/// </summary>
public struct LoadSegment
{
    public ulong PhysAddr, VirtAddr, Size;

    public LoadSegment(ulong physAddr, ulong virtAddr, ulong size)
    {
        PhysAddr = physAddr;
        VirtAddr = virtAddr;
        Size = size;
    }
}

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
            default: l.Append("unknown error "); l.AppendDecimal((long)Code); break;
        }
    }

    private readonly void Segment(ref LogLine l)
    {
        l.Append("program header ");
        l.AppendDecimal((long)Index);
    }
}
