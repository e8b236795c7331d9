// Reads the function symbols of a linked ELF64 file (the .symtab section), for the kallsyms pass
// of the build. Host-only; the kernel reads its embedded table through kernel/Kallsyms.cs.
using System.Buffers.Binary;
using System.Text;

namespace Nmidump.Build;

public static class ElfSymbols
{
    public sealed record Symbol(string Name, ulong Address, ulong Size, bool IsFunction);

    public static List<Symbol> Read(string path)
    {
        var data = File.ReadAllBytes(path);
        if (data.Length < 64 || data[0] != 0x7F || data[1] != (byte)'E' || data[2] != (byte)'L' || data[3] != (byte)'F' || data[4] != 2)
            throw new BuildException($"{path}: not an ELF64 file");
        ulong shoff = BinaryPrimitives.ReadUInt64LittleEndian(data.AsSpan(0x28));
        int shentsize = BinaryPrimitives.ReadUInt16LittleEndian(data.AsSpan(0x3A));
        int shnum = BinaryPrimitives.ReadUInt16LittleEndian(data.AsSpan(0x3C));
        var result = new List<Symbol>();
        for (int i = 0; i < shnum; i++)
        {
            var sh = data.AsSpan((int)shoff + i * shentsize, shentsize);
            uint type = BinaryPrimitives.ReadUInt32LittleEndian(sh[4..]);
            if (type != 2) continue; // SHT_SYMTAB
            ulong off = BinaryPrimitives.ReadUInt64LittleEndian(sh[0x18..]);
            ulong size = BinaryPrimitives.ReadUInt64LittleEndian(sh[0x20..]);
            uint link = BinaryPrimitives.ReadUInt32LittleEndian(sh[0x28..]);
            ulong entsize = BinaryPrimitives.ReadUInt64LittleEndian(sh[0x38..]);
            var strh = data.AsSpan((int)shoff + (int)link * shentsize, shentsize);
            ulong stroff = BinaryPrimitives.ReadUInt64LittleEndian(strh[0x18..]);
            for (ulong s = 0; s + entsize <= size; s += entsize)
            {
                var e = data.AsSpan((int)(off + s), (int)entsize);
                uint nameOff = BinaryPrimitives.ReadUInt32LittleEndian(e);
                byte info = e[4];
                ushort shndx = BinaryPrimitives.ReadUInt16LittleEndian(e[6..]);
                ulong value = BinaryPrimitives.ReadUInt64LittleEndian(e[8..]);
                ulong symSize = BinaryPrimitives.ReadUInt64LittleEndian(e[16..]);
                int stType = info & 0xF;
                if (shndx == 0 || nameOff == 0) continue;
                int start = (int)(stroff + nameOff);
                int end = Array.IndexOf(data, (byte)0, start);
                string name = Encoding.ASCII.GetString(data, start, end - start);
                result.Add(new Symbol(name, value, symSize, stType == 2));
            }
        }
        return result;
    }
}
