// Helpers for AcpiTests: a synthetic machine laid out like SeaBIOS's (RSDP in the BIOS area,
// tables above 1 MiB), the QEMU captures under Fixtures/, and running the parser over either.
// Fixtures/acpi-qemu72-*.bin come from Fixtures/capture-acpi.py: QEMU 7.2 (TCG, -smp 4, -m 64,
// the kernel's isa-debug-exit device) run paused-then-continued until SeaBIOS built its tables,
// dumped with QMP pmemsave. Format: chunks of u64 physical address, u32 length, the bytes.
using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace Kernel.Tests;

sealed record AcpiResult(AcpiInfo Info, List<string> Lines, List<string> Warnings, int Dropped);

static class AcpiFixture
{
    public const ulong MemoryStart = 0x80000, MemoryEnd = 0x200000;
    public const uint EbdaSegment = 0x9FC0;
    public const ulong Ebda = 0x9FC00, RsdpAt = 0xF5A10, RsdtAt = 0x100000, XsdtAt = 0x100100,
        MadtAt = 0x101000, FadtAt = 0x102000, DsdtAt = 0x103000, HpetAt = 0x104000;

    /// <summary>4 processors: APIC 0 and 2 enabled, 4 disabled, 6 online-capable; an IOAPIC; a LAPIC NMI.</summary>
    public static byte[] DefaultMadt() => AcpiBuilder.Madt(0xFEE00000,
        AcpiBuilder.LocalApic(0, 0, Acpi.MadtEnabled),
        AcpiBuilder.LocalApic(1, 2, Acpi.MadtEnabled),
        AcpiBuilder.LocalApic(2, 4, 0),
        AcpiBuilder.LocalApic(3, 6, Acpi.MadtOnlineCapable),
        AcpiBuilder.IoApic(2, 0xFEC00000, 0),
        AcpiBuilder.SourceOverride(0, 2),
        AcpiBuilder.LapicNmi(0xFF, 0x5, 1));

    public static AcpiBuilder.Fadt DefaultFadt => new()
    {
        Dsdt = (uint)DsdtAt, Pm1aControl = 0xB004, XPm1aControl = 0xB004, Flags = Acpi.FadtResetRegisterSupported,
        Century = 0x32, ResetSpace = Acpi.GasSystemIo, ResetAddress = 0xCF9, ResetValue = 0x06,
    };

    public static byte[] DefaultDsdt() => AcpiBuilder.Dsdt(AcpiBuilder.Filler,
        AcpiBuilder.S5(elements: [AcpiBuilder.Byte(5), AcpiBuilder.Byte(5), AcpiBuilder.Zero, AcpiBuilder.Zero]), AcpiBuilder.Filler);

    /// <summary>
    /// Fake memory [0x80000, 0x200000) with the RSDP at 0xF5A10 and the tables it leads to. A null
    /// table gets the default; an empty one is left out of the RSDT/XSDT.
    /// </summary>
    public static AcpiMemory Machine(byte rsdpRevision = 0, byte[]? madt = null, byte[]? fadt = null, byte[]? dsdt = null)
    {
        var m = new AcpiMemory(MemoryStart, MemoryEnd);
        madt ??= DefaultMadt();
        fadt ??= DefaultFadt.Build();
        dsdt ??= DefaultDsdt();
        var listed = new List<ulong>();
        if (fadt.Length > 0) { m.Write(FadtAt, fadt); listed.Add(FadtAt); }
        if (madt.Length > 0) { m.Write(MadtAt, madt); listed.Add(MadtAt); }
        m.Write(HpetAt, AcpiBuilder.Table("HPET", 1, new byte[20]));
        listed.Add(HpetAt);
        m.Write(DsdtAt, dsdt);
        m.Write(RsdtAt, AcpiBuilder.Rsdt(listed.Select(a => (uint)a).ToArray()));
        if (rsdpRevision >= 2) m.Write(XsdtAt, AcpiBuilder.Xsdt(listed.ToArray()));
        m.Write(RsdpAt, AcpiBuilder.Rsdp(rsdpRevision, (uint)RsdtAt, rsdpRevision >= 2 ? XsdtAt : 0));
        return m;
    }

    public static AcpiResult Parse(AcpiMemory m, uint ebdaSegment = EbdaSegment) => Parse(m.Window, ebdaSegment);

    public static AcpiResult Parse(PhysicalWindow window, uint ebdaSegment)
    {
        AcpiInfo info = default;
        AcpiReport report = default;
        Acpi.Parse(in window, ebdaSegment, ref info, ref report);
        return Collect(info, report);
    }

    public static AcpiResult Collect(in AcpiInfo info, in AcpiReport report)
    {
        var lines = new List<string>();
        var warnings = new List<string>();
        for (int i = 0; i < report.Count; i++)
        {
            string line = Ascii.Of(report.Line(i));
            lines.Add(line);
            if (report.Level(i) == AcpiLevel.Warning) warnings.Add(line);
        }
        return new AcpiResult(info, lines, warnings, report.Dropped);
    }

    /// <summary>Rewrites the table at <paramref name="pa"/> after <paramref name="edit"/>, checksum fixed.</summary>
    public static void Patch(AcpiMemory m, ulong pa, Action<Span<byte>> edit, bool fixChecksum = true)
    {
        int length = (int)BinaryPrimitives.ReadUInt32LittleEndian(m.At(pa + 4, 4));
        var t = m.At(pa, length);
        edit(t);
        if (fixChecksum) AcpiBuilder.FixChecksum(t);
    }

    // ---- QEMU captures ----

    static string FixturePath(string name, [CallerFilePath] string here = "") =>
        Path.Combine(Path.GetDirectoryName(here)!, "Fixtures", name);

    /// <summary>
    /// Loads a capture into fake memory from 0x1000 (page 0 is absent in the kernel too) to the page
    /// after its last chunk, and returns the EBDA segment from the captured BIOS data area.
    /// </summary>
    public static AcpiMemory LoadCapture(string name, out uint ebdaSegment)
    {
        byte[] data = File.ReadAllBytes(FixturePath(name));
        var chunks = new List<(ulong Address, byte[] Bytes)>();
        for (int i = 0; i < data.Length;)
        {
            ulong pa = BinaryPrimitives.ReadUInt64LittleEndian(data.AsSpan(i));
            int n = (int)BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan(i + 8));
            chunks.Add((pa, data.AsSpan(i + 12, n).ToArray()));
            i += 12 + n;
        }
        var bda = chunks.Single(c => c.Address == 0x400).Bytes;
        ebdaSegment = BinaryPrimitives.ReadUInt16LittleEndian(bda.AsSpan(0xE));
        ulong end = chunks.Max(c => c.Address + (ulong)c.Bytes.Length);
        var m = new AcpiMemory(0x1000, (end + 0xFFF) & ~0xFFFUL);
        foreach (var (pa, bytes) in chunks.Where(c => c.Address >= 0x1000)) m.Write(pa, bytes);
        return m;
    }
}
