// A small ELF64 reader for the tests: sections by name and the symbol table.
using System.Buffers.Binary;
using System.Text;

namespace Nmidump.QemuTests;

public sealed class ElfFile
{
    public sealed record Symbol(string Name, ulong Address, ulong Size, bool IsFunction);
    sealed record Section(string Name, uint Type, ulong Address, ulong Offset, ulong Size, uint Link);

    readonly byte[] _data;
    readonly List<Section> _sections = new();
    public List<Symbol> Symbols { get; } = new();

    ElfFile(byte[] data) { _data = data; }

    public static ElfFile Read(string path)
    {
        var f = new ElfFile(File.ReadAllBytes(path));
        f.Parse();
        return f;
    }

    void Parse()
    {
        ulong shoff = BinaryPrimitives.ReadUInt64LittleEndian(_data.AsSpan(0x28));
        int shentsize = BinaryPrimitives.ReadUInt16LittleEndian(_data.AsSpan(0x3A));
        int shnum = BinaryPrimitives.ReadUInt16LittleEndian(_data.AsSpan(0x3C));
        int shstrndx = BinaryPrimitives.ReadUInt16LittleEndian(_data.AsSpan(0x3E));
        var raw = new List<(uint NameOff, uint Type, ulong Addr, ulong Off, ulong Size, uint Link)>();
        for (int i = 0; i < shnum; i++)
        {
            var sh = _data.AsSpan((int)shoff + i * shentsize, shentsize);
            raw.Add((BinaryPrimitives.ReadUInt32LittleEndian(sh), BinaryPrimitives.ReadUInt32LittleEndian(sh[4..]),
                BinaryPrimitives.ReadUInt64LittleEndian(sh[0x10..]), BinaryPrimitives.ReadUInt64LittleEndian(sh[0x18..]),
                BinaryPrimitives.ReadUInt64LittleEndian(sh[0x20..]), BinaryPrimitives.ReadUInt32LittleEndian(sh[0x28..])));
        }
        ulong strOff = raw[shstrndx].Off;
        foreach (var s in raw) _sections.Add(new Section(CString(strOff + s.NameOff), s.Type, s.Addr, s.Off, s.Size, s.Link));
        foreach (var s in _sections.Where(s => s.Type == 2))
        {
            ulong names = _sections[(int)s.Link].Offset;
            for (ulong o = 0; o + 24 <= s.Size; o += 24)
            {
                var e = _data.AsSpan((int)(s.Offset + o), 24);
                uint nameOff = BinaryPrimitives.ReadUInt32LittleEndian(e);
                if (nameOff == 0 || BinaryPrimitives.ReadUInt16LittleEndian(e[6..]) == 0) continue;
                Symbols.Add(new Symbol(CString(names + nameOff), BinaryPrimitives.ReadUInt64LittleEndian(e[8..]),
                    BinaryPrimitives.ReadUInt64LittleEndian(e[16..]), (e[4] & 0xF) == 2));
            }
        }
    }

    string CString(ulong offset)
    {
        int start = (int)offset, end = Array.IndexOf(_data, (byte)0, start);
        return Encoding.ASCII.GetString(_data, start, end - start);
    }

    public byte[] SectionBytes(string name)
    {
        var s = _sections.First(x => x.Name == name);
        return _data.AsSpan((int)s.Offset, (int)s.Size).ToArray();
    }
}
