// The values the asm and the C# must agree on live twice, once per language: boot/x86.inc for NASM,
// arch-x86/BootDefs.cs for C#. This reads the include file and holds the two against each other.
using System.Globalization;
using System.Text.RegularExpressions;

namespace Kernel.Tests;

public class BootDefsTests
{
    static readonly Dictionary<string, ulong> Inc = ReadInc();

    static Dictionary<string, ulong> ReadInc()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir != null && !File.Exists(Path.Combine(dir.FullName, "boot", "x86.inc"))) dir = dir.Parent;
        Assert.NotNull(dir);
        var values = new Dictionary<string, ulong>();
        foreach (string line in File.ReadAllLines(Path.Combine(dir!.FullName, "boot", "x86.inc")))
        {
            var m = Regex.Match(line, @"^(\w+)\s+equ\s+(0x[0-9A-Fa-f]+|\d+)\s*(;.*)?$");
            if (!m.Success) continue;
            string v = m.Groups[2].Value;
            values[m.Groups[1].Value] = v.StartsWith("0x") ? ulong.Parse(v[2..], NumberStyles.HexNumber) : ulong.Parse(v);
        }
        return values;
    }

    [Theory]
    [InlineData("SEL_CODE32", Segments.KernelCode32)]
    [InlineData("SEL_CODE64", Segments.KernelCode)]
    [InlineData("SEL_DATA", Segments.KernelData)]
    [InlineData("DESC_CODE32", Segments.Code32Descriptor)]
    [InlineData("DESC_CODE64", Segments.Code64Descriptor)]
    [InlineData("DESC_DATA", Segments.DataDescriptor)]
    [InlineData("PTE_PRESENT", PageTableBits.Present)]
    [InlineData("PTE_WRITE", PageTableBits.Writable)]
    [InlineData("PTE_PWT", PageTableBits.WriteThrough)]
    [InlineData("PTE_PCD", PageTableBits.CacheDisable)]
    [InlineData("PTE_LARGE", PageTableBits.Large)]
    [InlineData("IDENTITY_MAP_GIB", PageTableBits.IdentityMapEnd >> 30)]
    [InlineData("PD_IOAPIC", (ulong)PageTableBits.IoApicLargePage)]
    [InlineData("PD_LOCAL_APIC", (ulong)PageTableBits.LocalApicLargePage)]
    [InlineData("GATE_INTERRUPT", (ulong)Gates.Interrupt)]
    [InlineData("DEBUG_EXIT_PORT", (ulong)DebugExit.Port)]
    public void TheAsmIncludeHoldsTheSameValueAsTheCSharp(string name, ulong expected)
    {
        Assert.True(Inc.ContainsKey(name), $"boot/x86.inc defines no {name}");
        Assert.Equal(expected, Inc[name]);
    }

    [Fact]
    public void TheApicPagesAreTheOnesHoldingTheApicRegisters()
    {
        Assert.Equal(0xFEC00000UL, (ulong)PageTableBits.IoApicLargePage * PageTableBits.LargePageSize);
        Assert.Equal(0xFEE00000UL, (ulong)PageTableBits.LocalApicLargePage * PageTableBits.LargePageSize);
    }

    [Fact]
    public void DescriptorsArePresentRing0WithTheAccessedBitPreset()
    {
        foreach (ulong d in new[] { Segments.Code32Descriptor, Segments.Code64Descriptor, Segments.DataDescriptor })
        {
            Assert.NotEqual(0UL, d & (1UL << 47));          // present
            Assert.Equal(0UL, (d >> 45) & 3);               // DPL 0
            Assert.NotEqual(0UL, d & (1UL << 40));          // accessed: loading never writes the GDT
        }
        Assert.NotEqual(0UL, Segments.Code64Descriptor & (1UL << 53));   // L: 64-bit code
    }

    [Fact]
    public void BugOn_ThrowsNamingTheInvariantOnTheHost()
    {
        Bug.On(false, "never thrown");
        var e = Assert.Throws<InvalidOperationException>(() => Bug.On(true, "every CPU has a slot"));
        Assert.Equal("kernel BUG: every CPU has a slot", e.Message);
    }
}
