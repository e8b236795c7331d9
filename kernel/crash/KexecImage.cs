// KexecImage: the capture image loaded into the crashkernel= region at boot, as kexec_load() and
// kexec-tools' ELF loader do for Linux (kexec/kexec-elf-exec.c, kexec/kexec.c): validate a PIE,
// copy its PT_LOADs, apply its R_X86_64_RELATIVE relocations for the region's base, and digest the
// result with SHA-256 so the crash path can check it before the jump, as purgatory does
// (purgatory/purgatory.c, verify_sha256_digest()). Pure logic over two spans.
using System;

// What is accepted (System V gABI "ELF Header", "Program Header", "Dynamic Section"; x86-64 psABI
// 4.4 "Relocation"):
//   ELFCLASS64, ELFDATA2LSB, EV_CURRENT, ET_DYN, EM_X86_64, e_phentsize 56, program headers inside
//   the file; no PT_INTERP; at most MaxSegments non-empty PT_LOADs, each with p_filesz <= p_memsz,
//   its file bytes inside the file, [p_vaddr, p_vaddr + p_memsz) inside the loadable part of the
//   region [0, size - reservedTail), none overlapping another; the entry inside a PT_LOAD;
//   PT_DYNAMIC (optional) with no DT_NEEDED and no REL, PLT or RELR relocations; DT_RELA entries
//   (DT_RELAENT 24) inside a PT_LOAD's file bytes, each R_X86_64_NONE or R_X86_64_RELATIVE with its
//   8 bytes inside a PT_LOAD. Everything is checked before the first byte of the region is written.
// The digest covers the file bytes of every PT_LOAD the image executes or writes (PF_X or PF_W): a
// read-only, non-executable segment holds what only the loader reads (relocations, dynamic
// symbols) and unwind tables nothing unwinds with, so the crash path need not hash it (capture.ld).

/// <summary>
/// A loaded capture image, Linux's struct kimage in miniature: where it is, where it starts, its
/// segments (one per non-empty PT_LOAD, in program-header order) and their SHA-256. No reference
/// fields: the kernel keeps it in a static and reads it again on the crash path.
/// </summary>
public unsafe partial struct KexecImage
{
    /// <summary>kexec-tools' KEXEC_SEGMENT_MAX; purgatory digests up to 16 regions.</summary>
    public const int MaxSegments = 16;
    /// <summary>Program headers read at most (an ld -pie image has about ten).</summary>
    public const int MaxProgramHeaders = 256;

    public const ushort EtDyn = 3;
    public const uint PtLoad = 1, PtDynamic = 2, PtInterp = 3;
    // d_tag values (gABI "Dynamic Section", and DT_RELR from the 2022 gABI update).
    public const ulong DtNull = 0, DtNeeded = 1, DtPltRelSz = 2, DtRela = 7, DtRelaSz = 8, DtRelaEnt = 9,
        DtRelSz = 18, DtRelrSz = 35;
    /// <summary>sizeof(Elf64_Rela), sizeof(Elf64_Dyn).</summary>
    public const int RelaSize = 24, DynSize = 16;
    /// <summary>x86-64 psABI table 4.9: R_X86_64_NONE, R_X86_64_RELATIVE (B + A).</summary>
    public const uint RX86_64None = 0, RX86_64Relative = 8;

    /// <summary>Physical address of region[0].</summary>
    public ulong Base;
    /// <summary>Bytes of the region (the span's length).</summary>
    public ulong RegionSize;
    /// <summary>Base + e_entry: where purgatory's job ends and the capture image begins.</summary>
    public ulong Entry;
    /// <summary>The highest p_vaddr + p_memsz: bytes from region[0] the image occupies.</summary>
    public ulong ImageSize;
    public int SegmentCount;
    /// <summary>R_X86_64_RELATIVE relocations applied (NONE entries are not counted).</summary>
    public int Relocations;
    public KexecError Error;

    fixed ulong _segmentStart[MaxSegments];
    fixed ulong _segmentSize[MaxSegments];
    fixed ulong _digestSize[MaxSegments];      // p_filesz: what the digest covers
    fixed byte _digest[Sha256.DigestSize];

    /// <summary>Segment i as physical [Start, Start + Size) (p_memsz, bss included).</summary>
    public readonly PhysRange Segment(int i)
    {
        if ((uint)i >= (uint)SegmentCount || i >= MaxSegments) return default;
        return new PhysRange(_segmentStart[i], _segmentSize[i]);
    }

    /// <summary>Copies the segments to <paramref name="dst"/>; returns how many were copied.</summary>
    public readonly int CopySegments(Span<PhysRange> dst)
    {
        int n = 0;
        for (; n < SegmentCount && n < MaxSegments && n < dst.Length; n++) dst[n] = new PhysRange(_segmentStart[n], _segmentSize[n]);
        return n;
    }

    /// <summary>
    /// The ranges the digest covers: each executable or writable segment's file-backed bytes
    /// (p_filesz); an empty range for a read-only metadata segment. The rest of a segment (bss)
    /// needs no check: the capture image zeroes its own bss before it uses it, so whatever happens
    /// to those bytes before the jump cannot matter; and hashing 5 MiB of zeros under TCG would
    /// cost the crash path a quarter of a second. Every byte hashed costs the crash path too
    /// (45 MB/s under TCG): the metadata segment is a fifth of the image.
    /// </summary>
    public readonly int CopyDigestRanges(Span<PhysRange> dst)
    {
        int n = 0;
        for (; n < SegmentCount && n < MaxSegments && n < dst.Length; n++) dst[n] = new PhysRange(_segmentStart[n], _digestSize[n]);
        return n;
    }

    /// <summary>The digest taken at load time; false if <paramref name="dst"/> is shorter than 32 bytes.</summary>
    public readonly bool CopyDigest(Span<byte> dst)
    {
        if (dst.Length < Sha256.DigestSize) return false;
        for (int i = 0; i < Sha256.DigestSize; i++) dst[i] = _digest[i];
        return true;
    }

    // ---- Loading (first kernel, at boot) -------------------------------------------------------------

    /// <summary>
    /// Loads <paramref name="elf"/> into <paramref name="region"/>, which is physical memory at
    /// <paramref name="regionBase"/>; the last <paramref name="reservedTail"/> bytes stay the
    /// caller's (core header, note copies, page tables). On failure the region is untouched and
    /// image.Error says why. The module and the region must not overlap: the caller places the
    /// region clear of the modules, and an overlap is refused here rather than trusted.
    /// </summary>
    public static bool Load(ReadOnlySpan<byte> elf, Span<byte> region, ulong regionBase, ulong reservedTail, out KexecImage image)
    {
        image = default;
        image.Base = regionBase;
        image.RegionSize = (ulong)region.Length;
        if (!Validate(elf, region, regionBase, reservedTail, ref image, out ulong relaOffset, out ulong relaCount)) return false;

        // Copy each PT_LOAD's file bytes and zero the rest of its memory (bss).
        int phoff = (int)LittleEndian.U64(elf, Elf.EPhoff);
        int phnum = LittleEndian.U16(elf, Elf.EPhnum);
        for (int i = 0; i < phnum; i++)
        {
            ReadOnlySpan<byte> ph = elf.Slice(phoff + i * Elf.ProgramHeaderSize, Elf.ProgramHeaderSize);
            ulong memsz = LittleEndian.U64(ph, Elf.PMemsz);
            if (LittleEndian.U32(ph, Elf.PType) != PtLoad || memsz == 0) continue;
            int vaddr = (int)LittleEndian.U64(ph, Elf.PVaddr), filesz = (int)LittleEndian.U64(ph, Elf.PFilesz);
            Span<byte> dst = region.Slice(vaddr, (int)memsz);
            elf.Slice((int)LittleEndian.U64(ph, Elf.POffset), filesz).CopyTo(dst);
            dst.Slice(filesz).Clear();
        }

        // R_X86_64_RELATIVE: the word at B + r_offset becomes B + r_addend (psABI table 4.9).
        for (ulong k = 0; k < relaCount; k++)
        {
            ReadOnlySpan<byte> rela = elf.Slice((int)(relaOffset + k * RelaSize), RelaSize);
            if ((uint)LittleEndian.U64(rela, 8) != RX86_64Relative) continue;
            LittleEndian.Put64(region, (int)LittleEndian.U64(rela, 0), regionBase + LittleEndian.U64(rela, 16));
            image.Relocations++;
        }

        PhysRange* segments = stackalloc PhysRange[MaxSegments];
        int n = image.CopyDigestRanges(new Span<PhysRange>(segments, MaxSegments));
        fixed (byte* d = image._digest)
            Digest(region, regionBase, new ReadOnlySpan<PhysRange>(segments, n), new Span<byte>(d, Sha256.DigestSize));
        return true;
    }

    /// <summary>Every check, in file order, before anything is written. Fills the image's fields but the digest.</summary>
    private static bool Validate(ReadOnlySpan<byte> elf, Span<byte> region, ulong regionBase, ulong reservedTail,
                                 ref KexecImage image, out ulong relaOffset, out ulong relaCount)
    {
        relaOffset = relaCount = 0;
        ulong fileSize = (ulong)elf.Length, regionSize = (ulong)region.Length;

        // ---- The ELF header ----
        if (!Elf.HasMagic(elf)) return Fail(ref image, KexecErrorCode.NotElf, -1, fileSize, 0);
        if (elf.Length < Elf.HeaderSize) return Fail(ref image, KexecErrorCode.HeaderTruncated, -1, fileSize, 0);
        if (elf[Elf.EiClass] != Elf.ElfClass64) return Fail(ref image, KexecErrorCode.NotElf64, -1, elf[Elf.EiClass], 0);
        if (elf[Elf.EiData] != Elf.ElfData2Lsb) return Fail(ref image, KexecErrorCode.NotLittleEndian, -1, elf[Elf.EiData], 0);
        uint version = LittleEndian.U32(elf, Elf.EVersion);
        if (elf[Elf.EiVersion] != Elf.EvCurrent || version != Elf.EvCurrent)
            return Fail(ref image, KexecErrorCode.BadVersion, -1, elf[Elf.EiVersion], version);
        ushort machine = LittleEndian.U16(elf, Elf.EMachine);
        if (machine != Elf.EmX86_64) return Fail(ref image, KexecErrorCode.NotX86_64, -1, machine, 0);
        ushort type = LittleEndian.U16(elf, Elf.EType);
        if (type != EtDyn) return Fail(ref image, KexecErrorCode.NotPie, -1, type, 0);
        ushort phentsize = LittleEndian.U16(elf, Elf.EPhentsize);
        if (phentsize != Elf.ProgramHeaderSize) return Fail(ref image, KexecErrorCode.BadProgramHeaderSize, -1, phentsize, 0);
        int phnum = LittleEndian.U16(elf, Elf.EPhnum);
        if (phnum == 0) return Fail(ref image, KexecErrorCode.NoProgramHeaders, -1, 0, 0);
        if (phnum > MaxProgramHeaders) return Fail(ref image, KexecErrorCode.TooManyProgramHeaders, -1, (ulong)phnum, MaxProgramHeaders);
        ulong phoff = LittleEndian.U64(elf, Elf.EPhoff);
        ulong phSize = (ulong)phnum * Elf.ProgramHeaderSize;
        if (phoff > fileSize || phSize > fileSize - phoff)
            return Fail(ref image, KexecErrorCode.ProgramHeadersTruncated, -1, phoff > fileSize ? phoff : phoff + phSize, fileSize);

        // ---- The region and the source ----
        if (reservedTail > regionSize) return Fail(ref image, KexecErrorCode.TailTooLarge, -1, reservedTail, regionSize);
        ulong loadable = regionSize - reservedTail;
        fixed (byte* src = elf)
        fixed (byte* dst = region)
        {
            if (elf.Length != 0 && region.Length != 0 && src < dst + region.Length && dst < src + elf.Length)
                return Fail(ref image, KexecErrorCode.SourceOverlapsRegion, -1, (ulong)src, (ulong)dst);
        }

        // ---- Program headers ----
        int dynamic = -1;
        for (int i = 0; i < phnum; i++)
        {
            ReadOnlySpan<byte> ph = elf.Slice((int)phoff + i * Elf.ProgramHeaderSize, Elf.ProgramHeaderSize);
            uint ptype = LittleEndian.U32(ph, Elf.PType);
            if (ptype == PtInterp) return Fail(ref image, KexecErrorCode.NeedsInterpreter, i, 0, 0);
            if (ptype == PtDynamic && dynamic < 0) dynamic = i;
            if (ptype != PtLoad) continue;
            ulong offset = LittleEndian.U64(ph, Elf.POffset), vaddr = LittleEndian.U64(ph, Elf.PVaddr);
            ulong filesz = LittleEndian.U64(ph, Elf.PFilesz), memsz = LittleEndian.U64(ph, Elf.PMemsz);
            ulong align = LittleEndian.U64(ph, Elf.PAlign);
            if (filesz > memsz) return Fail(ref image, KexecErrorCode.LoadFileLarger, i, filesz, memsz);
            if (offset > fileSize || filesz > fileSize - offset)
                return Fail(ref image, KexecErrorCode.LoadTruncated, i, offset + filesz >= offset ? offset + filesz : 0, fileSize);
            if (memsz == 0) continue;
            if (vaddr + memsz < vaddr) return Fail(ref image, KexecErrorCode.LoadWraps, i, vaddr, memsz);
            if (vaddr + memsz > loadable) return Fail(ref image, KexecErrorCode.LoadBeyondRegion, i, vaddr + memsz, loadable);
            // The gABI makes p_align a power of two; the base must honour it, or the image's own
            // assumption (2 MiB pages, say) breaks. The region's 2 MiB alignment covers ld's 4 KiB.
            if (align > 1 && (align & (align - 1)) == 0 && (regionBase & (align - 1)) != 0)
                return Fail(ref image, KexecErrorCode.LoadMisaligned, i, align, regionBase);
            for (int j = 0; j < image.SegmentCount; j++)
                if (vaddr < image._segmentStart[j] - regionBase + image._segmentSize[j] && image._segmentStart[j] - regionBase < vaddr + memsz)
                    return Fail(ref image, KexecErrorCode.LoadsOverlap, i, (ulong)image.SegmentHeader(j, elf, (int)phoff, phnum), 0);
            if (image.SegmentCount == MaxSegments) return Fail(ref image, KexecErrorCode.TooManyLoads, i, MaxSegments + 1, MaxSegments);
            image._segmentStart[image.SegmentCount] = regionBase + vaddr;
            image._segmentSize[image.SegmentCount] = memsz;
            uint pflags = LittleEndian.U32(ph, Elf.PFlags);
            image._digestSize[image.SegmentCount] = (pflags & (Elf.PfX | Elf.PfW)) != 0 ? filesz : 0;
            image.SegmentCount++;
            if (vaddr + memsz > image.ImageSize) image.ImageSize = vaddr + memsz;
        }
        if (image.SegmentCount == 0) return Fail(ref image, KexecErrorCode.NoLoads, -1, 0, 0);

        ulong entry = LittleEndian.U64(elf, Elf.EEntry);
        if (!InsideSegment(ref image, entry, 1)) return Fail(ref image, KexecErrorCode.EntryOutside, -1, entry, 0);
        image.Entry = regionBase + entry;

        if (dynamic < 0) return true;
        return ValidateDynamic(elf, dynamic, (int)phoff, phnum, ref image, out relaOffset, out relaCount);
    }

    /// <summary>The program header index of segment <paramref name="segment"/> (for messages).</summary>
    private readonly int SegmentHeader(int segment, ReadOnlySpan<byte> elf, int phoff, int phnum)
    {
        int seen = 0;
        for (int i = 0; i < phnum; i++)
        {
            ReadOnlySpan<byte> ph = elf.Slice(phoff + i * Elf.ProgramHeaderSize, Elf.ProgramHeaderSize);
            if (LittleEndian.U32(ph, Elf.PType) != PtLoad || LittleEndian.U64(ph, Elf.PMemsz) == 0) continue;
            if (seen++ == segment) return i;
        }
        return -1;
    }

    /// <summary>PT_DYNAMIC: the RELA table's place in the file, and every entry checked.</summary>
    private static bool ValidateDynamic(ReadOnlySpan<byte> elf, int dynamic, int phoff, int phnum, ref KexecImage image,
                                        out ulong relaOffset, out ulong relaCount)
    {
        relaOffset = relaCount = 0;
        ulong fileSize = (ulong)elf.Length;
        ReadOnlySpan<byte> dph = elf.Slice(phoff + dynamic * Elf.ProgramHeaderSize, Elf.ProgramHeaderSize);
        ulong dynOffset = LittleEndian.U64(dph, Elf.POffset), dynSize = LittleEndian.U64(dph, Elf.PFilesz);
        if (dynOffset > fileSize || dynSize > fileSize - dynOffset)
            return Fail(ref image, KexecErrorCode.DynamicTruncated, dynamic, dynOffset, dynSize);

        ulong rela = 0, relaSize = 0, relaEnt = 0;
        bool haveRela = false, haveRelaSize = false;
        for (ulong p = dynOffset; p + DynSize <= dynOffset + dynSize; p += DynSize)
        {
            ulong tag = LittleEndian.U64(elf, (int)p), val = LittleEndian.U64(elf, (int)p + 8);
            if (tag == DtNull) break;
            if (tag == DtNeeded || ((tag == DtRelSz || tag == DtPltRelSz || tag == DtRelrSz) && val != 0))
                return Fail(ref image, KexecErrorCode.DynamicUnsupported, dynamic, tag, val);
            if (tag == DtRela) { rela = val; haveRela = true; }
            else if (tag == DtRelaSz) { relaSize = val; haveRelaSize = true; }
            else if (tag == DtRelaEnt) relaEnt = val;
        }
        if (!haveRela && (!haveRelaSize || relaSize == 0)) return true;
        if (!haveRela || !haveRelaSize) return Fail(ref image, KexecErrorCode.RelaIncomplete, dynamic, rela, relaSize);
        if (relaSize == 0) return true;
        if (relaEnt != RelaSize || relaSize % RelaSize != 0) return Fail(ref image, KexecErrorCode.BadRelaEntrySize, dynamic, relaEnt, relaSize);

        // The table is read from the file, through the PT_LOAD whose file bytes hold it.
        bool placed = false;
        for (int i = 0; i < phnum && !placed; i++)
        {
            ReadOnlySpan<byte> ph = elf.Slice(phoff + i * Elf.ProgramHeaderSize, Elf.ProgramHeaderSize);
            if (LittleEndian.U32(ph, Elf.PType) != PtLoad) continue;
            ulong vaddr = LittleEndian.U64(ph, Elf.PVaddr), filesz = LittleEndian.U64(ph, Elf.PFilesz);
            if (rela >= vaddr && rela - vaddr <= filesz && relaSize <= filesz - (rela - vaddr))
            {
                relaOffset = LittleEndian.U64(ph, Elf.POffset) + (rela - vaddr);
                placed = true;
            }
        }
        if (!placed) return Fail(ref image, KexecErrorCode.RelaOutside, dynamic, rela, relaSize);
        relaCount = relaSize / RelaSize;

        for (ulong k = 0; k < relaCount; k++)
        {
            ReadOnlySpan<byte> r = elf.Slice((int)(relaOffset + k * RelaSize), RelaSize);
            ulong offset = LittleEndian.U64(r, 0);
            uint rtype = (uint)LittleEndian.U64(r, 8);
            if (rtype == RX86_64None) continue;
            if (rtype != RX86_64Relative) return Fail(ref image, KexecErrorCode.RelocationType, (int)k, rtype, offset);
            if (!InsideSegment(ref image, offset, 8)) return Fail(ref image, KexecErrorCode.RelocationOutside, (int)k, offset, 0);
        }
        return true;
    }

    /// <summary>True if [offset, offset + length) (relative to region[0]) lies inside one segment.</summary>
    private static bool InsideSegment(ref KexecImage image, ulong offset, ulong length)
    {
        for (int j = 0; j < image.SegmentCount; j++)
        {
            ulong start = image._segmentStart[j] - image.Base, size = image._segmentSize[j];
            if (offset >= start && offset - start <= size && length <= size - (offset - start)) return true;
        }
        return false;
    }

    private static bool Fail(ref KexecImage image, KexecErrorCode code, int index, ulong a, ulong b)
    {
        image.Error = KexecError.Of(code, index, a, b);
        image.SegmentCount = 0;
        image.Relocations = 0;
        image.Entry = image.ImageSize = 0;
        return false;
    }
}
