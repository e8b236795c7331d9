// Kallsyms: the build's table writer (tools/Build/KallsymsWriter.cs) against the kernel's reader
// (kernel/printk/Kallsyms.cs): round trips, the edges of every symbol, de-duplication, and malformed tables
// that must be refused or at least never make the reader fault.
namespace Kernel.Tests;

public class KallsymsTests
{
    static readonly (ulong, ulong, string)[] Sample =
    [
        (0x1000, 0x10, "first"),
        (0x1010, 0x20, "second"),
        (0x1040, 0x08, "after_gap"),       // 0x1030..0x103f is in no symbol
        (0x1050, 0, "unsized"),             // runs up to the next symbol
        (0x1080, 0x40, "sized_after_unsized"),
        (0x2000, 0, "last_unsized"),        // nothing after it
    ];

    static string? Lookup(byte[] table, ulong address, out ulong offset, out ulong size)
    {
        if (!Kallsyms.Lookup(table, address, out var name, out offset, out size)) return null;
        return Ascii.Of(name);
    }

    static string? Describe(byte[] table, ulong address)
    {
        string? name = Lookup(table, address, out ulong offset, out ulong size);
        return name == null ? null : $"{name}+0x{offset:x}/0x{size:x}";
    }

    [Fact]
    public void RoundTrip_EverySymbolIsFoundAtItsFirstAndLastByte()
    {
        var table = KallsymsWriter.Build(Sample);
        Assert.True(Kallsyms.Validate(table));
        Assert.Equal(6, Kallsyms.Count(table));
        Assert.Equal("first+0x0/0x10", Describe(table, 0x1000));
        Assert.Equal("first+0xf/0x10", Describe(table, 0x100f));
        Assert.Equal("second+0x0/0x20", Describe(table, 0x1010));
        Assert.Equal("second+0x1f/0x20", Describe(table, 0x102f));
        Assert.Equal("after_gap+0x7/0x8", Describe(table, 0x1047));
        Assert.Equal("sized_after_unsized+0x3f/0x40", Describe(table, 0x10bf));
    }

    [Fact]
    public void Addresses_JustPastASymbolOrBetweenSymbolsOrBeforeTheFirstAreNotFound()
    {
        var table = KallsymsWriter.Build(Sample);
        Assert.Null(Describe(table, 0x0fff));
        Assert.Null(Describe(table, 0));
        Assert.Null(Describe(table, 0x1030));        // just past "second"
        Assert.Null(Describe(table, 0x103f));        // last byte of the gap
        Assert.Null(Describe(table, 0x1048));        // just past "after_gap"
        Assert.Null(Describe(table, 0x10c0));        // just past "sized_after_unsized"
        Assert.Null(Describe(table, 0x1fff));
    }

    [Fact]
    public void ZeroSizeSymbol_ExtendsToTheNextSymbol()
    {
        var table = KallsymsWriter.Build(Sample);
        Assert.Equal("unsized+0x0/0x30", Describe(table, 0x1050));
        Assert.Equal("unsized+0x2f/0x30", Describe(table, 0x107f));
        Assert.Equal("sized_after_unsized+0x0/0x40", Describe(table, 0x1080));
    }

    [Fact]
    public void LastZeroSizeSymbol_CoversOnlyItsOwnAddress()
    {
        var table = KallsymsWriter.Build(Sample);
        Assert.Equal("last_unsized+0x0/0x0", Describe(table, 0x2000));
        Assert.Null(Describe(table, 0x2001));
        Assert.Null(Describe(table, ulong.MaxValue));
    }

    [Fact]
    public void SymbolAtTheTopOfTheAddressSpace_DoesNotOverflow()
    {
        var table = KallsymsWriter.Build([(0xFFFFFFFFFFFFFFF0, 0x20, "top"), (0xFFFFFFFF80000000, 0x10, "kernel")]);
        Assert.Equal("top+0xf/0x20", Describe(table, ulong.MaxValue));
        Assert.Equal("top+0x0/0x20", Describe(table, 0xFFFFFFFFFFFFFFF0));
        Assert.Equal("kernel+0x0/0x10", Describe(table, 0xFFFFFFFF80000000));
        Assert.Null(Describe(table, 0xFFFFFFFF80000010));
    }

    [Fact]
    public void LookupName_FindsTheAddressAndSize()
    {
        var table = KallsymsWriter.Build(Sample);
        Assert.True(Kallsyms.LookupName(table, "after_gap"u8, out ulong address, out ulong size));
        Assert.Equal(0x1040UL, address);
        Assert.Equal(8UL, size);
        Assert.True(Kallsyms.LookupName(table, "last_unsized"u8, out address, out size));
        Assert.Equal(0x2000UL, address);
        Assert.Equal(0UL, size);
        Assert.False(Kallsyms.LookupName(table, "after"u8, out _, out _));
        Assert.False(Kallsyms.LookupName(table, "after_gap_"u8, out _, out _));
        Assert.False(Kallsyms.LookupName(table, default, out _, out _));
    }

    [Fact]
    public void Entry_ReturnsStoredEntriesInAddressOrder()
    {
        var table = KallsymsWriter.Build(Enumerable.Reverse(Sample));
        for (int i = 0; i < Sample.Length; i++)
        {
            Assert.True(Kallsyms.Entry(table, i, out ulong address, out ulong size, out var name));
            Assert.Equal(Sample[i], (address, size, Ascii.Of(name)));
        }
        Assert.False(Kallsyms.Entry(table, Sample.Length, out _, out _, out _));
        Assert.False(Kallsyms.Entry(table, -1, out _, out _, out _));
    }

    [Fact]
    public void Writer_PrefersTheSizedThenTheShorterThenTheSmallerNameAtOneAddress()
    {
        var table = KallsymsWriter.Build([
            (0x100, 0, "alias_unsized"),
            (0x100, 0x10, "longer_name"),
            (0x100, 0x10, "short"),
            (0x100, 0x30, "zzzzz"),
            (0x200, 0x8, "b_name"),
            (0x200, 0x8, "a_name"),
            (0x300, 0, "only_unsized_b"),
            (0x300, 0, "only_unsized_a"),
        ]);
        Assert.True(Kallsyms.Validate(table));
        Assert.Equal(3, Kallsyms.Count(table));
        Assert.Equal("short+0x0/0x10", Describe(table, 0x100));
        Assert.Equal("a_name+0x0/0x8", Describe(table, 0x200));
        Assert.Equal("only_unsized_a+0x0/0x0", Describe(table, 0x300));
    }

    [Fact]
    public void Writer_OutputIsIndependentOfInputOrder()
    {
        var random = new Random(3);
        var symbols = new List<(ulong, ulong, string)>();
        for (int i = 0; i < 500; i++)
            symbols.Add(((ulong)random.Next(0, 200) * 16, (ulong)random.Next(0, 3) * 8, "sym" + random.Next(0, 50)));
        var expected = KallsymsWriter.Build(symbols);
        for (int k = 0; k < 10; k++)
        {
            var shuffled = symbols.OrderBy(_ => random.Next()).ToList();
            Assert.Equal(expected, KallsymsWriter.Build(shuffled));
        }
        Assert.True(Kallsyms.Validate(expected));
    }

    [Fact]
    public void Writer_DropsNamelessSymbolsClampsSizesAndSanitisesNames()
    {
        var table = KallsymsWriter.Build([(0x10, 8, ""), (0x20, 0x1_0000_0000, "huge"), (0x40, 4, "caf\u00e9\n")]);
        Assert.Equal(2, Kallsyms.Count(table));
        Assert.True(Kallsyms.LookupName(table, "huge"u8, out _, out ulong size));
        Assert.Equal((ulong)uint.MaxValue, size);
        Assert.Equal("caf??+0x0/0x4", Describe(table, 0x40));
        Assert.Null(Describe(table, 0x10));
    }

    [Fact]
    public void Writer_SharesIdenticalNames()
    {
        var table = KallsymsWriter.Build([(0x10, 8, "dup"), (0x20, 8, "dup"), (0x30, 8, "other")]);
        Assert.Equal(16 + 3 * 16 + "dup\0other\0".Length, table.Length);
        Assert.Equal("dup+0x1/0x8", Describe(table, 0x21));
    }

    [Fact]
    public void EmptyTable_IsValidAndFindsNothing()
    {
        var table = KallsymsWriter.Build([]);
        Assert.Equal(16, table.Length);
        Assert.True(Kallsyms.Validate(table));
        Assert.Equal(0, Kallsyms.Count(table));
        Assert.Null(Describe(table, 0x1000));
        Assert.False(Kallsyms.LookupName(table, "x"u8, out _, out _));
    }

    [Fact]
    public void Header_IsTheDocumentedLayout()
    {
        var table = KallsymsWriter.Build([(0x1122334455667788, 0x99, "f")]);
        Assert.Equal("KSYM", System.Text.Encoding.ASCII.GetString(table, 0, 4));
        Assert.Equal(0x4D59534Bu, BitConverter.ToUInt32(table, 0));
        Assert.Equal(1u, BitConverter.ToUInt32(table, 4));
        Assert.Equal(32u, BitConverter.ToUInt32(table, 8));
        Assert.Equal(2u, BitConverter.ToUInt32(table, 12));
        Assert.Equal(0x1122334455667788UL, BitConverter.ToUInt64(table, 16));
        Assert.Equal(0x99u, BitConverter.ToUInt32(table, 24));
        Assert.Equal(0u, BitConverter.ToUInt32(table, 28));
        Assert.Equal((byte)'f', table[32]);
        Assert.Equal(0, table[33]);
    }

    [Fact]
    public void BinarySearch_AgreesWithALinearScanOnARandomTable()
    {
        var random = new Random(11);
        var symbols = new List<(ulong Address, ulong Size, string Name)>();
        ulong at = 0xffffffff80000000;
        for (int i = 0; i < 1000; i++)
        {
            at += (ulong)random.Next(1, 64);
            ulong size = random.Next(4) == 0 ? 0 : (ulong)random.Next(1, 48);
            symbols.Add((at, size, "f" + i));
        }
        var table = KallsymsWriter.Build(symbols);
        Assert.True(Kallsyms.Validate(table));
        for (int k = 0; k < 20000; k++)
        {
            ulong address = 0xffffffff80000000 + (ulong)random.Next(0, 40000);
            string? expected = null;
            for (int i = symbols.Count - 1; i >= 0; i--)
            {
                if (symbols[i].Address > address) continue;
                ulong size = symbols[i].Size != 0 ? symbols[i].Size
                           : i + 1 < symbols.Count ? symbols[i + 1].Address - symbols[i].Address : 0;
                if (address - symbols[i].Address < size || (size == 0 && address == symbols[i].Address))
                    expected = $"{symbols[i].Name}+0x{address - symbols[i].Address:x}/0x{size:x}";
                break;
            }
            Assert.Equal(expected, Describe(table, address));
        }
    }

    static byte[] Damaged(Action<byte[]> damage)
    {
        var table = KallsymsWriter.Build(Sample);
        damage(table);
        return table;
    }

    [Fact]
    public void MalformedTables_AreRefused()
    {
        var cases = new[]
        {
            Damaged(t => t[0] ^= 0xff),                                                 // magic
            Damaged(t => BitConverter.TryWriteBytes(t.AsSpan(4), 7u)),                   // count past the entries
            Damaged(t => BitConverter.TryWriteBytes(t.AsSpan(4), 0xffffffffu)),          // count overflow
            Damaged(t => BitConverter.TryWriteBytes(t.AsSpan(8), 40u)),                  // names inside the entries
            Damaged(t => BitConverter.TryWriteBytes(t.AsSpan(12), 0x7fffffffu)),         // names past the end
            Damaged(t => BitConverter.TryWriteBytes(t.AsSpan(8), 0xfffffff0u)),          // offset + size overflow
            Damaged(t => BitConverter.TryWriteBytes(t.AsSpan(16 + 12), 5000u)),          // name offset outside the blob
            Damaged(t => t[^1] = (byte)'x'),                                             // last name unterminated
            Damaged(t => BitConverter.TryWriteBytes(t.AsSpan(16 + 16), 0x0800UL)),       // entries out of order
            Damaged(t => BitConverter.TryWriteBytes(t.AsSpan(16 + 16), 0x1000UL)),       // duplicate address
            new byte[15],
            Array.Empty<byte>(),
        };
        foreach (var table in cases)
        {
            Assert.False(Kallsyms.Validate(table));
            _ = Describe(table, 0x1000);   // must not throw
            _ = Kallsyms.LookupName(table, "first"u8, out _, out _);
        }
        // Header-level damage is caught by every entry point, not only by Validate.
        Assert.Equal(0, Kallsyms.Count(cases[1]));
        Assert.Null(Describe(cases[1], 0x1000));
        Assert.Null(Describe(cases[4], 0x1000));
        Assert.False(Kallsyms.LookupName(cases[0], "first"u8, out _, out _));
    }

    [Fact]
    public void TruncatedTable_IsRefusedAtEveryLength()
    {
        var table = KallsymsWriter.Build(Sample);
        for (int length = 0; length < table.Length; length++)
        {
            var cut = table.AsSpan(0, length);
            Assert.False(Kallsyms.Validate(cut));
            Assert.Equal(0, Kallsyms.Count(cut));
        }
    }

    [Fact]
    public void RandomAndMutatedTables_NeverMakeTheReaderThrow()
    {
        var random = new Random(777);
        var pristine = KallsymsWriter.Build(Sample);
        for (int iteration = 0; iteration < 20000; iteration++)
        {
            byte[] table;
            if (iteration % 2 == 0)
            {
                table = (byte[])pristine.Clone();
                for (int k = random.Next(1, 4); k > 0; k--) table[random.Next(table.Length)] = (byte)random.Next(256);
            }
            else
            {
                table = new byte[random.Next(0, 200)];
                random.NextBytes(table);
                if (table.Length >= 16)
                {
                    BitConverter.TryWriteBytes(table.AsSpan(0), Kallsyms.Magic);
                    BitConverter.TryWriteBytes(table.AsSpan(4), (uint)random.Next(0, 12));
                    BitConverter.TryWriteBytes(table.AsSpan(8), (uint)random.Next(0, 200));
                    BitConverter.TryWriteBytes(table.AsSpan(12), (uint)random.Next(0, 200));
                }
            }
            bool valid = Kallsyms.Validate(table);
            int count = Kallsyms.Count(table);
            Assert.InRange(count, 0, Math.Max(0, (table.Length - 16) / 16));
            for (int k = 0; k < 8; k++)
            {
                ulong address = random.Next(2) == 0 ? (ulong)random.NextInt64() : 0x1000 + (ulong)random.Next(0, 0x1100);
                if (Kallsyms.Lookup(table, address, out var name, out ulong offset, out ulong size))
                {
                    Assert.True(size == 0 ? offset == 0 : offset < size);
                    Assert.True(name.Length < table.Length);
                }
            }
            for (int i = 0; i < count; i++)
            {
                if (Kallsyms.Entry(table, i, out _, out _, out var name) && valid)
                    Assert.True(Kallsyms.LookupName(table, name, out _, out _));
            }
        }
    }
}
