// The values the asm and the C# must agree on live twice, once per language: boot/x86.inc and
// boot/layout.inc for NASM, arch-x86/BootDefs.cs for C#. This reads the include files and holds the
// two against each other.
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
        foreach (string line in File.ReadAllLines(Path.Combine(dir!.FullName, "boot", "x86.inc"))
                     .Concat(File.ReadAllLines(Path.Combine(dir.FullName, "boot", "layout.inc"))))
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
    [InlineData("MAX_CPUS", (ulong)CpuLimit.MaxCpus)]
    [InlineData("GATE_INTERRUPT", (ulong)Gates.Interrupt)]
    [InlineData("DEBUG_EXIT_PORT", (ulong)DebugExit.Port)]
    public void TheAsmIncludeHoldsTheSameValueAsTheCSharp(string name, ulong expected)
    {
        Assert.True(Inc.ContainsKey(name), $"neither boot/x86.inc nor boot/layout.inc defines {name}");
        Assert.Equal(expected, Inc[name]);
    }

    /// <summary>
    /// The pool (boot/layout.inc) covers the issue's 64 GiB with 2 MiB pages (one page directory per
    /// GiB): a 64 GiB QEMU guest has 61 GiB of RAM above 4 GiB; the first kernel also splits a 2 MiB
    /// page per guard page region (255 CPUs' stack sets), the capture kernel maps a full dump's
    /// 64 GiB window. The QEMU test boots the 64 GiB guest; this holds the arithmetic.
    /// </summary>
    [Fact]
    public void ThePageTablePool_CoversSixtyFourGiBOfRam_AndAWindowAsLarge()
    {
        int pool = (int)Inc["PAGE_TABLE_POOL_PAGES"];
        int ramAbove4G = 61, window = 64, upperLevels = 2;
        int stackSplits = (int)((ulong)CpuLimit.MaxCpus * 72 * 1024 / PageTableBits.LargePageSize) + 2;
        Assert.True(ramAbove4G + stackSplits + upperLevels + 1 <= pool, "the first kernel's pool is too small for 64 GiB");
        Assert.True(ramAbove4G + window + upperLevels + 1 <= pool, "the capture kernel's pool is too small for 64 GiB and its window");
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
