// ACPI discovery and parsing (arch-x86/Acpi*.cs): QEMU 7.2's real tables, a synthetic machine
// with everything the kernel uses, each way a table can be wrong, and a seeded fuzz loop. All
// memory is AcpiMemory, whose guard pages turn any read outside the window into a crash.
using System.Buffers.Binary;
using static Kernel.Tests.AcpiBuilder;
using static Kernel.Tests.AcpiFixture;

namespace Kernel.Tests;

public class AcpiTests
{
    static List<uint> ApicIds(AcpiInfo info)
    {
        var ids = new List<uint>();
        for (int i = 0; i < info.CpuCount; i++) ids.Add(info.Cpu(i).ApicId);
        return ids;
    }

    // ---- QEMU 7.2's own tables ---------------------------------------------------------------

    [Fact]
    public void QemuPc_FourCpusIoApicPm1aAndS5()
    {
        using var m = LoadCapture("acpi-qemu72-pc.bin", out uint ebda);
        var r = Parse(m, ebda);
        var info = r.Info;

        Assert.Empty(r.Warnings);
        Assert.Equal(0xF59D0UL, info.RsdpAddress);
        Assert.Equal(0, info.RsdpRevision);
        Assert.False(info.RootIsXsdt);
        Assert.True(info.MadtValid);
        Assert.Equal(0xFEE00000UL, info.LocalApicAddress);
        Assert.Equal([0u, 1, 2, 3], ApicIds(info));
        Assert.All(Enumerable.Range(0, 4), i => Assert.True(info.Cpu(i).Enabled));
        Assert.Equal(1, info.IoApicCount);
        Assert.Equal(0xFEC00000u, info.IoApic(0).Address);
        Assert.Equal(0u, info.IoApic(0).GsiBase);
        Assert.Equal(1, info.NmiCount);
        Assert.True(info.Nmi(0).AllProcessors);
        Assert.Equal(1, info.Nmi(0).Lint);

        // i440FX: a revision 1 FADT (116 bytes), so there is no reset register at all.
        Assert.True(info.FadtValid);
        Assert.Equal(1, info.FadtRevision);
        Assert.Equal(116u, info.FadtLength);
        Assert.Equal(0x604, info.Pm1aControl);
        Assert.Equal(0, info.Pm1bControl);
        Assert.False(info.ResetValid);
        Assert.Equal(0x32, info.Century);
        Assert.True(info.DsdtValid);
        Assert.True(info.S5Found);
        Assert.Equal(0, info.SlpTypA);
        Assert.Equal(0, info.SlpTypB);
        Assert.True(info.CanPowerOff);

        Assert.Equal("ACPI: RSDP 0x00000000000F59D0 000014 (v00 BOCHS )", r.Lines[0]);
        Assert.Equal("ACPI: RSDT 0x0000000003FE1B94 000034 (v01 BOCHS  BXPC     00000001 BXPC 00000001)", r.Lines[1]);
        Assert.Contains("ACPI: APIC 0x0000000003FE1AA4 000090 (v01 BOCHS  BXPC     00000001 BXPC 00000001)", r.Lines);
        Assert.Contains("ACPI: LAPIC address 0xfee00000", r.Lines);
        Assert.Contains("ACPI: LAPIC_NMI (acpi_id[0xff] dfl dfl lint[0x1])", r.Lines);
        Assert.Contains("ACPI: 4 CPUs (APIC IDs 0-3), 1 IOAPIC at 0xfec00000 (GSI 0)", r.Lines);
        Assert.Equal("ACPI: PM1a_CNT 0x604, no reset register, S5 SLP_TYP 0/0, century CMOS 0x32", r.Lines[^1]);
    }

    [Fact]
    public void QemuQ35_ResetRegisterAndXPm1a()
    {
        using var m = LoadCapture("acpi-qemu72-q35.bin", out uint ebda);
        var r = Parse(m, ebda);
        var info = r.Info;

        Assert.Empty(r.Warnings);
        Assert.Equal([0u, 1, 2, 3], ApicIds(info));
        Assert.Equal(0xFEC00000u, info.IoApic(0).Address);
        Assert.Equal(3, info.FadtRevision);
        Assert.Equal(244u, info.FadtLength);
        Assert.Equal(0x604, info.Pm1aControl);
        Assert.True(info.ResetValid);
        Assert.Equal(Acpi.GasSystemIo, info.ResetSpace);
        Assert.Equal(0xCF9UL, info.ResetAddress);
        Assert.Equal(0x0F, info.ResetValue);
        Assert.True(info.S5Found);
        Assert.Equal(0, info.SlpTypA);
        Assert.Equal("ACPI: PM1a_CNT 0x604, reset register 0xcf9 (I/O) value 0x0f, S5 SLP_TYP 0/0, century CMOS 0x32", r.Lines[^1]);
    }

    [Fact]
    public void QemuPc_PoweroffValueIsSlpEnWithType0()
    {
        using var m = LoadCapture("acpi-qemu72-pc.bin", out uint ebda);
        var info = Parse(m, ebda).Info;
        Assert.Equal(0x2000, Acpi.Pm1ControlSleep(0, info.SlpTypA));
    }

    // ---- The synthetic machine ---------------------------------------------------------------

    [Fact]
    public void RsdpV0_WalksRsdt_AndReadsEveryTable()
    {
        using var m = Machine(rsdpRevision: 0);
        var r = Parse(m);
        var info = r.Info;

        Assert.Empty(r.Warnings);
        Assert.Equal(RsdpAt, info.RsdpAddress);
        Assert.Equal(RsdtAt, info.RootAddress);
        Assert.False(info.RootIsXsdt);
        Assert.Equal(MadtAt, info.MadtAddress);
        Assert.Equal(FadtAt, info.FadtAddress);
        Assert.Equal(DsdtAt, info.DsdtAddress);

        // APIC 4 is neither enabled nor online-capable: counted, not kept. APIC 6 is kept, not started.
        Assert.Equal([0u, 2, 6], ApicIds(info));
        Assert.True(info.Cpu(0).Enabled);
        Assert.True(info.Cpu(1).Enabled);
        Assert.False(info.Cpu(2).Enabled);
        Assert.Equal(3u, info.Cpu(2).AcpiUid);
        Assert.Equal(1, info.CpusDisabled);
        Assert.Equal(1, info.IoApicCount);
        Assert.Equal(2u, info.IoApic(0).Id);
        Assert.Equal(0xFEC00000u, info.IoApic(0).Address);
        Assert.Equal(1, info.NmiCount);
        Assert.Equal((ushort)5, info.Nmi(0).Flags);

        Assert.Equal(0xB004, info.Pm1aControl);
        Assert.True(info.ResetValid);
        Assert.Equal(0xCF9UL, info.ResetAddress);
        Assert.Equal(6, info.ResetValue);
        Assert.Equal(0x32, info.Century);
        Assert.True(info.S5Found);
        Assert.Equal(5, info.SlpTypA);
        Assert.Equal(5, info.SlpTypB);

        Assert.Equal("ACPI: RSDP 0x00000000000F5A10 000014 (v00 TESTOE)", r.Lines[0]);
        Assert.Contains("ACPI: LAPIC_NMI (acpi_id[0xff] high edge lint[0x1])", r.Lines);
        Assert.Contains("ACPI: 2 CPUs (APIC IDs 0 2), 1 online-capable (APIC IDs 6), 1 disabled, 1 IOAPIC at 0xfec00000 (GSI 0)", r.Lines);
        Assert.Equal("ACPI: PM1a_CNT 0xb004, reset register 0xcf9 (I/O) value 0x06, S5 SLP_TYP 5/5, century CMOS 0x32", r.Lines[^1]);
    }

    [Fact]
    public void RsdpV2_PrefersXsdt()
    {
        using var m = Machine(rsdpRevision: 2);
        // Point the RSDT at a different MADT: only the XSDT's may be used.
        m.Write(0x105000, Madt(0xFEE00000, LocalApic(0, 9, Acpi.MadtEnabled)));
        m.Write(RsdtAt, Rsdt((uint)FadtAt, 0x105000));
        var r = Parse(m);

        Assert.Empty(r.Warnings);
        Assert.True(r.Info.RootIsXsdt);
        Assert.Equal(XsdtAt, r.Info.RootAddress);
        Assert.Equal(2, r.Info.RsdpRevision);
        Assert.Equal([0u, 2, 6], ApicIds(r.Info));
        Assert.Equal("ACPI: RSDP 0x00000000000F5A10 000024 (v02 TESTOE)", r.Lines[0]);
        Assert.StartsWith("ACPI: XSDT 0x0000000000100100 00003C (v01 TESTOE TESTTABL 00000001 TEST 00000001)", r.Lines[1]);
    }

    [Fact]
    public void RsdpV2_WithZeroXsdtAddress_UsesRsdt()
    {
        using var m = Machine(rsdpRevision: 0);
        m.Write(RsdpAt, Rsdp(2, (uint)RsdtAt, 0));
        var r = Parse(m);
        Assert.Empty(r.Warnings);
        Assert.False(r.Info.RootIsXsdt);
        Assert.Equal(RsdtAt, r.Info.RootAddress);
        Assert.Equal(3, r.Info.CpuCount);
    }

    [Fact]
    public void BadXsdt_FallsBackToRsdt()
    {
        using var m = Machine(rsdpRevision: 2);
        m.At(XsdtAt + 40, 1)[0] ^= 0xFF;
        var r = Parse(m);
        Assert.False(r.Info.RootIsXsdt);
        Assert.Equal(3, r.Info.CpuCount);
        string w = Assert.Single(r.Warnings);
        Assert.StartsWith("ACPI: XSDT at 0x00100100: checksum 0x", w);
        Assert.EndsWith("; using the RSDT", w);
    }

    [Fact]
    public void RsdpInEbda_IsFoundBeforeTheBiosArea()
    {
        using var m = Machine();
        m.Write(Ebda + 0x40, Rsdp(0, (uint)RsdtAt, oem: "EBDA  "));
        var r = Parse(m);
        Assert.Equal(Ebda + 0x40, r.Info.RsdpAddress);
        Assert.Equal("ACPI: RSDP 0x000000000009FC40 000014 (v00 EBDA  )", r.Lines[0]);
    }

    [Fact]
    public void RsdpBeyondTheEbdasFirstKiB_IsNotSearchedThere()
    {
        using var m = Machine();
        m.At(RsdpAt, 20).Clear();
        m.Write(Ebda + 0x400, Rsdp(0, (uint)RsdtAt));
        var r = Parse(m);
        Assert.Equal(0UL, r.Info.RsdpAddress);
        Assert.Equal("ACPI: no RSDP found in the EBDA or 0xE0000-0xFFFFF; using the boot CPU only, no ACPI power-off or reset",
                     Assert.Single(r.Warnings));
    }

    [Fact]
    public void WindowHoldingOnlyPartOfTheBiosArea_StillFindsTheRsdp()
    {
        // The area cannot be mapped whole, so the scan maps paragraph by paragraph.
        using var m = Machine();
        var r = Parse(m.Subwindow(0xF5000, MemoryEnd), EbdaSegment);
        Assert.Equal(RsdpAt, r.Info.RsdpAddress);
        Assert.Equal(3, r.Info.CpuCount);
    }

    [Fact]
    public void RsdpOffA16ByteBoundary_IsNotFound()
    {
        using var m = Machine();
        m.At(RsdpAt, 20).Clear();
        m.Write(RsdpAt + 4, Rsdp(0, (uint)RsdtAt));
        var r = Parse(m);
        Assert.Equal(0UL, r.Info.RsdpAddress);
        Assert.Equal(0, r.Info.CpuCount);
    }

    [Fact]
    public void BadRsdpChecksum_KeepsSearching_AndReportsNoneFound()
    {
        using var m = Machine();
        m.At(RsdpAt + 8, 1)[0] ^= 0x55;
        var r = Parse(m);
        Assert.Equal(0UL, r.Info.RsdpAddress);
        Assert.False(r.Info.MadtValid);
        Assert.Equal(2, r.Warnings.Count);
        Assert.StartsWith("ACPI: RSDP at 0x000f5a10: checksum 0x", r.Warnings[0]);
        Assert.EndsWith("; skipped", r.Warnings[0]);
        Assert.StartsWith("ACPI: no RSDP found", r.Warnings[1]);
    }

    [Fact]
    public void BadRsdpChecksum_AGoodOneFurtherOnIsUsed()
    {
        using var m = Machine();
        m.At(RsdpAt + 8, 1)[0] ^= 0x55;
        m.Write(0xFFFF0 - 0x10, Rsdp(0, (uint)RsdtAt));
        var r = Parse(m);
        Assert.Equal(0xFFFE0UL, r.Info.RsdpAddress);
        Assert.Single(r.Warnings);
        Assert.Equal(3, r.Info.CpuCount);
    }

    [Fact]
    public void BadExtendedRsdpChecksum_RejectsARevision2Rsdp()
    {
        using var m = Machine(rsdpRevision: 2);
        m.At(RsdpAt + 33, 1)[0] = 0x77;  // reserved byte, covered only by the extended checksum
        var r = Parse(m);
        Assert.Equal(0UL, r.Info.RsdpAddress);
        Assert.StartsWith("ACPI: RSDP at 0x000f5a10: extended checksum", r.Warnings[0]);
    }

    [Fact]
    public void MadtBadChecksum_IsReportedByName_AndNoCpuIsTrusted()
    {
        using var m = Machine();
        var madt = m.At(MadtAt, 64);
        byte stored = madt[9];
        madt[55] ^= 0x01;   // the second processor's APIC ID 2 -> 3
        var r = Parse(m);
        Assert.False(r.Info.MadtValid);
        Assert.Equal(0, r.Info.CpuCount);
        Assert.Equal(0, r.Info.IoApicCount);
        Assert.Equal(0UL, r.Info.MadtAddress);
        byte should = (byte)(stored - 1);
        Assert.Equal($"ACPI: MADT (APIC) at 0x00101000: checksum 0x{stored:x2} wrong, should be 0x{should:x2}; using the boot CPU only",
                     Assert.Single(r.Warnings));
        Assert.True(r.Info.S5Found);  // the FADT and DSDT are unaffected
    }

    [Theory]
    [InlineData(0, "has a length below 2")]
    [InlineData(1, "has a length below 2")]
    [InlineData(200, "runs past the table end")]
    [InlineData(6, "is too short for its type")]
    public void MadtEntryWithBadLength_StopsTheWalk_AndVoidsTheMadt(byte length, string problem)
    {
        var madt = Madt(0xFEE00000, LocalApic(0, 0, 1), LocalApic(1, 1, 1), IoApic(0, 0xFEC00000, 0));
        madt[44 + 8 + 1] = length;   // the second processor entry
        FixChecksum(madt);
        using var m = Machine(madt: madt);
        var r = Parse(m);
        Assert.False(r.Info.MadtValid);
        Assert.Equal(0, r.Info.CpuCount);
        Assert.Equal(0, r.Info.IoApicCount);
        Assert.Equal($"ACPI: MADT (APIC) at 0x00101000: entry at offset 0x34 (type 0, length {length}) {problem}; using the boot CPU only",
                     Assert.Single(r.Warnings));
    }

    [Fact]
    public void MadtCutInsideAnEntryHeader_StopsTheWalk()
    {
        var madt = Madt(0xFEE00000, LocalApic(0, 0, 1), [0x00]);  // one stray byte at the end
        using var m = Machine(madt: madt);
        var r = Parse(m);
        Assert.False(r.Info.MadtValid);
        Assert.Contains("entry at offset 0x34 (type 0, length 0) is cut off by the table end", Assert.Single(r.Warnings));
    }

    [Fact]
    public void MadtWithNoProcessors_IsReported()
    {
        using var m = Machine(madt: Madt(0xFEE00000, IoApic(0, 0xFEC00000, 0), LocalApic(0, 1, 0)));
        var r = Parse(m);
        Assert.True(r.Info.MadtValid);
        Assert.Equal(0, r.Info.CpuCount);
        Assert.Equal(1, r.Info.IoApicCount);
        Assert.Equal("ACPI: MADT lists no processors; using the boot CPU only", Assert.Single(r.Warnings));
        Assert.DoesNotContain(r.Lines, l => l.Contains("CPUs ("));
    }

    [Fact]
    public void MadtWithMoreCpusThanItKeeps_KeepsTheFirst_AndCountsTheRest()
    {
        var entries = Enumerable.Range(0, AcpiInfo.MaxCpus + 6).Select(i => X2Apic((uint)(0x100 + i), 1, (uint)i)).ToArray();
        // 8 KiB of entries: out of the default table slots' way.
        using var m = Machine(madt: []);
        m.Write(0x110000, Madt(0xFEE00000, entries));
        m.Write(RsdtAt, Rsdt((uint)FadtAt, 0x110000));
        var r = Parse(m);
        Assert.Equal(AcpiInfo.MaxCpus, r.Info.CpuCount);
        Assert.Equal(6, r.Info.CpusOverLimit);
        Assert.Equal(0x100u + AcpiInfo.MaxCpus - 1, r.Info.Cpu(AcpiInfo.MaxCpus - 1).ApicId);
        Assert.Equal(0u, r.Info.Cpu(AcpiInfo.MaxCpus).ApicId);   // out of range reads as empty, not as memory past the buffer
        Assert.Equal($"ACPI: MADT lists {AcpiInfo.MaxCpus + 6} CPUs; only the first {AcpiInfo.MaxCpus} are kept", Assert.Single(r.Warnings));
    }

    [Fact]
    public void MadtListingAnApicIdTwice_KeepsTheFirst()
    {
        using var m = Machine(madt: Madt(0xFEE00000, LocalApic(0, 0, 1), LocalApic(1, 1, 1), LocalApic(2, 1, 1)));
        var r = Parse(m);
        Assert.Equal([0u, 1], ApicIds(r.Info));
        Assert.Equal(1u, r.Info.Cpu(1).AcpiUid);
        Assert.Equal("ACPI: MADT (APIC) at 0x00101000 lists APIC ID 1 twice; the second is ignored", Assert.Single(r.Warnings));
    }

    [Fact]
    public void X2ApicEntries_AreKeptAboveId255_AndIgnoredBelowWhenLocalApicsListCpus()
    {
        using var m = Machine(madt: Madt(0xFEE00000,
            LocalApic(0, 0, 1), LocalApic(1, 1, 1), X2Apic(1, 1, 1), X2Apic(300, 1, 7), X2ApicNmi(0xFFFFFFFF, 0xD, 1),
            LocalApic(2, 0xFF, 1)));
        var r = Parse(m);
        Assert.Empty(r.Warnings);
        Assert.Equal([0u, 1, 300], ApicIds(r.Info));
        Assert.True(r.Info.Cpu(2).X2Apic);
        Assert.Equal(7u, r.Info.Cpu(2).AcpiUid);
        Assert.False(r.Info.Cpu(0).X2Apic);
        AcpiNmi nmi = r.Info.Nmi(0);
        Assert.True(nmi.X2Apic);
        Assert.True(nmi.AllProcessors);
        Assert.Contains("ACPI: X2APIC_NMI (uid[0xffffffff] high level lint[0x1])", r.Lines);
    }

    [Fact]
    public void X2ApicOnlyMadt_KeepsLowIds()
    {
        using var m = Machine(madt: Madt(0xFEE00000, X2Apic(0, 1, 0), X2Apic(1, 2, 1)));
        var r = Parse(m);
        Assert.Equal([0u, 1], ApicIds(r.Info));
        Assert.False(r.Info.Cpu(1).Enabled);
    }

    [Fact]
    public void LocalApicAddressOverride_Replaces32BitAddress()
    {
        using var m = Machine(madt: Madt(0xFEE00000, LocalApic(0, 0, 1), LapicOverride(0x1_FEE0_0000)));
        var r = Parse(m);
        Assert.Equal(0x1_FEE0_0000UL, r.Info.LocalApicAddress);
        Assert.Contains("ACPI: LAPIC address 0x1fee00000", r.Lines);
    }

    [Fact]
    public void UnknownMadtEntryTypes_AreSkippedByLength()
    {
        byte[] unknown = [0x7F, 7, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF];
        using var m = Machine(madt: Madt(0xFEE00000, unknown, LocalApic(0, 0, 1), [0x10, 2], LocalApic(1, 3, 1)));
        var r = Parse(m);
        Assert.Empty(r.Warnings);
        Assert.Equal([0u, 3], ApicIds(r.Info));
    }

    [Fact]
    public void MoreThan8IoApics_KeepsTheFirst8()
    {
        var entries = Enumerable.Range(0, 10).Select(i => IoApic((byte)i, 0xFEC00000 + (uint)i * 0x1000, (uint)i * 24))
            .Prepend(LocalApic(0, 0, 1)).ToArray();
        using var m = Machine(madt: Madt(0xFEE00000, entries));
        var r = Parse(m);
        Assert.Equal(8, r.Info.IoApicCount);
        Assert.Equal(2, r.Info.IoApicsOverLimit);
        Assert.Equal(7u * 24, r.Info.IoApic(7).GsiBase);
        Assert.Contains("more than 8 IOAPICs", Assert.Single(r.Warnings));
    }

    [Fact]
    public void TableLengthBeyondTheWindow_IsReported()
    {
        using var m = Machine();
        ulong at = MemoryEnd - 64;     // the header fits, the claimed length does not
        m.Write(at, Madt(0xFEE00000, LocalApic(0, 0, 1)));
        BinaryPrimitives.WriteUInt32LittleEndian(m.At(at + 4, 4), 0x1000);
        m.Write(RsdtAt, Rsdt((uint)FadtAt, (uint)at));
        var r = Parse(m);
        Assert.False(r.Info.MadtValid);
        Assert.Equal("ACPI: MADT (APIC) at 0x001fffc0: length 0x1000 runs outside readable memory; using the boot CPU only",
                     Assert.Single(r.Warnings));
    }

    [Fact]
    public void TableShorterThanItsHeader_IsReported()
    {
        using var m = Machine();
        BinaryPrimitives.WriteUInt32LittleEndian(m.At(FadtAt + 4, 4), 20);
        var r = Parse(m);
        Assert.False(r.Info.FadtValid);
        Assert.False(r.Info.CanPowerOff);
        Assert.Equal("ACPI: FADT (FACP) at 0x00102000: length 0x14 is shorter than the 36-byte header; no ACPI power-off or reset",
                     Assert.Single(r.Warnings));
    }

    [Fact]
    public void ImplausiblyLongTable_IsNotChecksummed()
    {
        using var m = Machine();
        BinaryPrimitives.WriteUInt32LittleEndian(m.At(MadtAt + 4, 4), 0x8000_0000);
        var r = Parse(m);
        Assert.Contains("length 0x80000000 is implausible (over 16 MiB)", Assert.Single(r.Warnings));
    }

    [Fact]
    public void RootEntryOutsideTheWindow_IsSkipped()
    {
        using var m = Machine();
        m.Write(RsdtAt, Rsdt(0xFFFF_0000, (uint)MadtAt, (uint)FadtAt));
        var r = Parse(m);
        Assert.Equal("ACPI: RSDT entry 0 points to 0xffff0000, outside readable memory; skipped", Assert.Single(r.Warnings));
        Assert.Equal(3, r.Info.CpuCount);
    }

    [Fact]
    public void DsdtWithWrongSignature_IsReported()
    {
        using var m = Machine();
        Patch(m, DsdtAt, t => "SSDT"u8.CopyTo(t));
        var r = Parse(m);
        Assert.False(r.Info.DsdtValid);
        Assert.False(r.Info.S5Found);
        Assert.Equal("ACPI: DSDT at 0x00103000: signature is \"SSDT\"; power-off falls back to isa-debug-exit", Assert.Single(r.Warnings));
    }

    [Fact]
    public void MissingMadtAndFadt_AreReported()
    {
        using var m = Machine(madt: [], fadt: []);
        var r = Parse(m);
        Assert.Equal(["ACPI: MADT missing; using the boot CPU only", "ACPI: FADT missing: no ACPI power-off or reset"], r.Warnings);
        Assert.False(r.Info.CanPowerOff);
    }

    // ---- FADT ------------------------------------------------------------------------------------

    [Fact]
    public void FadtRevision1_HasNoResetRegister_EvenWithTheFlagSet()
    {
        var fadt = DefaultFadt with { Revision = 1, Length = 116, XPm1aControl = 0 };
        using var m = Machine(fadt: fadt.Build());
        var r = Parse(m);
        Assert.Empty(r.Warnings);
        Assert.Equal(116u, r.Info.FadtLength);
        Assert.NotEqual(0u, r.Info.FadtFlags & Acpi.FadtResetRegisterSupported);
        Assert.False(r.Info.ResetValid);
        Assert.Equal(0xB004, r.Info.Pm1aControl);
        Assert.Equal(0x32, r.Info.Century);
        Assert.True(r.Info.CanPowerOff);
    }

    [Fact]
    public void VeryShortFadt_ReadsOnlyTheFieldsItHas()
    {
        var fadt = DefaultFadt with { Length = 68 };   // ends right after PM1a_CNT_BLK
        using var m = Machine(fadt: fadt.Build());
        var r = Parse(m);
        Assert.Equal(0xB004, r.Info.Pm1aControl);
        Assert.Equal(0u, r.Info.FadtFlags);
        Assert.Equal(0, r.Info.Century);
        Assert.False(r.Info.ResetValid);
        Assert.True(r.Info.S5Found);
    }

    [Fact]
    public void FadtPrefersXPm1a_WhenInIoSpace()
    {
        var fadt = DefaultFadt with { Pm1aControl = 0x1004, XPm1aControl = 0x2004, Pm1bControl = 0x3004 };
        using var m = Machine(fadt: fadt.Build());
        var r = Parse(m);
        Assert.Equal(0x2004, r.Info.Pm1aControl);
        Assert.Equal(0x3004, r.Info.Pm1bControl);
        Assert.StartsWith("ACPI: PM1a_CNT 0x2004 PM1b_CNT 0x3004,", r.Lines[^1]);
    }

    [Fact]
    public void FadtXPm1aInMemorySpace_FallsBackTo32BitPort()
    {
        var fadt = DefaultFadt with { Pm1aControl = 0x1004, XPm1aControl = 0xFED00000, XPm1aSpace = Acpi.GasSystemMemory };
        using var m = Machine(fadt: fadt.Build());
        Assert.Equal(0x1004, Parse(m).Info.Pm1aControl);
    }

    [Fact]
    public void FadtWithoutPm1a_CannotPowerOff()
    {
        var fadt = DefaultFadt with { Pm1aControl = 0, XPm1aControl = 0 };
        using var m = Machine(fadt: fadt.Build());
        var r = Parse(m);
        Assert.False(r.Info.CanPowerOff);
        Assert.Equal("ACPI: FADT (FACP) at 0x00102000: no PM1a control block in I/O space; no ACPI power-off", Assert.Single(r.Warnings));
    }

    [Fact]
    public void ResetRegisterInMemorySpace_IsValid()
    {
        var fadt = DefaultFadt with { ResetSpace = Acpi.GasSystemMemory, ResetAddress = 0xFED80000, ResetValue = 1 };
        using var m = Machine(fadt: fadt.Build());
        var r = Parse(m);
        Assert.True(r.Info.ResetValid);
        Assert.Equal(Acpi.GasSystemMemory, r.Info.ResetSpace);
        Assert.Contains("reset register 0xfed80000 (memory) value 0x01", r.Lines[^1]);
    }

    [Fact]
    public void ResetRegisterInPciConfigSpace_IsReportedUnsupported()
    {
        var fadt = DefaultFadt with { ResetSpace = 2, ResetAddress = 0x10 };
        using var m = Machine(fadt: fadt.Build());
        var r = Parse(m);
        Assert.False(r.Info.ResetValid);
        Assert.Equal("ACPI: FADT (FACP) at 0x00102000: reset register 0x10 in address space 2 is not supported; no ACPI reset",
                     Assert.Single(r.Warnings));
    }

    [Fact]
    public void ResetRegisterWithoutTheSupportFlag_IsIgnored()
    {
        var fadt = DefaultFadt with { Flags = 0 };
        using var m = Machine(fadt: fadt.Build());
        var r = Parse(m);
        Assert.Empty(r.Warnings);
        Assert.False(r.Info.ResetValid);
    }

    [Fact]
    public void XDsdt_IsPreferredOverDsdt()
    {
        var fadt = DefaultFadt with { Dsdt = 0x106000, XDsdt = DsdtAt };
        using var m = Machine(fadt: fadt.Build());
        m.Write(0x106000, Dsdt(S5(elements: [One, One])));
        var r = Parse(m);
        Assert.Equal(DsdtAt, r.Info.DsdtAddress);
        Assert.Equal(5, r.Info.SlpTypA);
    }

    [Fact]
    public void ZeroXDsdt_UsesDsdt()
    {
        var fadt = DefaultFadt with { Dsdt = 0x106000, XDsdt = 0 };
        using var m = Machine(fadt: fadt.Build());
        m.Write(0x106000, Dsdt(S5(elements: [One, One])));
        var r = Parse(m);
        Assert.Equal(0x106000UL, r.Info.DsdtAddress);
        Assert.Equal(1, r.Info.SlpTypA);
    }

    // ---- \_S5 ------------------------------------------------------------------------------------

    public static TheoryData<string, byte[], byte, byte> S5Encodings => new()
    {
        { "ZeroOp", S5(elements: [Zero, Zero, Zero, Zero]), 0, 0 },
        { "OneOp", S5(elements: [One, One]), 1, 1 },
        { "BytePrefix", S5(elements: [Byte(7), Byte(5)]), 7, 5 },
        { "WordPrefix", S5(elements: [Word(3), Word(4)]), 3, 4 },
        { "bare bytes", S5(elements: [Bare(5), Bare(6), Zero, Zero]), 5, 6 },
        { "mixed", S5(elements: [Byte(2), Zero]), 2, 0 },
        { "root prefix", S5(rootPrefix: true, elements: [Byte(4), Byte(4)]), 4, 4 },
        { "2-byte PkgLength", S5(pkgLengthBytes: 2, elements: [Byte(6), Byte(6)]), 6, 6 },
        { "3-byte PkgLength", S5(pkgLengthBytes: 3, elements: [One, Zero]), 1, 0 },
        { "4-byte PkgLength", S5(pkgLengthBytes: 4, elements: [Zero, One]), 0, 1 },
        { "one packed element", S5(elements: [Word(0x0305)]), 5, 3 },
        { "more elements than the package says", S5(numElements: 2, elements: [Byte(3), Byte(2), Byte(1)]), 3, 2 },
    };

    [Theory]
    [MemberData(nameof(S5Encodings))]
    public void S5_IsDecodedInEachEncoding(string encoding, byte[] aml, byte a, byte b)
    {
        using var m = Machine(dsdt: Dsdt(Filler, aml, Filler));
        var r = Parse(m);
        Assert.True(r.Info.S5Found, encoding);
        Assert.Empty(r.Warnings);
        Assert.Equal(a, r.Info.SlpTypA);
        Assert.Equal(b, r.Info.SlpTypB);
    }

    [Fact]
    public void S5Reference_WithoutNameOp_IsNotTakenForTheDefinition()
    {
        // A Notify/Store-like use of \_S5_ with a package op after it, then the real Name().
        byte[] reference = [0x70, (byte)'_', (byte)'S', (byte)'5', (byte)'_', 0x12, 0x04, 0x01, 0x0A, 0x07];
        using var m = Machine(dsdt: Dsdt(reference, S5(elements: [Byte(3), Byte(3)])));
        var r = Parse(m);
        Assert.True(r.Info.S5Found);
        Assert.Equal(3, r.Info.SlpTypA);
    }

    [Fact]
    public void S5_AtTheVeryEndOfTheDsdt_IsCutOffCleanly()
    {
        byte[] cut = [0x08, (byte)'_', (byte)'S', (byte)'5', (byte)'_', 0x12];
        using var m = Machine(dsdt: Dsdt(Filler, cut));
        var r = Parse(m);
        Assert.False(r.Info.S5Found);
        Assert.Equal("ACPI: \\_S5 package at DSDT offset 0x35: PkgLength is cut off by the table end; power-off falls back to isa-debug-exit",
                     Assert.Single(r.Warnings));
    }

    public static TheoryData<byte[], string> BadS5Packages => new()
    {
        { [0x08, .. "_S5_"u8, 0x12, 0x20, 0x02, 0x00, 0x00], "package runs past the table end" },
        { [0x08, .. "_S5_"u8, 0x12, 0x01, 0x02, 0x00, 0x00], "package is too short to hold NumElements" },
        { [0x08, .. "_S5_"u8, 0x12, 0x02, 0x00, 0x00, 0x00], "package is empty" },
        { [0x08, .. "_S5_"u8, 0x12, 0x05, 0x02, 0x0A, 0x09, 0x00], "sleep type does not fit the 3-bit SLP_TYP field" },
        { [0x08, .. "_S5_"u8, 0x12, 0x04, 0x02, 0x70, 0x00, 0x00], "SLP_TYPa is not an integer constant" },
        { [0x08, .. "_S5_"u8, 0x12, 0x04, 0x02, 0x00, 0x0A, 0x00], "SLP_TYPb is not an integer constant" },
        { [0x08, .. "_S5_"u8, 0x12, 0x54, 0x00, 0x02, 0x00, 0x00], "PkgLength lead byte has bits 4-5 set" },
    };

    [Theory]
    [MemberData(nameof(BadS5Packages))]
    public void MalformedS5Package_IsReported(byte[] aml, string problem)
    {
        using var m = Machine(dsdt: Dsdt(aml));
        var r = Parse(m);
        Assert.False(r.Info.S5Found);
        Assert.False(r.Info.CanPowerOff);
        Assert.Equal($"ACPI: \\_S5 package at DSDT offset 0x25: {problem}; power-off falls back to isa-debug-exit", Assert.Single(r.Warnings));
    }

    [Fact]
    public void DsdtWithoutS5_IsReported()
    {
        using var m = Machine(dsdt: Dsdt(Filler));
        var r = Parse(m);
        Assert.False(r.Info.S5Found);
        Assert.Equal("ACPI: \\_S5 not found in the DSDT: power-off falls back to isa-debug-exit", Assert.Single(r.Warnings));
        Assert.EndsWith(", no S5, century CMOS 0x32", r.Lines[^1]);
    }

    [Theory]
    [InlineData(0, 0, 0x2000)]
    [InlineData(0, 5, 0x3400)]
    [InlineData(0x0001, 7, 0x3C01)]      // SCI_EN kept
    [InlineData(0xFFFF, 0, 0xE3FF)]      // an old SLP_TYP cleared
    public void Pm1ControlSleep_SetsSlpTypAndSlpEn_KeepingOtherBits(int current, byte slpTyp, int expected) =>
        Assert.Equal((ushort)expected, Acpi.Pm1ControlSleep((ushort)current, slpTyp));

    // ---- The window and the report ---------------------------------------------------------------

    [Fact]
    public unsafe void PhysicalWindow_MapsOnlyWhatLiesInside()
    {
        var w = new PhysicalWindow((byte*)0x5000, 0x1000, 0x2000);
        Assert.Equal(0x5000UL, (ulong)w.Map(0x1000, 0x2000));
        Assert.Equal(0x6FFFUL, (ulong)w.Map(0x2FFF, 1));
        Assert.True(w.Map(0xFFF, 1) == null);
        Assert.True(w.Map(0x2FFF, 2) == null);
        Assert.True(w.Map(0x3000, 1) == null);
        Assert.True(w.Map(ulong.MaxValue, 2) == null);
        Assert.True(w.Map(0x1000, ulong.MaxValue) == null);
        var identity = PhysicalWindow.Identity(0x1000, 0x1_0000_0000);
        Assert.Equal(0xFEE00000UL, (ulong)identity.Map(0xFEE00000, 0x1000));
        Assert.True(identity.Map(0, 36) == null);
        Assert.True(identity.Map(0xFFFF_FFF0, 36) == null);
    }

    [Fact]
    public void ManyTables_ListingIsCapped_SoWarningsStillFit()
    {
        using var m = Machine();
        var tables = new List<uint> { (uint)MadtAt };
        for (uint i = 0; i < 40; i++)
        {
            m.Write(0x110000 + i * 0x100, Table("SSDT", 1, new byte[8]));
            tables.Add(0x110000 + i * 0x100);
        }
        m.Write(0x120000, Rsdt([.. tables, (uint)FadtAt]));
        m.Write(RsdpAt, Rsdp(0, 0x120000));
        m.At(DsdtAt + 40, 1)[0] ^= 1;   // one warning at the very end of the walk
        var r = Parse(m);
        Assert.Equal(AcpiReport.MaxListingLines, r.Lines.Count(l => l.Contains(" (v0")));
        Assert.True(r.Dropped > 0);
        Assert.StartsWith("ACPI: DSDT at 0x00103000: checksum", Assert.Single(r.Warnings));
        Assert.Equal(3, r.Info.CpuCount);
    }

    // ---- Fuzz ------------------------------------------------------------------------------------

    static void AssertSane(AcpiResult r)
    {
        Assert.InRange(r.Info.CpuCount, 0, AcpiInfo.MaxCpus);
        Assert.InRange(r.Info.IoApicCount, 0, AcpiInfo.MaxIoApics);
        Assert.InRange(r.Info.NmiCount, 0, AcpiInfo.MaxNmis);
        Assert.InRange(r.Lines.Count, 1, AcpiReport.MaxLines);
        Assert.All(r.Lines, l => Assert.StartsWith("ACPI: ", l));
        if (!r.Info.MadtValid) Assert.Equal(0, r.Info.CpuCount);
        if (r.Info.S5Found) Assert.InRange(r.Info.SlpTypA, 0, 7);
    }

    /// <summary>Runs <paramref name="body"/> with a deadline: a parser that loops forever fails here.</summary>
    static void WithinSeconds(int seconds, Action body)
    {
        var run = Task.Run(body);
        Assert.True(run.Wait(TimeSpan.FromSeconds(seconds)), "the parser did not finish: it loops");
        run.GetAwaiter().GetResult();
    }

    [Fact]
    public void Fuzz_MutatedTables_NeverThrowReadOutsideOrLoop()
    {
        WithinSeconds(120, () =>
        {
            using var m = Machine(rsdpRevision: 2);
            ulong[] tables = [RsdtAt, XsdtAt, MadtAt, FadtAt, DsdtAt];
            var pristine = m.At(RsdtAt, 0x5000).ToArray();
            var rsdp = m.At(RsdpAt, 36).ToArray();
            var random = new Random(20240611);
            for (int iteration = 0; iteration < 3000; iteration++)
            {
                pristine.CopyTo(m.At(RsdtAt, pristine.Length));
                rsdp.CopyTo(m.At(RsdpAt, 36));
                int mutations = random.Next(1, 12);
                for (int k = 0; k < mutations; k++)
                {
                    // Mostly headers and early bytes, where lengths and pointers live.
                    ulong table = tables[random.Next(tables.Length)];
                    int offset = random.Next(2) == 0 ? random.Next(48) : random.Next(0x400);
                    m.At(table + (ulong)offset, 1)[0] = random.Next(4) == 0 ? (byte)0xFF : (byte)random.Next(256);
                }
                if (random.Next(8) == 0) m.At(RsdpAt + 16 + (ulong)random.Next(16), 1)[0] = (byte)random.Next(256);
                // Usually make the checksums right again, so the parse gets past them into the bodies.
                if (random.Next(4) != 0)
                {
                    foreach (ulong t in tables)
                    {
                        uint length = BinaryPrimitives.ReadUInt32LittleEndian(m.At(t + 4, 4));
                        if (length >= 10 && t + length <= MemoryEnd) FixChecksum(m.At(t, (int)length));
                    }
                    var p = m.At(RsdpAt, 36);
                    p[8] = 0; p[8] = (byte)-Sum(p[..20]);
                    p[32] = 0; p[32] = (byte)-Sum(p);
                }
                AssertSane(Parse(m));
            }
        });
    }

    [Fact]
    public void Fuzz_RandomMemoryWithPlantedHeaders_NeverThrowReadOutsideOrLoop()
    {
        WithinSeconds(120, () =>
        {
            const ulong start = 0x9F000, end = 0x120000;
            using var m = new AcpiMemory(start, end);
            var random = new Random(7);
            string[] signatures = ["APIC", "FACP", "DSDT", "RSDT", "XSDT"];
            for (int iteration = 0; iteration < 300; iteration++)
            {
                random.NextBytes(m.At(start, (int)(end - start)));
                // Tables at random places, near the end of the window too, with random lengths.
                var placed = new List<ulong>();
                for (int k = 0; k < 12; k++)
                {
                    ulong at = k < 2 ? end - (ulong)random.Next(36, 200) : start + (ulong)random.Next((int)(end - start - 64));
                    signatures[random.Next(signatures.Length)].Select(c => (byte)c).ToArray().CopyTo(m.At(at, 4));
                    uint length = random.Next(3) == 0 ? (uint)random.Next() : (uint)random.Next(36, 600);
                    BinaryPrimitives.WriteUInt32LittleEndian(m.At(at + 4, 4), length);
                    if (length >= 10 && at + length <= end) FixChecksum(m.At(at, (int)length));
                    placed.Add(at);
                }
                // Point roots and FADT fields at the planted tables, then plant a valid RSDP.
                foreach (ulong at in placed)
                {
                    for (int e = 0; e < 6; e++)
                    {
                        ulong slot = at + 36 + (ulong)(e * 4);
                        if (slot + 8 <= end && random.Next(2) == 0)
                            BinaryPrimitives.WriteUInt32LittleEndian(m.At(slot, 4), (uint)placed[random.Next(placed.Count)]);
                    }
                    if (at + 148 <= end && random.Next(2) == 0)
                        BinaryPrimitives.WriteUInt32LittleEndian(m.At(at + 40, 4), (uint)placed[random.Next(placed.Count)]);
                    uint length = BinaryPrimitives.ReadUInt32LittleEndian(m.At(at + 4, 4));
                    if (at + length <= end && length >= 10) FixChecksum(m.At(at, (int)length));
                }
                ulong rsdpAt = 0xE0000 + (ulong)random.Next(0x2000) * 16;
                byte revision = (byte)random.Next(4);
                m.Write(rsdpAt, Rsdp(revision, (uint)placed[random.Next(placed.Count)], placed[random.Next(placed.Count)]));
                AssertSane(Parse(m.Window, (uint)random.Next(0x10000)));
            }
        });
    }
}
