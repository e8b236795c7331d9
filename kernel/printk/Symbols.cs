// Names for code addresses, from the kallsyms table the build embedded in the image (the second
// link pass; see tools/Build/KernelBuild.cs). Linux prints the same form: function+0xoff/0xsize.
static unsafe class Symbols
{
    static System.ReadOnlySpan<byte> Table
    {
        get
        {
            ref KernelLayout l = ref KernelLayout.Get;
            return new System.ReadOnlySpan<byte>((void*)l.KallsymsStart, (int)(l.KallsymsEnd - l.KallsymsStart));
        }
    }

    /// <summary>Appends "name+0xoff/0xsize", or the bare hex address when no symbol covers it.</summary>
    public static void Append(ref LogLine line, ulong address) =>
        // The table holds link-time addresses; the capture image runs relocated by its load bias.
        AppendFrom(Table, address - KernelLayout.Get.LoadBias, ref line, address);

    /// <summary>Names an address with another image's table (the capture kernel naming the first kernel's RIPs).</summary>
    public static void AppendFrom(System.ReadOnlySpan<byte> table, ulong linkAddress, ref LogLine line, ulong address)
    {
        if (Kallsyms.Lookup(table, linkAddress, out System.ReadOnlySpan<byte> name, out ulong offset, out ulong size))
        {
            line.Append(name);
            line.Append("+0x");
            line.AppendHex(offset, 0);
            line.Append("/0x");
            line.AppendHex(size, 0);
        }
        else
        {
            line.AppendHex(address, 16);
        }
    }

    public static bool Lookup(ulong address, out System.ReadOnlySpan<byte> name, out ulong offset, out ulong size)
        => Kallsyms.Lookup(Table, address - KernelLayout.Get.LoadBias, out name, out offset, out size);

    public static int Count => Kallsyms.Count(Table);
}
