// The ELF core header (kernel/dump/ElfCoreHeader.cs): written as kexec-tools lays out elfcorehdr, read
// back through a fake physical memory with guard pages, and refused, with a one-line reason, for
// every way fs/proc/vmcore.c (and our RAM and crash-kernel checks) can find it wrong.
using System.Buffers.Binary;

namespace Kernel.Tests;

public class ElfCoreHeaderTests
{
    static string Reason(ElfCoreError e) => DumpMachine.Describe(e);

    static byte[] Header(int cpus = 2) => DumpMachine.CoreHeader(DumpMachine.NoteBuffers(cpus), DumpMachine.Loads);

    static int Ph(int i) => 64 + 56 * i;

    [Fact]
    public void Write_LaysOutAnEt_CoreX86_64HeaderAsKexecToolsDoes()
    {
        var notes = DumpMachine.NoteBuffers(2);
        var h = DumpMachine.CoreHeader(notes, DumpMachine.Loads);
        Assert.Equal(64 + 56 * 6, h.Length);
        Assert.Equal(new byte[] { 0x7F, (byte)'E', (byte)'L', (byte)'F', 2, 1, 1, 0 }, h[..8]);
        Assert.All(h[8..16], b => Assert.Equal(0, b));
        Assert.Equal(4, BinaryPrimitives.ReadUInt16LittleEndian(h.AsSpan(16)));     // ET_CORE
        Assert.Equal(62, BinaryPrimitives.ReadUInt16LittleEndian(h.AsSpan(18)));    // EM_X86_64
        Assert.Equal(1u, BinaryPrimitives.ReadUInt32LittleEndian(h.AsSpan(20)));
        Assert.Equal(0UL, BinaryPrimitives.ReadUInt64LittleEndian(h.AsSpan(24)));   // e_entry
        Assert.Equal(64UL, BinaryPrimitives.ReadUInt64LittleEndian(h.AsSpan(32)));  // e_phoff
        Assert.Equal(0UL, BinaryPrimitives.ReadUInt64LittleEndian(h.AsSpan(40)));   // e_shoff
        Assert.Equal(64, BinaryPrimitives.ReadUInt16LittleEndian(h.AsSpan(52)));
        Assert.Equal(56, BinaryPrimitives.ReadUInt16LittleEndian(h.AsSpan(54)));
        Assert.Equal(6, BinaryPrimitives.ReadUInt16LittleEndian(h.AsSpan(56)));
        Assert.All(h[58..64], b => Assert.Equal(0, b));

        for (int i = 0; i < 3; i++)
        {
            var p = h.AsSpan(Ph(i));
            Assert.Equal(4u, BinaryPrimitives.ReadUInt32LittleEndian(p));                    // PT_NOTE
            Assert.Equal(0u, BinaryPrimitives.ReadUInt32LittleEndian(p[4..]));
            Assert.Equal(notes[i].Start, BinaryPrimitives.ReadUInt64LittleEndian(p[8..]));   // p_offset
            Assert.Equal(0UL, BinaryPrimitives.ReadUInt64LittleEndian(p[16..]));             // p_vaddr
            Assert.Equal(notes[i].Start, BinaryPrimitives.ReadUInt64LittleEndian(p[24..]));  // p_paddr
            Assert.Equal(notes[i].Size, BinaryPrimitives.ReadUInt64LittleEndian(p[32..]));
            Assert.Equal(notes[i].Size, BinaryPrimitives.ReadUInt64LittleEndian(p[40..]));
        }
        Assert.Equal(368UL, BinaryPrimitives.ReadUInt64LittleEndian(h.AsSpan(Ph(0) + 32)));
        for (int i = 0; i < 3; i++)
        {
            var p = h.AsSpan(Ph(3 + i));
            var l = DumpMachine.Loads[i];
            Assert.Equal(1u, BinaryPrimitives.ReadUInt32LittleEndian(p));                    // PT_LOAD
            Assert.Equal(7u, BinaryPrimitives.ReadUInt32LittleEndian(p[4..]));               // R|W|X
            Assert.Equal(l.PhysAddr, BinaryPrimitives.ReadUInt64LittleEndian(p[8..]));
            Assert.Equal(l.VirtAddr, BinaryPrimitives.ReadUInt64LittleEndian(p[16..]));
            Assert.Equal(l.PhysAddr, BinaryPrimitives.ReadUInt64LittleEndian(p[24..]));
            Assert.Equal(l.Size, BinaryPrimitives.ReadUInt64LittleEndian(p[32..]));
            Assert.Equal(l.Size, BinaryPrimitives.ReadUInt64LittleEndian(p[40..]));
        }
    }

    [Fact]
    public void Write_IntoTooSmallBufferOrWithNothing_WritesNothing()
    {
        var notes = DumpMachine.NoteBuffers(1);
        var small = new byte[ElfCoreHeader.SizeOf(notes.Length, 3) - 1];
        Assert.Equal(0, ElfCoreHeader.Write(small, notes, DumpMachine.Loads));
        Assert.All(small, b => Assert.Equal(0, b));
        Assert.Equal(0, ElfCoreHeader.Write(new byte[64], default, default));
    }

    [Fact]
    public void Read_RoundTrip_GivesNoteBuffersAndLoads_DroppingCpusWithoutANote()
    {
        using var m = new DumpMachine();
        var header = m.Crash(4, cpu => cpu != 2);
        Assert.True(m.ReadHeader(header, out var notes, out var loads, out var info, out var error), Reason(error));
        Assert.Equal(ElfCoreErrorCode.None, error.Code);
        Assert.Equal(1, info.EmptyNoteBuffers);
        Assert.Equal(0, info.TruncatedNoteBuffers);
        Assert.Equal(0, info.IgnoredHeaders);
        Assert.Equal([DumpMachine.NoteAddress(0), DumpMachine.NoteAddress(1), DumpMachine.NoteAddress(3), DumpMachine.VmcoreinfoAddress],
            notes.Select(n => n.Address));
        Assert.Equal([0, 1, 3, 4], notes.Select(n => n.ProgramHeader));
        Assert.All(notes[..3], n => Assert.Equal(356UL, n.UsedSize));
        Assert.All(notes[..3], n => Assert.Equal(368UL, n.Size));
        ulong vmcoreinfoNote = (ulong)ElfNote.SizeOf(10, DumpMachine.VmcoreinfoText().Length);
        Assert.Equal(vmcoreinfoNote, notes[3].UsedSize);
        Assert.All(notes, n => Assert.Equal(1, n.Notes));
        Assert.Equal(3 * 356UL + vmcoreinfoNote, info.NotesSize);
        Assert.Equal(DumpMachine.Loads, loads);
    }

    [Fact]
    public void Read_NoteBufferCorruptHalfWay_KeepsTheWholeNotesBefore()
    {
        using var m = new DumpMachine();
        var header = m.Crash(1);
        // A second note after the CPU's, whose descsz runs past the 368-byte buffer.
        var buffer = m.Memory.At(DumpMachine.NoteAddress(0), 368);
        BinaryPrimitives.WriteUInt32LittleEndian(buffer[356..], 5);
        BinaryPrimitives.WriteUInt32LittleEndian(buffer[360..], 64);
        Assert.True(m.ReadHeader(header, out var notes, out _, out var info, out var error), Reason(error));
        Assert.Equal(1, info.TruncatedNoteBuffers);
        Assert.True(notes[0].Truncated);
        Assert.Equal(356UL, notes[0].UsedSize);
    }

    [Fact]
    public void Read_IgnoresOtherProgramHeaderTypesAndEmptyLoads()
    {
        using var m = new DumpMachine();
        m.Crash(1);
        var header = DumpMachine.CoreHeader(DumpMachine.NoteBuffers(1), [.. DumpMachine.Loads, new(0x1000, 0x1000, 0)]);
        BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(Ph(0)), 6);    // PT_PHDR instead of the CPU's note
        Assert.True(m.ReadHeader(header, out var notes, out var loads, out var info, out var error), Reason(error));
        Assert.Equal(2, info.IgnoredHeaders);
        Assert.Single(notes);
        Assert.Equal(3, loads.Length);
    }

    [Fact]
    public void Read_LoadSpanningAdjacentRamRanges_IsRam()
    {
        using var m = new DumpMachine();
        m.Crash(1);
        PhysRange[] ram = [new(0x10_0000, 0x10_0000), new(0x30_0000, 0x10_0000), new(0x20_0000, 0x10_0000)];
        var header = DumpMachine.CoreHeader(DumpMachine.NoteBuffers(1), [new(0x10_0000, 0x10_0000, 0x30_0000)]);
        Assert.True(ElfCoreHeader.Read(header, m.Window, ram, DumpMachine.CrashKernel, new CoreNoteBuffer[4], new LoadSegment[4], out _, out var error), Reason(error));
        Assert.True(ElfCoreHeader.Covered(ram, 0x10_0000, 0x30_0000));
        Assert.False(ElfCoreHeader.Covered(ram, 0x10_0000, 0x30_0001));
        Assert.False(ElfCoreHeader.Covered(ram, 0xF_FFFF, 2));
        Assert.False(ElfCoreHeader.Covered(default, 0x10_0000, 1));
        Assert.True(ElfCoreHeader.Covered([new(0xFFFF_FFFF_FFFF_F000, 0x2000)], 0xFFFF_FFFF_FFFF_F000, 0xFFF));
    }

    // ---- Refusals, each with its reason ---------------------------------------------------------

    static void AssertRefused(byte[] header, ElfCoreErrorCode code, string reason, DumpMachine? machine = null)
    {
        using var own = machine == null ? new DumpMachine() : null;
        var m = machine ?? own!;
        Assert.False(m.ReadHeader(header, out _, out _, out _, out var error));
        Assert.Equal(code, error.Code);
        Assert.Equal(reason, Reason(error));
    }

    static byte[] With(byte[] h, Action<byte[]> change)
    {
        var copy = (byte[])h.Clone();
        change(copy);
        return copy;
    }

    [Fact]
    public void Refused_NotAnElfFile() =>
        AssertRefused(new byte[100], ElfCoreErrorCode.NotElf, "not an ELF file (100 bytes, no 7f 45 4c 46 header)");

    [Fact]
    public void Refused_ShorterThanAnElfHeader() =>
        AssertRefused(Header()[..63], ElfCoreErrorCode.NotElf, "not an ELF file (63 bytes, no 7f 45 4c 46 header)");

    [Fact]
    public void Refused_Elf32() => AssertRefused(With(Header(), h => h[4] = 1), ElfCoreErrorCode.NotElf64, "not ELF64 (EI_CLASS 1)");

    [Fact]
    public void Refused_BigEndian() => AssertRefused(With(Header(), h => h[5] = 2), ElfCoreErrorCode.NotLittleEndian, "not little-endian (EI_DATA 2)");

    [Fact]
    public void Refused_UnknownVersion() =>
        AssertRefused(With(Header(), h => h[20] = 2), ElfCoreErrorCode.BadVersion, "unknown ELF version (EI_VERSION 1, e_version 2)");

    [Fact]
    public void Refused_NotACoreFile() => AssertRefused(With(Header(), h => h[16] = 2), ElfCoreErrorCode.NotCore, "not a core file (e_type 2)");

    [Fact]
    public void Refused_NotX86_64() => AssertRefused(With(Header(), h => h[18] = 40), ElfCoreErrorCode.NotX86_64, "not x86-64 (e_machine 40)");

    [Fact]
    public void Refused_WrongEhsize() => AssertRefused(With(Header(), h => h[52] = 52), ElfCoreErrorCode.BadHeaderSize, "bad e_ehsize 52 (64 expected)");

    [Fact]
    public void Refused_WrongPhentsize() =>
        AssertRefused(With(Header(), h => h[54] = 32), ElfCoreErrorCode.BadProgramHeaderSize, "bad e_phentsize 32 (56 expected)");

    [Fact]
    public void Refused_NoProgramHeaders() =>
        AssertRefused(With(Header(), h => h[56] = 0), ElfCoreErrorCode.NoProgramHeaders, "no program headers (e_phnum 0)");

    [Fact]
    public void Refused_PnXnum() =>
        AssertRefused(With(Header(), h => { h[56] = 0xFF; h[57] = 0xFF; }), ElfCoreErrorCode.TooManyProgramHeaders,
            "too many program headers (e_phnum 65535, at most 65534)");

    [Fact]
    public void Refused_ProgramHeaderTablePastTheEnd()
    {
        var h = Header(2);   // 6 headers: 64 + 336 = 400 bytes
        AssertRefused(h[..399], ElfCoreErrorCode.Truncated, "truncated: program header table ends at 0x190 but the file has 0x18f bytes");
        AssertRefused(With(h, b => BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(32), ulong.MaxValue - 8)), ElfCoreErrorCode.Truncated,
            "truncated: program header table ends at 0xffffffffffffffff but the file has 0x190 bytes");
    }

    [Fact]
    public void Refused_NoteBufferOutsideMemory()
    {
        using var m = new DumpMachine();
        var header = DumpMachine.CoreHeader([new(DumpMachine.MemoryEnd - 0x100, 368)], DumpMachine.Loads);
        AssertRefused(header, ElfCoreErrorCode.NoteUnreadable, "program header 0: PT_NOTE at 0x7fff00 size 0x170 is outside readable memory", m);
        header = DumpMachine.CoreHeader([new(ulong.MaxValue - 10, 368)], DumpMachine.Loads);
        AssertRefused(header, ElfCoreErrorCode.NoteUnreadable, "program header 0: PT_NOTE at 0xfffffffffffffff5 size 0x170 is outside readable memory", m);
    }

    [Fact]
    public void Refused_HugeNoteBuffer()
    {
        var header = DumpMachine.CoreHeader([new(0x20_0000, 0x10_0001)], DumpMachine.Loads);
        AssertRefused(header, ElfCoreErrorCode.NoteTooLarge, "program header 0: PT_NOTE of 0x100001 bytes, at most 0x100000 accepted");
    }

    [Fact]
    public void Refused_FileszDiffersFromMemsz() =>
        AssertRefused(With(Header(1), h => h[Ph(2) + 40] ^= 1), ElfCoreErrorCode.SizeMismatch,
            "program header 2: p_filesz 0x9e000 differs from p_memsz 0x9e001");

    [Fact]
    public void Refused_LoadOffsetNotItsPhysicalAddress() =>
        AssertRefused(With(Header(1), h => h[Ph(3) + 8 + 2] = 0x11), ElfCoreErrorCode.LoadOffsetNotPaddr,
            "program header 3: PT_LOAD p_offset 0x110000 differs from p_paddr 0x100000");

    [Fact]
    public void Refused_LoadWrappingAround()
    {
        using var m = new DumpMachine();
        m.Crash(1);
        var header = DumpMachine.CoreHeader(DumpMachine.NoteBuffers(1), [new(0xFFFF_FFFF_FFFF_F000, 0xFFFF_FFFF_FFFF_F000, 0x2000)]);
        AssertRefused(header, ElfCoreErrorCode.LoadWraps, "program header 2: PT_LOAD at 0xfffffffffffff000 size 0x2000 wraps around", m);
    }

    [Fact]
    public void Refused_LoadInAHoleOfTheMemoryMap()
    {
        using var m = new DumpMachine();
        m.Crash(1);
        var header = DumpMachine.CoreHeader(DumpMachine.NoteBuffers(1), [new(0x9F000, 0x9F000, 0x61001)]);
        AssertRefused(header, ElfCoreErrorCode.LoadNotRam, "program header 2: PT_LOAD [0x9f000-0x100000] is not RAM", m);
        header = DumpMachine.CoreHeader(DumpMachine.NoteBuffers(1), [new(0x1000, 0x1000, 0x9F000)]);
        AssertRefused(header, ElfCoreErrorCode.LoadNotRam, "program header 2: PT_LOAD [0x1000-0x9ffff] is not RAM", m);
    }

    [Fact]
    public void Refused_LoadOverlappingTheCrashKernel()
    {
        using var m = new DumpMachine();
        m.Crash(1);
        var header = DumpMachine.CoreHeader(DumpMachine.NoteBuffers(1), [new(0x10_0000, 0x10_0000, 0x30_0001)]);
        AssertRefused(header, ElfCoreErrorCode.LoadInCrashKernel, "program header 2: PT_LOAD [0x100000-0x400000] overlaps the crash kernel region", m);
        header = DumpMachine.CoreHeader(DumpMachine.NoteBuffers(1), [new(0x5F_F000, 0x5F_F000, 0x1000)]);
        AssertRefused(header, ElfCoreErrorCode.LoadInCrashKernel, "program header 2: PT_LOAD [0x5ff000-0x5fffff] overlaps the crash kernel region", m);
    }

    [Fact]
    public void Refused_MoreNoteBuffersOrLoadsThanTheCallerHasRoomFor()
    {
        using var m = new DumpMachine();
        var header = m.Crash(4);
        Assert.False(m.ReadHeader(header, out _, out _, out _, out var error, noteRoom: 4));
        Assert.Equal("too many note buffers (5, room for 4)", Reason(error));
        Assert.False(m.ReadHeader(header, out _, out _, out _, out error, loadRoom: 2));
        Assert.Equal("too many PT_LOADs (3, room for 2)", Reason(error));
    }

    [Fact]
    public void Read_NeverReadsAnotherNoteThanItsWindow()
    {
        // The window is the guard-paged fake memory: a note right at its end is read, one byte more faults.
        using var m = new DumpMachine();
        ulong at = DumpMachine.MemoryEnd - CrashNote.BufferSize;
        Assert.True(CrashNote.Write(m.Memory.At(at, CrashNote.BufferSize), 1, DumpMachine.RegsOf(0)));
        var header = DumpMachine.CoreHeader([new(at, CrashNote.BufferSize)], [new(0x1000, 0x1000, 0x1000)]);
        Assert.True(m.ReadHeader(header, out var notes, out _, out _, out var error), Reason(error));
        Assert.Equal(356UL, notes[0].UsedSize);
        header = DumpMachine.CoreHeader([new(at, CrashNote.BufferSize + 1)], [new(0x1000, 0x1000, 0x1000)]);
        Assert.False(m.ReadHeader(header, out _, out _, out _, out error));
        Assert.Equal(ElfCoreErrorCode.NoteUnreadable, error.Code);
    }

    [Theory]
    [InlineData(31)]
    [InlineData(32)]
    [InlineData(33)]
    public void Read_Fuzz_MutatedHeadersNeverThrow_AndWhatIsAcceptedIsSafe(int seed)
    {
        using var m = new DumpMachine();
        var valid = m.Crash(3, cpu => cpu != 1);
        var rng = new Random(seed);
        int accepted = 0;
        for (int iter = 0; iter < 5000; iter++)
        {
            byte[] h;
            if (iter % 10 == 0)
            {
                h = new byte[rng.Next(0, 600)];
                rng.NextBytes(h);
                if (h.Length >= 20 && rng.Next(2) == 0) valid.AsSpan(0, 20).CopyTo(h);
            }
            else
            {
                h = (byte[])valid.Clone();
                for (int k = rng.Next(1, 4); k > 0; k--)
                {
                    int at = rng.Next(h.Length);
                    // Often hit the fields that matter: counts, sizes and addresses, with edge values.
                    h[at] = rng.Next(3) switch { 0 => 0, 1 => 0xFF, _ => (byte)rng.Next(256) };
                }
                if (rng.Next(8) == 0) h = h[..rng.Next(h.Length)];
            }
            var notes = new CoreNoteBuffer[8];
            var loads = new LoadSegment[8];
            bool ok = ElfCoreHeader.Read(h, m.Window, DumpMachine.Ram, DumpMachine.CrashKernel, notes, loads, out var info, out var error);
            Assert.NotEqual("", Reason(error));
            if (!ok) { Assert.NotEqual(ElfCoreErrorCode.None, error.Code); continue; }
            accepted++;
            Assert.Equal(ElfCoreErrorCode.None, error.Code);
            ulong total = 0;
            for (int i = 0; i < info.NoteBuffers; i++)
            {
                Assert.InRange(notes[i].UsedSize, 1UL, notes[i].Size);
                Assert.True(notes[i].Address + notes[i].Size <= DumpMachine.MemoryEnd);
                total += notes[i].UsedSize;
            }
            Assert.Equal(total, info.NotesSize);
            for (int i = 0; i < info.Loads; i++)
            {
                Assert.True(ElfCoreHeader.Covered(DumpMachine.Ram, loads[i].PhysAddr, loads[i].Size));
                Assert.False(DumpMachine.CrashKernel.Overlaps(loads[i].PhysAddr, loads[i].Size));
            }
        }
        Assert.InRange(accepted, 100, 5000);   // the mutations do not all break the header
    }
}
