// Vmcore: the dump file as Linux's /proc/vmcore presents it (fs/proc/vmcore.c, merge_note_headers_elf64()
// and process_ptload_program_headers_elf64()): the capture kernel computes its layout and writes its
// headers and merged notes; the host inspector and the tests read it back with the same code.
using System;

// The file, all little-endian:
//
//   offset                   Elf64_Ehdr (ET_CORE, EM_X86_64), e_phnum = 1 + loads
//   64                       PT_NOTE  p_offset = NotesOffset, p_filesz = p_memsz = NotesSize, align 4
//   64 + 56                  PT_LOAD  p_offset = its place below, p_paddr/p_vaddr as planned (DumpFilter),
//   ...                               p_filesz <= p_memsz (the rest reads as zeros), flags R|W|X
//   NotesOffset              every note of every non-empty note buffer, in core-header order, terminators
//                            dropped (= 64 + 56 * e_phnum, right after the headers), then the capture
//                            kernel's own notes (the dump-filter note)
//   ...                      zero padding
//   LoadsOffset              the first PT_LOAD's p_filesz bytes (NotesOffset + NotesSize rounded up to
//                            4 KiB), then each next PT_LOAD's right after the previous one
//
// Linux also rounds the notes' start and each PT_LOAD out to whole pages so that /proc/vmcore can be
// mmap()ed; a file streamed out of the capture kernel has no use for that, so only the start of the
// memory image is page-aligned. Readers (readelf, gdb, crash, ours) go by p_offset either way.

/// <summary>Where everything goes in the dump file.</summary>
public struct VmcoreLayout
{
    /// <summary>e_phnum: the merged PT_NOTE and one per PT_LOAD.</summary>
    public int ProgramHeaders;
    public ulong NotesOffset, NotesSize;
    /// <summary>Where the first PT_LOAD's bytes start; also the size of the prefix <see cref="Vmcore.WritePrefix"/> writes.</summary>
    public ulong LoadsOffset;
    public ulong FileSize;
}

/// <summary>One program header as it lies in a file.</summary>
public struct ElfProgramHeader
{
    public uint Type, Flags;
    public ulong Offset, VirtAddr, PhysAddr, FileSize, MemSize, Align;
}

public static unsafe class Vmcore
{
    /// <summary>Lays out a dump with this many bytes of notes and these PT_LOADs.</summary>
    public static bool ComputeLayout(ulong notesSize, ReadOnlySpan<LoadSegment> loads, out VmcoreLayout layout, out ElfCoreError error)
    {
        layout = default;
        if (loads.Length + 1 >= Elf.PnXnum)
            return ElfCoreHeader.Fail(out error, ElfCoreErrorCode.TooManyLoads, -1, (ulong)loads.Length, Elf.PnXnum - 2);
        layout.ProgramHeaders = loads.Length + 1;
        layout.NotesOffset = (ulong)ElfCoreHeader.SizeOf(1, loads.Length);
        layout.NotesSize = notesSize;
        // The prefix is written into one span: keep it well inside an int.
        if (notesSize > 0x4000_0000) return ElfCoreHeader.Fail(out error, ElfCoreErrorCode.LayoutOverflow, -1, notesSize, 0);
        layout.LoadsOffset = (layout.NotesOffset + notesSize + Elf.PageSize - 1) & ~(Elf.PageSize - 1);
        ulong size = layout.LoadsOffset;
        for (int i = 0; i < loads.Length; i++)
        {
            if (loads[i].FileSize > loads[i].Size || loads[i].FileSize > ulong.MaxValue - size)
                return ElfCoreHeader.Fail(out error, ElfCoreErrorCode.LayoutOverflow, i, notesSize, 0);
            size += loads[i].FileSize;
        }
        layout.FileSize = size;
        error = ElfCoreError.Ok;
        return true;
    }

    /// <summary>The file offset of PT_LOAD number <paramref name="index"/> (0-based among the loads).</summary>
    public static ulong LoadOffset(in VmcoreLayout layout, ReadOnlySpan<LoadSegment> loads, int index)
    {
        ulong offset = layout.LoadsOffset;
        for (int i = 0; i < index && i < loads.Length; i++) offset += loads[i].FileSize;
        return offset;
    }

    /// <summary>
    /// Writes file bytes [0, LoadsOffset): the ELF header, the merged PT_NOTE and the PT_LOAD headers,
    /// the notes of each buffer (read again through <paramref name="memory"/> and checked to still be
    /// the whole notes that were validated), the capture kernel's own <paramref name="extraNotes"/>
    /// (whole notes, no terminator) and zero padding. The caller then streams each PT_LOAD's
    /// p_filesz bytes of memory in order. <paramref name="notes"/> come from
    /// <see cref="ElfCoreHeader.Read"/>, <paramref name="loads"/> from it or from DumpFilter.Plan; the
    /// layout from <see cref="ComputeLayout"/> with the notes' and the extra notes' sizes.
    /// </summary>
    public static bool WritePrefix(Span<byte> dst, in VmcoreLayout layout, ReadOnlySpan<CoreNoteBuffer> notes,
        ReadOnlySpan<LoadSegment> loads, in PhysicalWindow memory, out ElfCoreError error)
        => WritePrefix(dst, in layout, notes, default, loads, in memory, out error);

    public static bool WritePrefix(Span<byte> dst, in VmcoreLayout layout, ReadOnlySpan<CoreNoteBuffer> notes, ReadOnlySpan<byte> extraNotes,
        ReadOnlySpan<LoadSegment> loads, in PhysicalWindow memory, out ElfCoreError error)
    {
        if (layout.ProgramHeaders != loads.Length + 1 || layout.NotesOffset != (ulong)ElfCoreHeader.SizeOf(1, loads.Length))
            return ElfCoreHeader.Fail(out error, ElfCoreErrorCode.LayoutOverflow, -1, layout.NotesSize, 0);
        if (layout.LoadsOffset > (ulong)dst.Length)
            return ElfCoreHeader.Fail(out error, ElfCoreErrorCode.BufferTooSmall, -1, layout.LoadsOffset, (ulong)dst.Length);
        ulong total = (ulong)extraNotes.Length;
        for (int i = 0; i < notes.Length; i++) total += notes[i].UsedSize;
        if (total != layout.NotesSize || layout.NotesOffset + total > layout.LoadsOffset)
            return ElfCoreHeader.Fail(out error, ElfCoreErrorCode.LayoutOverflow, -1, total, 0);

        ElfCoreHeader.WriteElfHeader(dst, layout.ProgramHeaders);
        int p = Elf.HeaderSize;
        ElfCoreHeader.WriteProgramHeader(dst.Slice(p), Elf.PtNote, 0, layout.NotesOffset, 0, 0, layout.NotesSize, layout.NotesSize, 4);
        p += Elf.ProgramHeaderSize;
        ulong offset = layout.LoadsOffset;
        for (int i = 0; i < loads.Length; i++, p += Elf.ProgramHeaderSize)
        {
            LoadSegment l = loads[i];
            ElfCoreHeader.WriteProgramHeader(dst.Slice(p), Elf.PtLoad, Elf.PfR | Elf.PfW | Elf.PfX, offset, l.VirtAddr, l.PhysAddr, l.FileSize, l.Size, 0);
            offset += l.FileSize;
        }

        int at = (int)layout.NotesOffset;
        for (int i = 0; i < notes.Length; i++)
        {
            CoreNoteBuffer n = notes[i];
            byte* src = ElfCoreHeader.Map(in memory, n.Address, n.UsedSize);
            if (src == null || n.UsedSize > n.Size || n.UsedSize > layout.LoadsOffset - (ulong)at) return ElfCoreHeader.Fail(out error, ElfCoreErrorCode.NoteChanged, i, n.Address, n.UsedSize);
            Span<byte> copy = dst.Slice(at, (int)n.UsedSize);
            new ReadOnlySpan<byte>(src, (int)n.UsedSize).CopyTo(copy);
            // The copy, not the source, is checked: what goes into the file is whole notes, whatever
            // the old memory does meanwhile.
            ElfNoteReader r = new ElfNoteReader(copy);
            int count = 0;
            while (r.MoveNext()) count++;
            if (r.Corrupt || r.Terminated || count != n.Notes)
                return ElfCoreHeader.Fail(out error, ElfCoreErrorCode.NoteChanged, i, n.Address, n.UsedSize);
            at += (int)n.UsedSize;
        }
        extraNotes.CopyTo(dst.Slice(at));
        at += extraNotes.Length;
        dst.Slice(at, (int)layout.LoadsOffset - at).Clear();
        error = ElfCoreError.Ok;
        return true;
    }
}

/// <summary>
/// A dump file in memory, for the host inspector and the tests (and any self-check): the ELF header
/// is checked as for a core header, every PT_NOTE and PT_LOAD must lie inside the file, and every
/// read is bounded by the file. Nothing in it is trusted beyond that. A file of any size can be
/// read through a pointer (a 64 GiB full dump): the headers and notes lie at its start, and memory
/// reads copy at most a span at a time.
/// </summary>
public readonly unsafe ref struct VmcoreFile
{
    private readonly ReadOnlySpan<byte> _file;   // the whole file, or its first 2 GiB when _base is set
    private readonly byte* _base;
    private readonly ulong _length;
    private readonly int _phoff, _phnum;

    private VmcoreFile(ReadOnlySpan<byte> file, byte* @base, ulong length, int phoff, int phnum)
    {
        _file = file;
        _base = @base;
        _length = length;
        _phoff = phoff;
        _phnum = phnum;
    }

    public static bool Open(ReadOnlySpan<byte> file, out VmcoreFile core, out ElfCoreError error)
        => Open(file, null, (ulong)file.Length, out core, out error);

    /// <summary>A file of <paramref name="length"/> bytes at <paramref name="file"/> (mapped; it must stay mapped while the reader is used).</summary>
    public static bool Open(byte* file, ulong length, out VmcoreFile core, out ElfCoreError error)
        => Open(new ReadOnlySpan<byte>(file, length < int.MaxValue ? (int)length : int.MaxValue), file, length, out core, out error);

    private static bool Open(ReadOnlySpan<byte> head, byte* @base, ulong length, out VmcoreFile core, out ElfCoreError error)
    {
        core = default;
        if (!ElfCoreHeader.CheckElfHeader(head, out int phoff, out int phnum, out error)) return false;
        VmcoreFile f = new VmcoreFile(head, @base, length, phoff, phnum);
        for (int i = 0; i < phnum; i++)
        {
            ElfProgramHeader h = f.ProgramHeader(i);
            if (h.Type != Elf.PtNote && h.Type != Elf.PtLoad) continue;
            if (h.FileSize > h.MemSize) return ElfCoreHeader.Fail(out error, ElfCoreErrorCode.SizeMismatch, i, h.FileSize, h.MemSize);
            if (h.Offset > ulong.MaxValue - h.FileSize) return ElfCoreHeader.Fail(out error, ElfCoreErrorCode.SegmentWraps, i, h.Offset, h.FileSize);
            if (h.Offset + h.FileSize > length)
                return ElfCoreHeader.Fail(out error, ElfCoreErrorCode.SegmentTruncated, i, h.Offset + h.FileSize, length);
            if (h.Type == Elf.PtLoad && (h.PhysAddr > ulong.MaxValue - h.MemSize || h.VirtAddr > ulong.MaxValue - h.MemSize))
                return ElfCoreHeader.Fail(out error, ElfCoreErrorCode.LoadWraps, i, h.PhysAddr, h.MemSize);
            if (h.Type == Elf.PtNote && h.Offset + h.FileSize > (ulong)head.Length)
                return ElfCoreHeader.Fail(out error, ElfCoreErrorCode.NoteTooLarge, i, h.FileSize, (ulong)head.Length);
        }
        core = f;
        error = ElfCoreError.Ok;
        return true;
    }

    /// <summary>The file's size in bytes.</summary>
    public ulong Length => _length;

    public int ProgramHeaderCount => _phnum;

    public ElfProgramHeader ProgramHeader(int i)
    {
        if ((uint)i >= (uint)_phnum) return default;
        ReadOnlySpan<byte> ph = _file.Slice(_phoff + i * Elf.ProgramHeaderSize, Elf.ProgramHeaderSize);
        ElfProgramHeader h;
        h.Type = LittleEndian.U32(ph, Elf.PType);
        h.Flags = LittleEndian.U32(ph, Elf.PFlags);
        h.Offset = LittleEndian.U64(ph, Elf.POffset);
        h.VirtAddr = LittleEndian.U64(ph, Elf.PVaddr);
        h.PhysAddr = LittleEndian.U64(ph, Elf.PPaddr);
        h.FileSize = LittleEndian.U64(ph, Elf.PFilesz);
        h.MemSize = LittleEndian.U64(ph, Elf.PMemsz);
        h.Align = LittleEndian.U64(ph, Elf.PAlign);
        return h;
    }

    /// <summary>The file bytes of a PT_NOTE or PT_LOAD (Open checked they lie inside the file); empty past what a span can hold.</summary>
    public ReadOnlySpan<byte> Contents(ElfProgramHeader h)
    {
        if (h.FileSize > int.MaxValue) return default;
        return Bytes(h.Offset, (int)h.FileSize);
    }

    /// <summary>File bytes [offset, offset + n), or empty when any of them lies outside the file.</summary>
    private ReadOnlySpan<byte> Bytes(ulong offset, int n)
    {
        if (offset > _length || (ulong)n > _length - offset) return default;
        if (_base != null) return new ReadOnlySpan<byte>(_base + offset, n);
        return _file.Slice((int)offset, n);
    }

    public int NoteSegmentCount => Count(Elf.PtNote);
    public int LoadCount => Count(Elf.PtLoad);

    /// <summary>The contents of the first PT_NOTE (a /proc/vmcore-style file has exactly one).</summary>
    public ReadOnlySpan<byte> Notes => Nth(Elf.PtNote, 0, out ElfProgramHeader h) ? Contents(h) : default;

    /// <summary>PT_LOAD number <paramref name="n"/> (0-based among the PT_LOADs).</summary>
    public bool Load(int n, out ElfProgramHeader segment) => Nth(Elf.PtLoad, n, out segment);

    /// <summary>The number of CORE/NT_PRSTATUS notes: one per CPU that saved its registers.</summary>
    public int PrStatusCount
    {
        get
        {
            int count = 0;
            ElfNoteReader r = new ElfNoteReader(Notes);
            while (r.MoveNext())
                if (r.Current.Is("CORE", ElfNote.NtPrStatus)) count++;
            return count;
        }
    }

    /// <summary>The registers of the <paramref name="n"/>-th CORE/NT_PRSTATUS note, in file order.</summary>
    public bool PrStatus(int n, out int pid, out PrStatusRegs regs)
    {
        ElfNoteReader r = new ElfNoteReader(Notes);
        int seen = 0;
        while (r.MoveNext())
        {
            if (!r.Current.Is("CORE", ElfNote.NtPrStatus)) continue;
            if (seen++ == n) return global::PrStatus.Read(r.Current.Desc, out pid, out regs);
        }
        pid = 0;
        regs = default;
        return false;
    }

    /// <summary>The VMCOREINFO text, if the notes hold one.</summary>
    public bool VmcoreinfoText(out ReadOnlySpan<byte> text) => Vmcoreinfo.FindNote(Notes, out text);

    /// <summary>Copies memory at physical address <paramref name="pa"/>; returns the bytes read before the first hole.</summary>
    public int ReadPhysical(ulong pa, Span<byte> dst) => Read(true, pa, dst);

    /// <summary>Copies memory at virtual address <paramref name="va"/> (by p_vaddr, as gdb does).</summary>
    public int ReadVirtual(ulong va, Span<byte> dst) => Read(false, va, dst);

    // Each step copies at least one byte or stops, so at most dst.Length steps of one header scan each.
    // Bytes of [p_filesz, p_memsz) read as zero (ELF's rule).
    private int Read(bool physical, ulong address, Span<byte> dst)
    {
        int done = 0;
        while (done < dst.Length)
        {
            if (address > ulong.MaxValue - (ulong)done) break;
            ulong a = address + (ulong)done;
            bool found = false;
            for (int i = 0; i < _phnum && !found; i++)
            {
                ElfProgramHeader h = ProgramHeader(i);
                if (h.Type != Elf.PtLoad) continue;
                ulong start = physical ? h.PhysAddr : h.VirtAddr;
                if (a < start || a - start >= h.MemSize) continue;
                found = true;
                ulong at = a - start;
                ulong want = (ulong)(dst.Length - done);
                if (at < h.FileSize)
                {
                    ulong n = h.FileSize - at < want ? h.FileSize - at : want;
                    Bytes(h.Offset + at, (int)n).CopyTo(dst.Slice(done, (int)n));
                    done += (int)n;
                }
                else
                {
                    ulong n = h.MemSize - at < want ? h.MemSize - at : want;
                    dst.Slice(done, (int)n).Clear();
                    done += (int)n;
                }
            }
            if (!found) break;
        }
        return done;
    }

    /// <summary>p_filesz of every PT_LOAD: the memory bytes the file holds.</summary>
    public ulong LoadFileBytes
    {
        get
        {
            ulong total = 0;
            for (int i = 0; i < _phnum; i++)
            {
                ElfProgramHeader h = ProgramHeader(i);
                if (h.Type == Elf.PtLoad) total += h.FileSize;
            }
            return total;
        }
    }

    private int Count(uint type)
    {
        int count = 0;
        for (int i = 0; i < _phnum; i++)
            if (LittleEndian.U32(_file, _phoff + i * Elf.ProgramHeaderSize + Elf.PType) == type) count++;
        return count;
    }

    private bool Nth(uint type, int n, out ElfProgramHeader segment)
    {
        int seen = 0;
        for (int i = 0; i < _phnum; i++)
        {
            if (LittleEndian.U32(_file, _phoff + i * Elf.ProgramHeaderSize + Elf.PType) != type) continue;
            if (seen++ == n)
            {
                segment = ProgramHeader(i);
                return true;
            }
        }
        segment = default;
        return false;
    }
}
