// ElfNotes: ELF notes (gABI "Note Section") and the x86-64 NT_PRSTATUS note a stopped CPU leaves
// behind. Mirrors Linux's append_elf_note()/final_note() (kernel/crash_core.c), crash_save_cpu()'s
// struct elf_prstatus, and the note walk of fs/proc/vmcore.c that stops at the zero terminator.
using System;

// A note, every field little-endian, everything padded to 4 bytes (gABI; x86-64 uses 4, not 8):
//
//   offset  size
//        0     4  namesz   name length including its NUL; 0 marks the terminator (Linux's final_note)
//        4     4  descsz
//        8     4  type     NT_PRSTATUS = 1 for "CORE", 0 for "VMCOREINFO"
//       12        name, NUL, zero padding to 4
//                 desc, zero padding to 4
//
// Linux's per-CPU crash-note buffer is one CORE note (12 + 8 + 336 = 356 bytes) followed by a
// 12-byte all-zero terminator: 368 bytes. A CPU that never saved its registers leaves only the
// terminator, which readers treat as "no note".

/// <summary>The general registers of struct user_regs_struct (arch/x86/include/asm/user_64.h), in pr_reg order.</summary>
public enum UserReg
{
    R15 = 0, R14 = 1, R13 = 2, R12 = 3, Rbp = 4, Rbx = 5, R11 = 6, R10 = 7, R9 = 8, R8 = 9,
    Rax = 10, Rcx = 11, Rdx = 12, Rsi = 13, Rdi = 14, OrigRax = 15, Rip = 16, Cs = 17, Eflags = 18,
    Rsp = 19, Ss = 20, FsBase = 21, GsBase = 22, Ds = 23, Es = 24, Fs = 25, Gs = 26,
}

/// <summary>pr_reg: the 27 registers of a prstatus, indexed by <see cref="UserReg"/>.</summary>
public unsafe struct PrStatusRegs
{
    public const int Count = 27;

    public fixed ulong Reg[Count];

    /// <summary>Reads as 0 and ignores writes outside the 27 registers (fixed buffers are not bounds-checked).</summary>
    public ulong this[UserReg r]
    {
        readonly get => (uint)r < Count ? Reg[(int)r] : 0;
        set { if ((uint)r < Count) Reg[(int)r] = value; }
    }
}

/// <summary>Writes and walks notes.</summary>
public static class ElfNote
{
    public const int HeaderSize = 12;
    /// <summary>NT_PRSTATUS (include/uapi/linux/elf.h).</summary>
    public const uint NtPrStatus = 1;
    /// <summary>The 12-byte all-zero note that ends a crash-note buffer.</summary>
    public const int TerminatorSize = HeaderSize;

    public static int Align4(int n) => (n + 3) & ~3;

    /// <summary>Bytes a note with this name (without NUL) and desc takes, padding included.</summary>
    public static int SizeOf(int nameLength, int descLength) => HeaderSize + Align4(nameLength + 1) + Align4(descLength);

    /// <summary>
    /// Writes a note's header, name and the zero padding after its desc, and returns where the desc
    /// goes (the caller fills it in place, as crash_save_cpu() fills the prstatus), or -1 if the note
    /// does not fit or the name is not printable ASCII.
    /// </summary>
    public static int Begin(Span<byte> dst, string name, uint type, int descLength)
    {
        if (name.Length == 0 || name.Length > 255 || descLength < 0 || descLength > 0x1000_0000) return -1;
        int size = SizeOf(name.Length, descLength);
        if (size > dst.Length) return -1;
        for (int i = 0; i < name.Length; i++)
            if (name[i] <= 0x20 || name[i] > 0x7E) return -1;
        LittleEndian.Put32(dst, 0, (uint)name.Length + 1);
        LittleEndian.Put32(dst, 4, (uint)descLength);
        LittleEndian.Put32(dst, 8, type);
        int descAt = HeaderSize + Align4(name.Length + 1);
        for (int i = HeaderSize; i < descAt; i++)
            dst[i] = i - HeaderSize < name.Length ? (byte)name[i - HeaderSize] : (byte)0;
        for (int i = descAt + descLength; i < size; i++) dst[i] = 0;
        return descAt;
    }

    /// <summary>Writes a whole note and returns its size, or 0 if it does not fit.</summary>
    public static int Write(Span<byte> dst, string name, uint type, ReadOnlySpan<byte> desc)
    {
        int at = Begin(dst, name, type, desc.Length);
        if (at < 0) return 0;
        desc.CopyTo(dst.Slice(at, desc.Length));
        return SizeOf(name.Length, desc.Length);
    }

    /// <summary>Writes the 12-byte zero terminator and returns 12, or 0 if it does not fit.</summary>
    public static int WriteTerminator(Span<byte> dst)
    {
        if (dst.Length < TerminatorSize) return 0;
        dst.Slice(0, TerminatorSize).Clear();
        return TerminatorSize;
    }

    /// <summary>Walks the notes of a buffer (see <see cref="ElfNoteReader"/>).</summary>
    public static ElfNoteReader Read(ReadOnlySpan<byte> notes) => new ElfNoteReader(notes);

    /// <summary>The first note with this name and type, if the walk reaches one.</summary>
    public static bool Find(ReadOnlySpan<byte> notes, string name, uint type, out ElfNoteEntry note)
    {
        ElfNoteReader r = new ElfNoteReader(notes);
        while (r.MoveNext())
        {
            if (r.Current.Is(name, type)) { note = r.Current; return true; }
        }
        note = default;
        return false;
    }
}

/// <summary>One note as the reader returns it; Name (without its NUL) and Desc point into the buffer.</summary>
public readonly ref struct ElfNoteEntry
{
    public readonly ReadOnlySpan<byte> Name;
    public readonly uint Type;
    public readonly ReadOnlySpan<byte> Desc;
    /// <summary>Where the note starts in the buffer, and its size with padding.</summary>
    public readonly int Offset, Size;

    public ElfNoteEntry(ReadOnlySpan<byte> name, uint type, ReadOnlySpan<byte> desc, int offset, int size)
    {
        Name = name;
        Type = type;
        Desc = desc;
        Offset = offset;
        Size = size;
    }

    public bool NameIs(string name)
    {
        if (Name.Length != name.Length) return false;
        for (int i = 0; i < name.Length; i++)
            if (Name[i] != name[i]) return false;
        return true;
    }

    public bool Is(string name, uint type) => Type == type && NameIs(name);
}

/// <summary>
/// Walks a note buffer up to its terminator (namesz 0, as fs/proc/vmcore.c's walk stops) or its end.
/// Sizes are checked before use; a note that claims more bytes than remain stops the walk with
/// <see cref="Corrupt"/> set. Each step moves forward by at least 16 bytes, so the walk is bounded.
/// </summary>
public ref struct ElfNoteReader
{
    private readonly ReadOnlySpan<byte> _buffer;
    private int _pos;
    private bool _done;
    private bool _corrupt;
    private bool _terminated;
    private int _noteOffset, _noteSize, _nameLength, _descOffset, _descLength;
    private uint _type;
    private ulong _claimed;

    public ElfNoteReader(ReadOnlySpan<byte> buffer)
    {
        _buffer = buffer;
        _pos = 0;
        _done = false;
        _corrupt = false;
        _terminated = false;
        _noteOffset = _noteSize = _nameLength = _descOffset = _descLength = 0;
        _type = 0;
        _claimed = 0;
    }

    public readonly ElfNoteEntry Current => new ElfNoteEntry(
        _buffer.Slice(_noteOffset + ElfNote.HeaderSize, _nameLength), _type,
        _buffer.Slice(_descOffset, _descLength), _noteOffset, _noteSize);

    public ElfNoteReader GetEnumerator() => this;

    /// <summary>True if the walk stopped at a note that does not fit, or at 1..11 stray bytes.</summary>
    public readonly bool Corrupt => _corrupt;

    /// <summary>True if the walk ended at a zero terminator rather than at the end of the buffer.</summary>
    public readonly bool Terminated => _terminated;

    /// <summary>Bytes of whole notes walked so far: a buffer's used size once the walk is over.</summary>
    public readonly int UsedSize => _pos;

    public bool MoveNext()
    {
        if (_done) return false;
        int remaining = _buffer.Length - _pos;
        if (remaining == 0) { _done = true; return false; }
        if (remaining < ElfNote.HeaderSize) return Fail(ElfNote.HeaderSize);
        uint namesz = LittleEndian.U32(_buffer, _pos);
        if (namesz == 0)
        {
            _terminated = true;
            _done = true;
            return false;
        }
        uint descsz = LittleEndian.U32(_buffer, _pos + 4);
        // In 64 bits: namesz and descsz are untrusted and their padded sum can exceed 2^32.
        ulong size = ElfNote.HeaderSize + (((ulong)namesz + 3) & ~3UL) + (((ulong)descsz + 3) & ~3UL);
        if (size > (ulong)remaining) return Fail(size);
        _type = LittleEndian.U32(_buffer, _pos + 8);
        _noteOffset = _pos;
        _noteSize = (int)size;
        // The name's NUL is not part of the name; a name without one is taken whole.
        _nameLength = _buffer[_pos + ElfNote.HeaderSize + (int)namesz - 1] == 0 ? (int)namesz - 1 : (int)namesz;
        _descOffset = _pos + ElfNote.HeaderSize + (int)((namesz + 3) & ~3u);
        _descLength = (int)descsz;
        _pos += (int)size;
        return true;
    }

    private bool Fail(ulong claimed)
    {
        _corrupt = true;
        _done = true;
        _claimed = claimed;
        return false;
    }

    /// <summary>Appends why the walk stopped early: "note at offset 0x170 needs 0x1000 bytes, 0x10 remain".</summary>
    public readonly void DescribeCorruption(ref LogLine l)
    {
        if (!_corrupt) { l.Append("notes intact"); return; }
        l.Append("note at offset 0x"); l.AppendHex((ulong)_pos, 1);
        l.Append(" needs 0x"); l.AppendHex(_claimed, 1);
        l.Append(" bytes, 0x"); l.AppendHex((ulong)(_buffer.Length - _pos), 1); l.Append(" remain");
    }
}

/// <summary>struct elf_prstatus for x86-64 (include/linux/elfcore.h), 336 bytes.</summary>
public static class PrStatus
{
    public const int Size = 336;
    public const int SigNoOffset = 0, CurSigOffset = 12, PidOffset = 32, PpidOffset = 36, RegsOffset = 112, FpValidOffset = 328;

    /// <summary>Fills a prstatus desc: pid and registers, everything else zero (as for a CPU stopped by NMI).</summary>
    public static bool Write(Span<byte> desc, int pid, in PrStatusRegs regs)
    {
        if (desc.Length < Size) return false;
        desc.Slice(0, Size).Clear();
        LittleEndian.Put32(desc, PidOffset, (uint)pid);
        for (int i = 0; i < PrStatusRegs.Count; i++)
            LittleEndian.Put64(desc, RegsOffset + 8 * i, regs[(UserReg)i]);
        return true;
    }

    /// <summary>Decodes pid and registers from a desc of exactly 336 bytes (gdb accepts no other size on x86-64).</summary>
    public static bool Read(ReadOnlySpan<byte> desc, out int pid, out PrStatusRegs regs)
    {
        regs = default;
        pid = 0;
        if (desc.Length != Size) return false;
        pid = (int)LittleEndian.U32(desc, PidOffset);
        for (int i = 0; i < PrStatusRegs.Count; i++)
            regs[(UserReg)i] = LittleEndian.U64(desc, RegsOffset + 8 * i);
        return true;
    }

    /// <summary>Decodes a note if it is a CORE/NT_PRSTATUS note with a valid desc.</summary>
    public static bool Read(in ElfNoteEntry note, out int pid, out PrStatusRegs regs)
    {
        if (!note.Is("CORE", ElfNote.NtPrStatus))
        {
            pid = 0;
            regs = default;
            return false;
        }
        return Read(note.Desc, out pid, out regs);
    }
}

/// <summary>A per-CPU crash-note buffer (Linux's crash_notes): one CORE note and the terminator.</summary>
public static class CrashNote
{
    /// <summary>12 + 8 ("CORE\0" padded) + 336.</summary>
    public const int NoteSize = ElfNote.HeaderSize + 8 + PrStatus.Size;
    /// <summary>The note plus a 12-byte terminator: 368.</summary>
    public const int BufferSize = NoteSize + ElfNote.TerminatorSize;

    /// <summary>Makes the buffer "no note": all zero, so it starts with the terminator.</summary>
    public static void Clear(Span<byte> buffer)
    {
        int n = buffer.Length < BufferSize ? buffer.Length : BufferSize;
        buffer.Slice(0, n).Clear();
    }

    /// <summary>
    /// Saves a CPU's registers (crash_save_cpu()): the note, then the terminator after it. Touches
    /// only the 368 bytes of the buffer and allocates nothing: it runs in NMI context.
    /// </summary>
    public static bool Write(Span<byte> buffer, int pid, in PrStatusRegs regs)
    {
        if (buffer.Length < BufferSize) return false;
        int at = ElfNote.Begin(buffer, "CORE", ElfNote.NtPrStatus, PrStatus.Size);
        if (at < 0) return false;
        PrStatus.Write(buffer.Slice(at, PrStatus.Size), pid, in regs);
        ElfNote.WriteTerminator(buffer.Slice(NoteSize));
        return true;
    }

    /// <summary>The saved registers, or false when the buffer holds no CORE/NT_PRSTATUS note (a CPU that never answered).</summary>
    public static bool Read(ReadOnlySpan<byte> buffer, out int pid, out PrStatusRegs regs)
    {
        if (ElfNote.Find(buffer, "CORE", ElfNote.NtPrStatus, out ElfNoteEntry note))
            return PrStatus.Read(note.Desc, out pid, out regs);
        pid = 0;
        regs = default;
        return false;
    }
}
