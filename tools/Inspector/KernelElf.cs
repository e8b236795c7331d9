// The kernel image given with --kernel: its GNU build-id note (the linker's --build-id, which the
// first kernel also writes into VMCOREINFO as BUILD-ID=), its code symbols (.symtab), made into
// the same kallsyms table the build embeds, its unwind tables (.eh_frame) and its line tables
// (.debug_line). ELF64 only (gABI "Sections", "Symbol Table", "Note Section"); every offset and
// size is checked against the file before use.
namespace Nmidump.Inspector;

public sealed class KernelElf
{
    const uint ShtSymtab = 2, ShtNote = 7, ShtNobits = 8;
    /// <summary>kernel.elf is ET_EXEC; capture.elf, linked as a PIE, is ET_DYN.</summary>
    const ushort EtExec = 2, EtDyn = 3;
    const ulong ShfExecInstr = 4;
    const uint NtGnuBuildId = 3;
    const int SymbolSize = 24, SectionHeaderSize = 64;

    /// <summary>The build id in lowercase hex, as VMCOREINFO's BUILD-ID= spells it; null if the image has none.</summary>
    public string? BuildId { get; }
    /// <summary>A kallsyms table (kernel/printk/Kallsyms.cs format) of the symbols in executable sections.</summary>
    public byte[] Symbols { get; }
    public int SymbolCount { get; }
    /// <summary>The unwind tables, or null: the image has none, or <see cref="UnwindProblem"/> says why they are unusable.</summary>
    public EhFrame? Unwind { get; private init; }
    public string? UnwindProblem { get; private init; }
    /// <summary>The line tables, or null: no debug information, or <see cref="LinesProblem"/> says why they are unusable.</summary>
    public DebugLine? Lines { get; private init; }
    public string? LinesProblem { get; private init; }

    KernelElf(string? buildId, byte[] symbols, int count)
    {
        BuildId = buildId;
        Symbols = symbols;
        SymbolCount = count;
    }

    /// <summary>Reads the image, or returns null with a one-line reason.</summary>
    public static KernelElf? Read(ReadOnlySpan<byte> file, out string reason)
    {
        reason = "";
        if (file.Length < Elf.HeaderSize || !Elf.HasMagic(file)) { reason = $"not an ELF file ({file.Length} bytes, no 7f 45 4c 46 header)"; return null; }
        if (file[Elf.EiClass] != Elf.ElfClass64) { reason = $"not ELF64 (EI_CLASS {file[Elf.EiClass]})"; return null; }
        if (file[Elf.EiData] != Elf.ElfData2Lsb) { reason = $"not little-endian (EI_DATA {file[Elf.EiData]})"; return null; }
        ushort type = LittleEndian.U16(file, Elf.EType);
        if (type != EtExec && type != EtDyn) { reason = $"not an executable image (e_type {type}{(type == Elf.EtCore ? ", a core file" : "")})"; return null; }
        ushort machine = LittleEndian.U16(file, Elf.EMachine);
        if (machine != Elf.EmX86_64) { reason = $"not x86-64 (e_machine {machine})"; return null; }

        string? buildId = FindBuildId(file);
        var symbols = new List<(ulong Address, ulong Size, string Name)>();
        if (!ReadSymbols(file, symbols, codeOnly: true, out reason)) return null;
        byte[] table = KallsymsWriter.Build(symbols);   // one symbol per address, as the kernel's table

        EhFrame? unwind = null;
        string? unwindProblem = null;
        if (FindSection(file, ".eh_frame", out ulong ehAddress, out ReadOnlySpan<byte> eh))
        {
            unwind = EhFrame.Parse(eh, ehAddress, out string why);
            unwindProblem = unwind == null ? "its .eh_frame is damaged: " + why : null;
        }
        DebugLine? lines = null;
        string? linesProblem = null;
        if (FindSection(file, ".debug_line", out _, out ReadOnlySpan<byte> line))
        {
            lines = DebugLine.Parse(line, out string why);
            linesProblem = lines == null ? "its .debug_line cannot be read: " + why : null;
        }
        return new KernelElf(buildId, table, Kallsyms.Count(table))
        {
            Unwind = unwind, UnwindProblem = unwindProblem, Lines = lines, LinesProblem = linesProblem,
        };
    }

    /// <summary>A section's address and bytes by name (through e_shstrndx); false if absent or outside the file.</summary>
    static bool FindSection(ReadOnlySpan<byte> file, string name, out ulong address, out ReadOnlySpan<byte> bytes)
    {
        address = 0;
        bytes = default;
        int names = LittleEndian.U16(file, Elf.EShstrndx);
        if (!Section(file, names, out _, out _, out ulong namesOffset, out ulong namesSize, out _)
            || !Contents(file, namesOffset, namesSize, out ReadOnlySpan<byte> strings)) return false;
        ulong shoff = LittleEndian.U64(file, Elf.EShoff);
        ushort shentsize = LittleEndian.U16(file, Elf.EShentsize);
        for (int i = 0; i < SectionCount(file); i++)
        {
            if (!Section(file, i, out uint type, out _, out ulong offset, out ulong size, out _) || type == ShtNobits) continue;
            ReadOnlySpan<byte> sh = file.Slice((int)(shoff + (ulong)i * shentsize), SectionHeaderSize);
            uint nameOffset = LittleEndian.U32(sh, 0);
            if (nameOffset >= strings.Length) continue;
            ReadOnlySpan<byte> n = strings.Slice((int)nameOffset);
            int nul = n.IndexOf((byte)0);
            if (nul < 0 || !n.Slice(0, nul).SequenceEqual(System.Text.Encoding.ASCII.GetBytes(name))) continue;
            if (!Contents(file, offset, size, out bytes)) return false;
            address = LittleEndian.U64(sh, 16);
            return true;
        }
        return false;
    }

    /// <summary>
    /// The code symbols a kallsyms table holds. The build embeds exactly these (tools/Build's
    /// kallsyms pass), so the table it links in and the one made here from --kernel agree.
    /// </summary>
    public static List<(ulong Address, ulong Size, string Name)>? CodeSymbols(ReadOnlySpan<byte> file, out string reason)
    {
        var symbols = new List<(ulong Address, ulong Size, string Name)>();
        return ReadSymbols(file, symbols, codeOnly: true, out reason) ? symbols : null;
    }

    /// <summary>Any named symbol's value (linker markers such as __load_end included), or null.</summary>
    public static ulong? SymbolValue(ReadOnlySpan<byte> file, string name)
    {
        var symbols = new List<(ulong Address, ulong Size, string Name)>();
        if (!ReadSymbols(file, symbols, codeOnly: false, out _)) return null;
        foreach (var s in symbols) if (s.Name == name) return s.Address;
        return null;
    }

    /// <summary>
    /// Each executable section that the file holds bytes for (not SHT_NOBITS): its address and its
    /// bytes, the code a dump of the running kernel must hold unchanged. Null when a header lies
    /// outside the file.
    /// </summary>
    public static List<(ulong Address, byte[] Bytes)>? CodeSections(ReadOnlySpan<byte> file)
    {
        if (file.Length < Elf.HeaderSize || !Elf.HasMagic(file)) return null;
        var sections = new List<(ulong, byte[])>();
        ulong shoff = LittleEndian.U64(file, Elf.EShoff);
        for (int i = 0; i < SectionCount(file); i++)
        {
            if (!Section(file, i, out uint type, out ulong flags, out ulong offset, out ulong size, out _)) return null;
            if ((flags & ShfExecInstr) == 0 || type == ShtNobits || size == 0) continue;
            if (!Contents(file, offset, size, out ReadOnlySpan<byte> bytes)) return null;
            ulong address = LittleEndian.U64(file, (int)(shoff + (ulong)i * LittleEndian.U16(file, Elf.EShentsize)) + 16);
            sections.Add((address, bytes.ToArray()));
        }
        return sections;
    }

    /// <summary>Section header i as (type, flags, offset, size, link), or false if it lies outside the file.</summary>
    static bool Section(ReadOnlySpan<byte> file, int i, out uint type, out ulong flags, out ulong offset, out ulong size, out uint link)
    {
        type = 0; flags = offset = size = 0; link = 0;
        ulong shoff = LittleEndian.U64(file, Elf.EShoff);
        ushort shentsize = LittleEndian.U16(file, Elf.EShentsize);
        if (shentsize < SectionHeaderSize) return false;
        ulong at = shoff + (ulong)i * shentsize;
        if (shoff > (ulong)file.Length || at < shoff || at > (ulong)file.Length - SectionHeaderSize) return false;
        ReadOnlySpan<byte> sh = file.Slice((int)at, SectionHeaderSize);
        type = LittleEndian.U32(sh, 4);
        flags = LittleEndian.U64(sh, 8);
        offset = LittleEndian.U64(sh, 24);
        size = LittleEndian.U64(sh, 32);
        link = LittleEndian.U32(sh, 40);
        return true;
    }

    static bool Contents(ReadOnlySpan<byte> file, ulong offset, ulong size, out ReadOnlySpan<byte> bytes)
    {
        bytes = default;
        if (offset > (ulong)file.Length || size > (ulong)file.Length - offset) return false;
        bytes = file.Slice((int)offset, (int)size);
        return true;
    }

    static int SectionCount(ReadOnlySpan<byte> file) => LittleEndian.U16(file, Elf.EShnum);

    /// <summary>The GNU build-id from any SHT_NOTE section, else from any PT_NOTE segment.</summary>
    static string? FindBuildId(ReadOnlySpan<byte> file)
    {
        for (int i = 0; i < SectionCount(file); i++)
        {
            if (!Section(file, i, out uint type, out _, out ulong offset, out ulong size, out _) || type != ShtNote) continue;
            if (Contents(file, offset, size, out ReadOnlySpan<byte> notes) && BuildIdIn(notes) is string id) return id;
        }
        ulong phoff = LittleEndian.U64(file, Elf.EPhoff);
        int phnum = LittleEndian.U16(file, Elf.EPhnum);
        for (int i = 0; i < phnum; i++)
        {
            ulong at = phoff + (ulong)i * Elf.ProgramHeaderSize;
            if (phoff > (ulong)file.Length || at > (ulong)file.Length - Elf.ProgramHeaderSize) break;
            ReadOnlySpan<byte> ph = file.Slice((int)at, Elf.ProgramHeaderSize);
            if (LittleEndian.U32(ph, Elf.PType) != Elf.PtNote) continue;
            if (Contents(file, LittleEndian.U64(ph, Elf.POffset), LittleEndian.U64(ph, Elf.PFilesz), out ReadOnlySpan<byte> notes)
                && BuildIdIn(notes) is string id) return id;
        }
        return null;
    }

    static string? BuildIdIn(ReadOnlySpan<byte> notes)
        => ElfNote.Find(notes, "GNU", NtGnuBuildId, out ElfNoteEntry note) && note.Desc.Length > 0
            ? Convert.ToHexStringLower(note.Desc) : null;

    /// <summary>
    /// The named symbols defined in executable sections, as the build's kallsyms pass picks them:
    /// NASM's local labels (cpu_idle.again) and the linker's markers left out.
    /// </summary>
    static bool ReadSymbols(ReadOnlySpan<byte> file, List<(ulong, ulong, string)> into, bool codeOnly, out string reason)
    {
        reason = "";
        int count = SectionCount(file);
        for (int i = 0; i < count; i++)
        {
            if (!Section(file, i, out uint type, out _, out ulong offset, out ulong size, out uint link) || type != ShtSymtab) continue;
            if (!Contents(file, offset, size, out ReadOnlySpan<byte> table)
                || !Section(file, (int)Math.Min(link, int.MaxValue), out _, out _, out ulong strOffset, out ulong strSize, out _)
                || !Contents(file, strOffset, strSize, out ReadOnlySpan<byte> strings))
            {
                reason = $"symbol table (section {i}) lies outside the file";
                return false;
            }
            for (int at = 0; at + SymbolSize <= table.Length; at += SymbolSize)
            {
                ReadOnlySpan<byte> s = table.Slice(at, SymbolSize);
                uint nameOffset = LittleEndian.U32(s, 0);
                ushort shndx = LittleEndian.U16(s, 6);
                ulong value = LittleEndian.U64(s, 8), symSize = LittleEndian.U64(s, 16);
                int stType = s[4] & 0xF;
                if (nameOffset == 0 || nameOffset >= strings.Length || shndx == 0) continue;
                ReadOnlySpan<byte> name = strings.Slice((int)nameOffset);
                int nul = name.IndexOf((byte)0);
                if (nul >= 0) name = name.Slice(0, nul);
                if (codeOnly)
                {
                    if (shndx >= 0xFF00) continue;                      // absolute and common symbols
                    if (stType != 0 && stType != 2) continue;          // NOTYPE (asm labels) or FUNC
                    if (!Section(file, shndx, out _, out ulong flags, out _, out _, out _) || (flags & ShfExecInstr) == 0) continue;
                    // NASM's local labels (cpu_idle.again) would split their function in two.
                    if (name.Length == 0 || name.Contains((byte)'.') || name.StartsWith("__text_"u8) || name.StartsWith("_lsda"u8)) continue;
                }
                into.Add((value, symSize, System.Text.Encoding.ASCII.GetString(name)));
            }
        }
        return true;   // a stripped image still has its build id to compare

    }
}
