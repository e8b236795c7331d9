// A minimal kernel image for --kernel: an ET_EXEC x86-64 ELF64 with .text, a GNU build-id note,
// .symtab/.strtab and .shstrtab (gABI "Sections"), laid out the way ld lays out kernel.elf.
using System.Text;

namespace Nmidump.Inspector.Tests;

static class FakeKernelElf
{
    const int SttNotype = 0, SttFunc = 2, SttObject = 1, StbGlobal = 1;

    /// <param name="text">.text's 0x400 bytes (at 0x100000); zeros when null.</param>
    public static byte[] Build(string buildIdHex, IEnumerable<(ulong Address, ulong Size, string Name, bool Code)> symbols, byte[]? text = null)
    {
        var file = new List<byte>(new byte[Elf.HeaderSize]);
        int Align(int a) { while (file.Count % a != 0) file.Add(0); return file.Count; }

        int textOffset = Align(16);
        file.AddRange(text ?? new byte[0x400]);                      // .text: 0x100000..0x100400
        Assert.Equal(textOffset + 0x400, file.Count);

        int noteOffset = Align(4);
        byte[] id = Convert.FromHexString(buildIdHex);
        var note = new byte[ElfNote.SizeOf(3, id.Length)];
        Assert.Equal(note.Length, ElfNote.Write(note, "GNU", 3, id));
        file.AddRange(note);

        var strtab = new List<byte> { 0 };
        var syms = new List<byte>(new byte[24]);                     // symbol 0 is the null symbol
        foreach (var s in symbols)
        {
            var e = new byte[24];
            LittleEndian.Put32(e, 0, (uint)strtab.Count);
            strtab.AddRange(Encoding.ASCII.GetBytes(s.Name));
            strtab.Add(0);
            int type = s.Code ? (s.Size == 0 ? SttNotype : SttFunc) : SttObject;
            e[4] = (byte)(StbGlobal << 4 | type);
            LittleEndian.Put16(e, 6, (ushort)(s.Code ? 1 : 2));       // .text, or the (non-executable) note section
            LittleEndian.Put64(e, 8, s.Address);
            LittleEndian.Put64(e, 16, s.Size);
            syms.AddRange(e);
        }
        int symOffset = Align(8);
        file.AddRange(syms);
        int strOffset = file.Count;
        file.AddRange(strtab);
        byte[] shstr = Encoding.ASCII.GetBytes("\0.text\0.note.gnu.build-id\0.symtab\0.strtab\0.shstrtab\0");
        int shstrOffset = file.Count;
        file.AddRange(shstr);

        int shoff = Align(8);
        var sections = new (uint Name, uint Type, ulong Flags, ulong Addr, int Offset, int Size, uint Link, ulong EntSize)[]
        {
            (0, 0, 0, 0, 0, 0, 0, 0),
            (1, 1, 6, 0x10_0000, textOffset, 0x400, 0, 0),              // PROGBITS, AX
            (7, 7, 2, 0x10_0400, noteOffset, note.Length, 0, 0),        // NOTE, A
            (26, 2, 0, 0, symOffset, syms.Count, 4, 24),                // SYMTAB -> .strtab
            (34, 3, 0, 0, strOffset, strtab.Count, 0, 0),               // STRTAB
            (42, 3, 0, 0, shstrOffset, shstr.Length, 0, 0),             // .shstrtab
        };
        foreach (var s in sections)
        {
            var h = new byte[64];
            LittleEndian.Put32(h, 0, s.Name);
            LittleEndian.Put32(h, 4, s.Type);
            LittleEndian.Put64(h, 8, s.Flags);
            LittleEndian.Put64(h, 16, s.Addr);
            LittleEndian.Put64(h, 24, (ulong)s.Offset);
            LittleEndian.Put64(h, 32, (ulong)s.Size);
            LittleEndian.Put32(h, 40, s.Link);
            LittleEndian.Put64(h, 56, s.EntSize);
            file.AddRange(h);
        }

        byte[] elf = file.ToArray();
        elf[0] = 0x7F; elf[1] = (byte)'E'; elf[2] = (byte)'L'; elf[3] = (byte)'F';
        elf[Elf.EiClass] = Elf.ElfClass64;
        elf[Elf.EiData] = Elf.ElfData2Lsb;
        elf[Elf.EiVersion] = Elf.EvCurrent;
        LittleEndian.Put16(elf, Elf.EType, 2);                         // ET_EXEC
        LittleEndian.Put16(elf, Elf.EMachine, Elf.EmX86_64);
        LittleEndian.Put32(elf, Elf.EVersion, Elf.EvCurrent);
        LittleEndian.Put64(elf, Elf.EEntry, 0x10_0000);
        LittleEndian.Put64(elf, Elf.EShoff, (ulong)shoff);
        LittleEndian.Put16(elf, Elf.EEhsize, Elf.HeaderSize);
        LittleEndian.Put16(elf, Elf.EShentsize, 64);
        LittleEndian.Put16(elf, Elf.EShnum, (ushort)sections.Length);
        LittleEndian.Put16(elf, Elf.EShstrndx, (ushort)(sections.Length - 1));
        return elf;
    }

    /// <summary>The fake crash's functions under other names, so a test can tell which table named a RIP.</summary>
    public static byte[] ForFakeCrash(string buildIdHex) => Build(buildIdHex,
    [
        (FakeCrash.IdleAddress, 0, "elf_cpu_idle", true),
        (FakeCrash.IdleAddress + 2, 0, "cpu_idle.again", true),        // a NASM local label: not a function
        (FakeCrash.PanicAddress, 0x40, "elf_KernelPanic", true),
        (FakeCrash.NmiPanicAddress, 0x30, "elf_NmiPanic", true),
        (0x10_0400, 8, "some_data", false),
    ]);
}
