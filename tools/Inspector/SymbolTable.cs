// Names for code addresses, in the form Linux's oops uses: function+0xoff/0xsize. The table is the
// kernel's own kallsyms format (kernel/printk/Kallsyms.cs), taken either from the dump's memory (the first
// kernel's embedded table, found through VMCOREINFO's SYMBOL(kallsyms)) or built from --kernel's
// ELF symbols; one lookup serves both.
using System.Text;

namespace Nmidump.Inspector;

public sealed class SymbolTable
{
    readonly byte[] _table;

    /// <summary>Where the names come from, for the report ("embedded kallsyms at 0x11d0e0", "out/kernel.elf").</summary>
    public string Source { get; }
    public int Count => Kallsyms.Count(_table);

    public SymbolTable(byte[] table, string source)
    {
        _table = table;
        Source = source;
    }

    /// <summary>The symbol covering <paramref name="address"/>: its name, start, and size (0 if unknown).</summary>
    public bool Lookup(ulong address, out string name, out ulong start, out ulong size)
    {
        if (Kallsyms.Lookup(_table, address, out ReadOnlySpan<byte> n, out ulong offset, out size))
        {
            name = Encoding.ASCII.GetString(n);
            start = address - offset;
            return true;
        }
        name = "";
        start = size = 0;
        return false;
    }

    /// <summary>"name+0xoff/0xsize", or null when no symbol covers the address.</summary>
    public string? Describe(ulong address)
        => Lookup(address, out string name, out ulong start, out ulong size) ? $"{name}+0x{address - start:x}/0x{size:x}" : null;
}
