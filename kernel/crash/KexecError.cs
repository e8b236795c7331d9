// KexecError: why the capture image could not be loaded, with its numbers, printed in one line as
// kexec-tools' and Linux's kexec_load() complaints are. The checks themselves are in KexecImage.cs.
using System;

public enum KexecErrorCode
{
    None = 0,
    /// <summary>A: file size (fewer than 4 bytes, or no magic).</summary>
    NotElf,
    /// <summary>A: file size, shorter than the 64-byte header.</summary>
    HeaderTruncated,
    /// <summary>A: e_ident[EI_CLASS].</summary>
    NotElf64,
    /// <summary>A: e_ident[EI_DATA].</summary>
    NotLittleEndian,
    /// <summary>A: e_ident[EI_VERSION], B: e_version.</summary>
    BadVersion,
    /// <summary>A: e_machine.</summary>
    NotX86_64,
    /// <summary>A: e_type.</summary>
    NotPie,
    /// <summary>A: e_phentsize.</summary>
    BadProgramHeaderSize,
    NoProgramHeaders,
    /// <summary>A: e_phnum, B: the most accepted.</summary>
    TooManyProgramHeaders,
    /// <summary>A: where the table ends (or e_phoff if that alone is past the end), B: file size.</summary>
    ProgramHeadersTruncated,
    /// <summary>Index: program header.</summary>
    NeedsInterpreter,
    NoLoads,
    /// <summary>A: PT_LOADs with bytes, B: the most accepted.</summary>
    TooManyLoads,
    /// <summary>Index: program header. A: p_filesz, B: p_memsz.</summary>
    LoadFileLarger,
    /// <summary>Index: program header. A: where its file bytes end (0 if that wraps), B: file size.</summary>
    LoadTruncated,
    /// <summary>Index: program header. A: p_vaddr, B: p_memsz.</summary>
    LoadWraps,
    /// <summary>Index: program header. A: where it ends, B: loadable bytes of the region.</summary>
    LoadBeyondRegion,
    /// <summary>Index: program header. A: the earlier program header it overlaps.</summary>
    LoadsOverlap,
    /// <summary>Index: program header. A: p_align, B: the region's base.</summary>
    LoadMisaligned,
    /// <summary>A: reserved tail, B: region size.</summary>
    TailTooLarge,
    /// <summary>A: e_entry.</summary>
    EntryOutside,
    /// <summary>A: module address, B: region address (the caller's guarantee broken).</summary>
    SourceOverlapsRegion,
    /// <summary>Index: program header. A: p_offset, B: p_filesz.</summary>
    DynamicTruncated,
    /// <summary>A: the d_tag (DT_NEEDED, or a REL/PLT/RELR size that is not 0), B: its value.</summary>
    DynamicUnsupported,
    /// <summary>DT_RELA and DT_RELASZ not both present. A: DT_RELA, B: DT_RELASZ.</summary>
    RelaIncomplete,
    /// <summary>A: DT_RELAENT, B: DT_RELASZ (the entry is not 24 bytes or the size not a multiple).</summary>
    BadRelaEntrySize,
    /// <summary>A: DT_RELA, B: DT_RELASZ; not inside the file bytes of one PT_LOAD.</summary>
    RelaOutside,
    /// <summary>Index: relocation. A: type, B: r_offset.</summary>
    RelocationType,
    /// <summary>Index: relocation. A: r_offset.</summary>
    RelocationOutside,
}

/// <summary>A reason with its numbers, printed in one line by <see cref="Describe"/>.</summary>
public struct KexecError
{
    public KexecErrorCode Code;
    /// <summary>The program header or relocation concerned, or -1.</summary>
    public int Index;
    public ulong A, B;

    public static KexecError Of(KexecErrorCode code, int index, ulong a, ulong b)
        => new KexecError { Code = code, Index = index, A = a, B = b };

    /// <summary>The whole line: "kexec: capture image rejected: not x86-64 (e_machine 40)".</summary>
    public readonly void Describe(ref LogLine l)
    {
        l.Append("kexec: capture image rejected: ");
        switch (Code)
        {
            case KexecErrorCode.None: l.Append("no error"); break;
            case KexecErrorCode.NotElf:
                l.Append("not an ELF file ("); l.AppendDecimal(A); l.Append(" bytes, no 7f 45 4c 46 header)");
                break;
            case KexecErrorCode.HeaderTruncated:
                l.Append("truncated: "); l.AppendDecimal(A); l.Append(" bytes, shorter than the 64-byte ELF header");
                break;
            case KexecErrorCode.NotElf64: l.Append("not ELF64 (EI_CLASS "); l.AppendDecimal(A); l.Append(")"); break;
            case KexecErrorCode.NotLittleEndian: l.Append("not little-endian (EI_DATA "); l.AppendDecimal(A); l.Append(")"); break;
            case KexecErrorCode.BadVersion:
                l.Append("unknown ELF version (EI_VERSION "); l.AppendDecimal(A); l.Append(", e_version "); l.AppendDecimal(B); l.Append(")");
                break;
            case KexecErrorCode.NotX86_64: l.Append("not x86-64 (e_machine "); l.AppendDecimal(A); l.Append(")"); break;
            case KexecErrorCode.NotPie: l.Append("not a position-independent executable (e_type "); l.AppendDecimal(A); l.Append(")"); break;
            case KexecErrorCode.BadProgramHeaderSize: l.Append("bad e_phentsize "); l.AppendDecimal(A); l.Append(" (56 expected)"); break;
            case KexecErrorCode.NoProgramHeaders: l.Append("no program headers (e_phnum 0)"); break;
            case KexecErrorCode.TooManyProgramHeaders:
                l.Append("too many program headers (e_phnum "); l.AppendDecimal(A); l.Append(", at most "); l.AppendDecimal(B); l.Append(")");
                break;
            case KexecErrorCode.ProgramHeadersTruncated:
                l.Append("truncated: program headers end at 0x"); l.AppendHex(A, 1); l.Append(" but the file has 0x"); l.AppendHex(B, 1); l.Append(" bytes");
                break;
            case KexecErrorCode.NeedsInterpreter:
                l.Append("program header "); l.AppendDecimal((long)Index); l.Append(" is PT_INTERP: it needs a dynamic linker (link with --no-dynamic-linker)");
                break;
            case KexecErrorCode.NoLoads: l.Append("no PT_LOAD with bytes to load"); break;
            case KexecErrorCode.TooManyLoads:
                l.Append("too many PT_LOADs ("); l.AppendDecimal(A); l.Append(", at most "); l.AppendDecimal(B); l.Append(")");
                break;
            case KexecErrorCode.LoadFileLarger:
                Load(ref l); l.Append(": p_filesz 0x"); l.AppendHex(A, 1); l.Append(" exceeds p_memsz 0x"); l.AppendHex(B, 1);
                break;
            case KexecErrorCode.LoadTruncated:
                Load(ref l); l.Append(": file bytes end at 0x"); l.AppendHex(A, 1); l.Append(" but the file has 0x"); l.AppendHex(B, 1); l.Append(" bytes");
                break;
            case KexecErrorCode.LoadWraps:
                Load(ref l); l.Append(" at 0x"); l.AppendHex(A, 1); l.Append(" size 0x"); l.AppendHex(B, 1); l.Append(" wraps around");
                break;
            case KexecErrorCode.LoadBeyondRegion:
                Load(ref l); l.Append(" ends at 0x"); l.AppendHex(A, 1); l.Append(" beyond the region (0x"); l.AppendHex(B, 1); l.Append(" bytes)");
                break;
            case KexecErrorCode.LoadsOverlap:
                Load(ref l); l.Append(" overlaps PT_LOAD "); l.AppendDecimal(A);
                break;
            case KexecErrorCode.LoadMisaligned:
                Load(ref l); l.Append(" needs 0x"); l.AppendHex(A, 1); l.Append(" alignment; the region at 0x"); l.AppendHex(B, 1); l.Append(" has less");
                break;
            case KexecErrorCode.TailTooLarge:
                l.Append("the reserved tail 0x"); l.AppendHex(A, 1); l.Append(" exceeds the region (0x"); l.AppendHex(B, 1); l.Append(" bytes)");
                break;
            case KexecErrorCode.EntryOutside: l.Append("entry 0x"); l.AppendHex(A, 1); l.Append(" is outside every PT_LOAD"); break;
            case KexecErrorCode.SourceOverlapsRegion:
                l.Append("the module at 0x"); l.AppendHex(A, 1); l.Append(" overlaps the region at 0x"); l.AppendHex(B, 1);
                break;
            case KexecErrorCode.DynamicTruncated:
                l.Append("PT_DYNAMIC "); l.AppendDecimal((long)Index); l.Append(" at offset 0x"); l.AppendHex(A, 1); l.Append(" size 0x");
                l.AppendHex(B, 1); l.Append(" is outside the file");
                break;
            case KexecErrorCode.DynamicUnsupported:
                l.Append("unsupported dynamic entry "); AppendTag(ref l, A); l.Append(" (value 0x"); l.AppendHex(B, 1); l.Append(")");
                break;
            case KexecErrorCode.RelaIncomplete:
                l.Append("DT_RELA 0x"); l.AppendHex(A, 1); l.Append(" and DT_RELASZ 0x"); l.AppendHex(B, 1); l.Append(" must come together");
                break;
            case KexecErrorCode.BadRelaEntrySize:
                l.Append("DT_RELAENT "); l.AppendDecimal(A); l.Append(" with DT_RELASZ 0x"); l.AppendHex(B, 1); l.Append(" (24-byte entries expected)");
                break;
            case KexecErrorCode.RelaOutside:
                l.Append("relocations at 0x"); l.AppendHex(A, 1); l.Append(" size 0x"); l.AppendHex(B, 1); l.Append(" are not inside one PT_LOAD's file bytes");
                break;
            case KexecErrorCode.RelocationType:
                l.Append("relocation "); l.AppendDecimal((long)Index); l.Append(" at 0x"); l.AppendHex(B, 1); l.Append(" has type ");
                l.AppendDecimal(A); l.Append(" (only R_X86_64_RELATIVE and R_X86_64_NONE are supported)");
                break;
            case KexecErrorCode.RelocationOutside:
                l.Append("relocation "); l.AppendDecimal((long)Index); l.Append(" at 0x"); l.AppendHex(A, 1); l.Append(" is outside the loaded image");
                break;
            default: l.Append("unknown error "); l.AppendDecimal((long)Code); break;
        }
    }

    private readonly void Load(ref LogLine l)
    {
        l.Append("PT_LOAD ");
        l.AppendDecimal((long)Index);
    }

    private static void AppendTag(ref LogLine l, ulong tag)
    {
        switch (tag)
        {
            case KexecImage.DtNeeded: l.Append("DT_NEEDED"); break;
            case KexecImage.DtRelSz: l.Append("DT_RELSZ"); break;
            case KexecImage.DtPltRelSz: l.Append("DT_PLTRELSZ"); break;
            case KexecImage.DtRelrSz: l.Append("DT_RELRSZ"); break;
            default: l.Append("d_tag "); l.AppendDecimal(tag); break;
        }
    }
}

