// ElfCoreHeader: the ELF core header the first kernel leaves for the capture kernel (Linux's
// elfcorehdr, built by kexec-tools' crashdump-elf.c or kexec_file's crash_prepare_elf64_headers()),
// and the checks fs/proc/vmcore.c applies before trusting it (parse_crash_elf64_headers()).
using System;

// The header, all little-endian:
//
//   offset  size
//        0    64  Elf64_Ehdr   ELFCLASS64, ELFDATA2LSB, EV_CURRENT, ET_CORE, EM_X86_64, e_phoff 64,
//                              e_ehsize 64, e_phentsize 56, no sections, e_entry/e_flags 0
//       64  56*n  Elf64_Phdr   first one PT_NOTE per note buffer (per-CPU crash notes, then VMCOREINFO):
//                                p_offset = p_paddr = the buffer's physical address, p_vaddr 0,
//                                p_filesz = p_memsz = the whole buffer, flags 0, align 0
//                              then one PT_LOAD per preserved range:
//                                p_offset = p_paddr = physical start, p_vaddr = where it is mapped,
//                                p_filesz = p_memsz = size, flags R|W|X, align 0
//
// A note buffer is walked to its terminator; what lies after it is not part of the dump. A buffer
// that starts with the terminator (a CPU that never saved its registers) is dropped, as Linux does.

/// <summary>A PT_NOTE of the core header after validation: where the buffer is, and how much of it holds notes.</summary>
public struct CoreNoteBuffer
{
    /// <summary>Physical address and size as the PT_NOTE gives them.</summary>
    public ulong Address, Size;
    /// <summary>Bytes of whole notes before the terminator (what goes into the merged PT_NOTE).</summary>
    public ulong UsedSize;
    /// <summary>The program header it came from.</summary>
    public int ProgramHeader;
    /// <summary>Number of notes in [0, UsedSize).</summary>
    public int Notes;
    /// <summary>True if the walk stopped at a note that overran the buffer (Linux: "dropping PT_NOTE entry").</summary>
    public bool Truncated;
}

/// <summary>What a validated core header holds, besides the lists the caller passed room for.</summary>
public struct CoreHeaderInfo
{
    /// <summary>Entries filled in the caller's note and load lists.</summary>
    public int NoteBuffers, Loads;
    /// <summary>PT_NOTEs dropped because they held only the terminator (CPUs without a note).</summary>
    public int EmptyNoteBuffers;
    /// <summary>Note buffers whose walk stopped early at a note that did not fit.</summary>
    public int TruncatedNoteBuffers;
    /// <summary>Program headers of other types, and empty PT_LOADs, left out of the dump.</summary>
    public int IgnoredHeaders;
    /// <summary>Sum of the used sizes: the size of the merged PT_NOTE.</summary>
    public ulong NotesSize;
}

public static unsafe class ElfCoreHeader
{
    /// <summary>The largest note buffer read (a per-CPU buffer is 368 bytes, VMCOREINFO about 4 KiB).</summary>
    public const ulong MaxNoteBufferSize = 1 << 20;

    public static int SizeOf(int noteBuffers, int loads) => Elf.HeaderSize + Elf.ProgramHeaderSize * (noteBuffers + loads);

    // ---- Writer (first kernel, at kexec load time) ---------------------------------------------------

    /// <summary>
    /// Writes the header: one PT_NOTE per note buffer, then one PT_LOAD per segment. Returns its size,
    /// or 0 (nothing written) when it does not fit or has more than 65534 program headers.
    /// </summary>
    public static int Write(Span<byte> dst, ReadOnlySpan<PhysRange> noteBuffers, ReadOnlySpan<LoadSegment> loads)
    {
        int count = noteBuffers.Length + loads.Length;
        if (count == 0 || count >= Elf.PnXnum) return 0;
        int size = SizeOf(noteBuffers.Length, loads.Length);
        if (size > dst.Length) return 0;
        WriteElfHeader(dst, count);
        int p = Elf.HeaderSize;
        for (int i = 0; i < noteBuffers.Length; i++, p += Elf.ProgramHeaderSize)
        {
            PhysRange n = noteBuffers[i];
            WriteProgramHeader(dst.Slice(p), Elf.PtNote, 0, n.Start, 0, n.Start, n.Size, n.Size, 0);
        }
        for (int i = 0; i < loads.Length; i++, p += Elf.ProgramHeaderSize)
        {
            LoadSegment l = loads[i];
            WriteProgramHeader(dst.Slice(p), Elf.PtLoad, Elf.PfR | Elf.PfW | Elf.PfX, l.PhysAddr, l.VirtAddr, l.PhysAddr, l.Size, l.Size, 0);
        }
        return size;
    }

    /// <summary>An ET_CORE, EM_X86_64 ELF header with <paramref name="programHeaders"/> headers at offset 64.</summary>
    internal static void WriteElfHeader(Span<byte> dst, int programHeaders)
    {
        dst.Slice(0, Elf.HeaderSize).Clear();
        dst[0] = 0x7F; dst[1] = (byte)'E'; dst[2] = (byte)'L'; dst[3] = (byte)'F';
        dst[Elf.EiClass] = Elf.ElfClass64;
        dst[Elf.EiData] = Elf.ElfData2Lsb;
        dst[Elf.EiVersion] = Elf.EvCurrent;
        LittleEndian.Put16(dst, Elf.EType, Elf.EtCore);
        LittleEndian.Put16(dst, Elf.EMachine, Elf.EmX86_64);
        LittleEndian.Put32(dst, Elf.EVersion, Elf.EvCurrent);
        LittleEndian.Put64(dst, Elf.EPhoff, Elf.HeaderSize);
        LittleEndian.Put16(dst, Elf.EEhsize, Elf.HeaderSize);
        LittleEndian.Put16(dst, Elf.EPhentsize, Elf.ProgramHeaderSize);
        LittleEndian.Put16(dst, Elf.EPhnum, (ushort)programHeaders);
    }

    internal static void WriteProgramHeader(Span<byte> dst, uint type, uint flags, ulong offset, ulong vaddr, ulong paddr, ulong fileSize, ulong memSize, ulong align)
    {
        LittleEndian.Put32(dst, Elf.PType, type);
        LittleEndian.Put32(dst, Elf.PFlags, flags);
        LittleEndian.Put64(dst, Elf.POffset, offset);
        LittleEndian.Put64(dst, Elf.PVaddr, vaddr);
        LittleEndian.Put64(dst, Elf.PPaddr, paddr);
        LittleEndian.Put64(dst, Elf.PFilesz, fileSize);
        LittleEndian.Put64(dst, Elf.PMemsz, memSize);
        LittleEndian.Put64(dst, Elf.PAlign, align);
    }

    // ---- Reader (capture kernel, before anything is trusted) -----------------------------------------

    /// <summary>
    /// Checks the ELF header as parse_crash_elf64_headers() does (magic, ELF64, little-endian,
    /// EV_CURRENT, ET_CORE, EM_X86_64, e_ehsize 64, e_phentsize 56, 0 &lt; e_phnum &lt; PN_XNUM) and that
    /// the program header table lies inside the buffer. Used for the core header and for vmcore files.
    /// </summary>
    public static bool CheckElfHeader(ReadOnlySpan<byte> file, out int phoff, out int phnum, out ElfCoreError error)
    {
        phoff = phnum = 0;
        if (file.Length < Elf.HeaderSize || !Elf.HasMagic(file))
            return Fail(out error, ElfCoreErrorCode.NotElf, -1, 0, (ulong)file.Length);
        if (file[Elf.EiClass] != Elf.ElfClass64) return Fail(out error, ElfCoreErrorCode.NotElf64, -1, file[Elf.EiClass], 0);
        if (file[Elf.EiData] != Elf.ElfData2Lsb) return Fail(out error, ElfCoreErrorCode.NotLittleEndian, -1, file[Elf.EiData], 0);
        uint version = LittleEndian.U32(file, Elf.EVersion);
        if (file[Elf.EiVersion] != Elf.EvCurrent || version != Elf.EvCurrent)
            return Fail(out error, ElfCoreErrorCode.BadVersion, -1, file[Elf.EiVersion], version);
        ushort type = LittleEndian.U16(file, Elf.EType);
        if (type != Elf.EtCore) return Fail(out error, ElfCoreErrorCode.NotCore, -1, type, 0);
        ushort machine = LittleEndian.U16(file, Elf.EMachine);
        if (machine != Elf.EmX86_64) return Fail(out error, ElfCoreErrorCode.NotX86_64, -1, machine, 0);
        ushort ehsize = LittleEndian.U16(file, Elf.EEhsize);
        if (ehsize != Elf.HeaderSize) return Fail(out error, ElfCoreErrorCode.BadHeaderSize, -1, ehsize, 0);
        ushort phentsize = LittleEndian.U16(file, Elf.EPhentsize);
        if (phentsize != Elf.ProgramHeaderSize) return Fail(out error, ElfCoreErrorCode.BadProgramHeaderSize, -1, phentsize, 0);
        ushort count = LittleEndian.U16(file, Elf.EPhnum);
        if (count == 0) return Fail(out error, ElfCoreErrorCode.NoProgramHeaders, -1, 0, 0);
        if (count == Elf.PnXnum) return Fail(out error, ElfCoreErrorCode.TooManyProgramHeaders, -1, count, Elf.PnXnum - 1);
        ulong offset = LittleEndian.U64(file, Elf.EPhoff);
        // offset is untrusted: compare without forming offset + size when it could wrap.
        ulong tableSize = (ulong)count * Elf.ProgramHeaderSize;
        if (offset > (ulong)file.Length || tableSize > (ulong)file.Length - offset)
            return Fail(out error, ElfCoreErrorCode.Truncated, -1, offset > ulong.MaxValue - tableSize ? ulong.MaxValue : offset + tableSize, (ulong)file.Length);
        phoff = (int)offset;
        phnum = count;
        error = ElfCoreError.Ok;
        return true;
    }

    /// <summary>
    /// Validates a core header and gathers what the dump is made of. Each PT_NOTE's buffer is read
    /// through <paramref name="memory"/> and walked to its terminator; buffers holding only the
    /// terminator are dropped (counted in <see cref="CoreHeaderInfo.EmptyNoteBuffers"/>). Each PT_LOAD
    /// must lie in the union of <paramref name="ram"/> and must not overlap <paramref name="excluded"/>
    /// (the capture kernel's own region). Non-empty note buffers go to <paramref name="notes"/> and
    /// PT_LOADs to <paramref name="loads"/>, in header order. False with a reason on the first problem.
    /// </summary>
    public static bool Read(ReadOnlySpan<byte> header, in PhysicalWindow memory, ReadOnlySpan<PhysRange> ram, PhysRange excluded,
        Span<CoreNoteBuffer> notes, Span<LoadSegment> loads, out CoreHeaderInfo info, out ElfCoreError error)
    {
        info = default;
        if (!CheckElfHeader(header, out int phoff, out int phnum, out error)) return false;

        for (int i = 0; i < phnum; i++)
        {
            ReadOnlySpan<byte> ph = header.Slice(phoff + i * Elf.ProgramHeaderSize, Elf.ProgramHeaderSize);
            uint type = LittleEndian.U32(ph, Elf.PType);
            ulong offset = LittleEndian.U64(ph, Elf.POffset);
            ulong vaddr = LittleEndian.U64(ph, Elf.PVaddr);
            ulong paddr = LittleEndian.U64(ph, Elf.PPaddr);
            ulong filesz = LittleEndian.U64(ph, Elf.PFilesz);
            ulong memsz = LittleEndian.U64(ph, Elf.PMemsz);

            if (type == Elf.PtNote)
            {
                if (filesz != memsz) return Fail(out error, ElfCoreErrorCode.SizeMismatch, i, filesz, memsz);
                // p_offset is where the buffer is; kexec-tools and Linux set p_paddr to the same.
                if (memsz > MaxNoteBufferSize) return Fail(out error, ElfCoreErrorCode.NoteTooLarge, i, memsz, MaxNoteBufferSize);
                byte* p = Map(in memory, offset, memsz);
                if (p == null && memsz != 0) return Fail(out error, ElfCoreErrorCode.NoteUnreadable, i, offset, memsz);
                ElfNoteReader r = new ElfNoteReader(new ReadOnlySpan<byte>(p, (int)memsz));
                int count = 0;
                while (r.MoveNext()) count++;
                if (r.UsedSize == 0)
                {
                    info.EmptyNoteBuffers++;
                    continue;
                }
                if (info.NoteBuffers == notes.Length)
                    return Fail(out error, ElfCoreErrorCode.TooManyNotes, i, (ulong)info.NoteBuffers + 1, (ulong)notes.Length);
                if (r.Corrupt) info.TruncatedNoteBuffers++;
                notes[info.NoteBuffers++] = new CoreNoteBuffer
                {
                    Address = offset, Size = memsz, UsedSize = (ulong)r.UsedSize,
                    ProgramHeader = i, Notes = count, Truncated = r.Corrupt,
                };
                info.NotesSize += (ulong)r.UsedSize;
            }
            else if (type == Elf.PtLoad)
            {
                if (filesz != memsz) return Fail(out error, ElfCoreErrorCode.SizeMismatch, i, filesz, memsz);
                if (memsz == 0)
                {
                    info.IgnoredHeaders++;
                    continue;
                }
                // fs/proc/vmcore.c reads the old memory at p_offset; we describe it by p_paddr: they must agree.
                if (offset != paddr) return Fail(out error, ElfCoreErrorCode.LoadOffsetNotPaddr, i, offset, paddr);
                if (paddr > ulong.MaxValue - memsz || vaddr > ulong.MaxValue - memsz)
                    return Fail(out error, ElfCoreErrorCode.LoadWraps, i, paddr, memsz);
                if (!Covered(ram, paddr, memsz)) return Fail(out error, ElfCoreErrorCode.LoadNotRam, i, paddr, memsz);
                if (excluded.Overlaps(paddr, memsz)) return Fail(out error, ElfCoreErrorCode.LoadInCrashKernel, i, paddr, memsz);
                if (info.Loads == loads.Length)
                    return Fail(out error, ElfCoreErrorCode.TooManyLoads, i, (ulong)info.Loads + 1, (ulong)loads.Length);
                loads[info.Loads++] = new LoadSegment(paddr, vaddr, memsz);
            }
            else
            {
                info.IgnoredHeaders++;
            }
        }
        error = ElfCoreError.Ok;
        return true;
    }

    /// <summary>
    /// [pa, pa + length) through the window, or null if any of it lies outside. Checked here as well
    /// as by the window, because the header is untrusted and a wrong window would mean a wild read.
    /// </summary>
    internal static byte* Map(in PhysicalWindow memory, ulong pa, ulong length)
    {
        if (pa < memory.Start) return null;
        ulong offset = pa - memory.Start;
        if (offset > memory.Length || length > memory.Length - offset) return null;
        return memory.Map(pa, length);
    }

    /// <summary>
    /// True if every byte of [start, start + size) lies in some RAM range (adjacent ranges count as
    /// one). Each pass moves the cursor to the end of a range that holds it, so at most ram.Length passes.
    /// </summary>
    public static bool Covered(ReadOnlySpan<PhysRange> ram, ulong start, ulong size)
    {
        ulong end = start + size;     // the caller made sure this does not wrap
        ulong cursor = start;
        for (int pass = 0; pass < ram.Length && cursor < end; pass++)
        {
            bool advanced = false;
            for (int j = 0; j < ram.Length; j++)
            {
                PhysRange r = ram[j];
                if (r.Size == 0 || cursor < r.Start || cursor - r.Start >= r.Size) continue;
                cursor = r.Start > ulong.MaxValue - r.Size ? ulong.MaxValue : r.Start + r.Size;
                advanced = true;
                break;
            }
            if (!advanced) return false;
        }
        return cursor >= end;
    }

    internal static bool Fail(out ElfCoreError error, ElfCoreErrorCode code, int index, ulong a, ulong b)
    {
        error = ElfCoreError.Of(code, index, a, b);
        return false;
    }
}
