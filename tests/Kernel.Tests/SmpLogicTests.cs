// The pure parts of SMP: the AP trampoline's page, and the local APIC register values the
// kernel writes (x2APIC MSR mapping, ICR encodings, LINT1 per apic_extnmi=).
namespace Kernel.Tests;

public unsafe class SmpLogicTests
{
    static void Map(ref Multiboot.Info info, ref Multiboot.Tables tables, params (ulong Base, ulong Length, uint Type)[] ranges)
    {
        info.RangeCount = ranges.Length;
        for (int i = 0; i < ranges.Length; i++)
        {
            var r = Multiboot.Range(ref tables, i);
            r->Base = ranges[i].Base; r->Length = ranges[i].Length; r->Type = ranges[i].Type;
        }
    }

    [Fact]
    public void Trampoline_TakesLinuxsPage0x8000WhenFree()
    {
        var info = default(Multiboot.Info); var tables = default(Multiboot.Tables);
        Map(ref info, ref tables, (0, 0x9fc00, 1), (0x9fc00, 0x400, 2));
        Assert.Equal(0x8000UL, TrampolinePage.Choose(ref info, ref tables, 0x9fc00, 0x200));
    }

    [Fact]
    public void Trampoline_AvoidsPageZeroTheMultibootAreaAndTheEbda()
    {
        var info = default(Multiboot.Info); var tables = default(Multiboot.Tables);
        // Usable only at 0x0-0x2000 (page 0 and 0x1000) and 0x9000-0x9fc00 (multiboot area, then EBDA at 0x9f000).
        Map(ref info, ref tables, (0, 0x2000, 1), (0x9000, 0x96c00, 1));
        Assert.Equal(0x1000UL, TrampolinePage.Choose(ref info, ref tables, 0x9f000, 0x200));
        Map(ref info, ref tables, (0, 0x1000, 1), (0x9000, 0x96c00, 1));
        Assert.Equal(0xA000UL, TrampolinePage.Choose(ref info, ref tables, 0x9f000, 0x200));
        Map(ref info, ref tables, (0x9000, 0x1000, 1), (0x9f000, 0x1000, 1));
        Assert.Equal(0UL, TrampolinePage.Choose(ref info, ref tables, 0x9f000, 0x200));
    }

    [Fact]
    public void Trampoline_NeverPicksReservedMemory()
    {
        var info = default(Multiboot.Info); var tables = default(Multiboot.Tables);
        Map(ref info, ref tables, (0, 0x9fc00, 2));
        Assert.Equal(0UL, TrampolinePage.Choose(ref info, ref tables, 0, 0x200));
    }

    [Theory]
    [InlineData(ApicRegisters.Id, 0x802u)]
    [InlineData(ApicRegisters.Eoi, 0x80Bu)]
    [InlineData(ApicRegisters.SpuriousVector, 0x80Fu)]
    [InlineData(ApicRegisters.IcrLow, 0x830u)]
    [InlineData(ApicRegisters.LvtLint1, 0x836u)]
    [InlineData(ApicRegisters.TimerDivide, 0x83Eu)]
    [InlineData(ApicRegisters.IcrHigh, 0u)]       // folded into the 64-bit ICR MSR
    [InlineData(ApicRegisters.DestFormat, 0u)]    // no DFR in x2APIC mode
    [InlineData(0x304u, 0u)]                      // not a register boundary
    public void X2ApicMsr_FollowsTheSdmMapping(uint offset, uint msr) => Assert.Equal(msr, ApicRegisters.X2ApicMsr(offset));

    [Fact]
    public void Icr_PlacesTheDestinationForEachMode()
    {
        uint nmi = ApicRegisters.Nmi();
        Assert.Equal(0x0000_4400u, nmi);
        Assert.Equal(0x0300_0000_0000_4400UL, ApicRegisters.Icr(nmi, 3, x2apic: false));
        Assert.Equal(0x0000_0103_0000_4400UL, ApicRegisters.Icr(nmi, 0x103, x2apic: true));
        Assert.Equal(0x000C_4400u, ApicRegisters.Nmi(ApicRegisters.ShorthandAllExcludingSelf));
    }

    [Fact]
    public void InitSipiEncodings_MatchTheMpSpec()
    {
        Assert.Equal(0x0000_C500u, ApicRegisters.InitAssert);
        Assert.Equal(0x0000_8500u, ApicRegisters.InitDeassert);
        Assert.Equal(0x0000_0608u, ApicRegisters.Startup(0x8000));
        Assert.Equal(0x0000_40F1u, ApicRegisters.Fixed(0xF1));
    }

    [Theory]
    [InlineData(0, ApicExtnmiMode.Bsp, false)]
    [InlineData(1, ApicExtnmiMode.Bsp, true)]
    [InlineData(0, ApicExtnmiMode.All, false)]
    [InlineData(5, ApicExtnmiMode.All, false)]
    [InlineData(0, ApicExtnmiMode.None, true)]
    [InlineData(3, ApicExtnmiMode.None, true)]
    public void Lint1_IsNmiAndMaskedAsLinuxDoes(int cpu, ApicExtnmiMode mode, bool masked)
    {
        uint v = ApicRegisters.Lint1(cpu, mode);
        Assert.Equal(ApicRegisters.DeliveryNmi, v & 0x700);
        Assert.Equal(masked, (v & ApicRegisters.LvtMasked) != 0);
    }

    [Fact]
    public void Lint0_IsExtIntOnTheBootCpuOnly()
    {
        Assert.Equal(ApicRegisters.DeliveryExtInt, ApicRegisters.Lint0(0));
        Assert.NotEqual(0u, ApicRegisters.Lint0(1) & ApicRegisters.LvtMasked);
    }
}
