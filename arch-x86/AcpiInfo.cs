// What the ACPI tables told the kernel (AcpiInfo: CPUs, IOAPICs, LINT NMI pins, power-off and reset
// values) and what the parser has to say about them (AcpiReport: lines with a level, kept as data
// until the console is up). Filled by Acpi.cs, AcpiMadt.cs and AcpiFadt.cs. ACPI 6.5 chapter 5.
using System;

/// <summary>A processor from the MADT, in MADT order.</summary>
public struct AcpiCpu
{
    public uint ApicId;
    /// <summary>The ACPI processor UID, which the NMI entries refer to.</summary>
    public uint AcpiUid;
    /// <summary>False: the MADT marks it online-capable, present but not started (ACPI 6.5 table 5.23).</summary>
    public bool Enabled;
    /// <summary>Listed by a local x2APIC entry (type 9) rather than a local APIC entry (type 0).</summary>
    public bool X2Apic;
}

public struct AcpiIoApic
{
    public uint Id, Address, GsiBase;
}

/// <summary>A local APIC NMI entry (MADT type 4, or type 0xA for x2APIC): which LINT pin takes NMIs.</summary>
public struct AcpiNmi
{
    /// <summary>The processor's ACPI UID, meaningful unless <see cref="AllProcessors"/>.</summary>
    public uint AcpiUid;
    public bool AllProcessors;
    /// <summary>MPS INTI flags: bits 0-1 polarity, bits 2-3 trigger mode (ACPI 6.5 table 5.26).</summary>
    public ushort Flags;
    public byte Lint;
    public bool X2Apic;
}

/// <summary>
/// What the ACPI tables told us. No reference fields: the kernel keeps it in a static. Addresses of
/// 0 mean "not found"; each section is meaningful only when its Valid flag is set.
/// </summary>
public unsafe struct AcpiInfo
{
    /// <summary>Processors remembered: more than the kernel numbers (CpuLimit.MaxCpus), so that those left offline can still be named.</summary>
    public const int MaxCpus = 512;
    public const int MaxIoApics = 8, MaxNmis = 8;

    public ulong RsdpAddress, RootAddress, MadtAddress, FadtAddress, DsdtAddress;
    public byte RsdpRevision;
    public bool RootIsXsdt;

    // ---- MADT (ACPI 6.5 section 5.2.12) ----
    public bool MadtValid;
    public ulong LocalApicAddress;
    /// <summary>Bit 0 PCAT_COMPAT: the machine also has 8259 PICs.</summary>
    public uint MadtFlags;
    /// <summary>Processors kept: enabled and online-capable ones, at most MaxCpus.</summary>
    public int CpuCount;
    /// <summary>Usable processors beyond MaxCpus: counted, not kept.</summary>
    public int CpusOverLimit;
    /// <summary>Processors neither enabled nor online-capable: ignored, as Linux does.</summary>
    public int CpusDisabled;
    public int IoApicCount, IoApicsOverLimit;
    public int NmiCount, NmisOverLimit;

    // ---- FADT (ACPI 6.5 section 5.2.9) ----
    public bool FadtValid;
    public byte FadtRevision;
    public uint FadtLength, FadtFlags;
    /// <summary>PM1a/PM1b control block I/O ports; 0 = absent.</summary>
    public ushort Pm1aControl, Pm1bControl;
    /// <summary>RESET_REG usable: RESET_REG_SUP set, the field present, system memory or I/O space.</summary>
    public bool ResetValid;
    /// <summary>Generic Address Structure space id: 0 system memory, 1 system I/O.</summary>
    public byte ResetSpace;
    public ulong ResetAddress;
    public byte ResetValue;
    /// <summary>RTC CMOS index of the century, 0 when the RTC has none.</summary>
    public byte Century;

    // ---- DSDT: \_S5 (ACPI 6.5 section 7.4.2) ----
    public bool DsdtValid;
    public bool S5Found;
    public byte SlpTypA, SlpTypB;

    fixed uint _cpuApicId[MaxCpus];
    fixed uint _cpuUid[MaxCpus];
    fixed byte _cpuFlags[MaxCpus];
    fixed uint _ioApicId[MaxIoApics];
    fixed uint _ioApicAddress[MaxIoApics];
    fixed uint _ioApicGsiBase[MaxIoApics];
    fixed uint _nmiUid[MaxNmis];
    fixed ushort _nmiFlags[MaxNmis];
    fixed byte _nmiLint[MaxNmis];
    fixed byte _nmiKind[MaxNmis];

    const byte CpuEnabled = 1, CpuX2Apic = 2, NmiAll = 1, NmiX2Apic = 2;

    /// <summary>ACPI power-off is possible: a PM1a control port and a \_S5 package.</summary>
    public readonly bool CanPowerOff => Pm1aControl != 0 && S5Found;

    public readonly AcpiCpu Cpu(int i)
    {
        AcpiCpu c = default;
        if ((uint)i >= (uint)CpuCount || i >= MaxCpus) return c;
        c.ApicId = _cpuApicId[i];
        c.AcpiUid = _cpuUid[i];
        c.Enabled = (_cpuFlags[i] & CpuEnabled) != 0;
        c.X2Apic = (_cpuFlags[i] & CpuX2Apic) != 0;
        return c;
    }

    public readonly AcpiIoApic IoApic(int i)
    {
        AcpiIoApic a = default;
        if ((uint)i >= (uint)IoApicCount || i >= MaxIoApics) return a;
        a.Id = _ioApicId[i];
        a.Address = _ioApicAddress[i];
        a.GsiBase = _ioApicGsiBase[i];
        return a;
    }

    public readonly AcpiNmi Nmi(int i)
    {
        AcpiNmi n = default;
        if ((uint)i >= (uint)NmiCount || i >= MaxNmis) return n;
        n.AcpiUid = _nmiUid[i];
        n.Flags = _nmiFlags[i];
        n.Lint = _nmiLint[i];
        n.AllProcessors = (_nmiKind[i] & NmiAll) != 0;
        n.X2Apic = (_nmiKind[i] & NmiX2Apic) != 0;
        return n;
    }

    public readonly bool HasCpu(uint apicId)
    {
        for (int i = 0; i < CpuCount && i < MaxCpus; i++)
            if (_cpuApicId[i] == apicId) return true;
        return false;
    }

    internal void AddCpu(uint apicId, uint uid, bool enabled, bool x2apic)
    {
        if (CpuCount >= MaxCpus) { CpusOverLimit++; return; }
        _cpuApicId[CpuCount] = apicId;
        _cpuUid[CpuCount] = uid;
        _cpuFlags[CpuCount] = (byte)((enabled ? CpuEnabled : 0) | (x2apic ? CpuX2Apic : 0));
        CpuCount++;
    }

    internal void AddIoApic(uint id, uint address, uint gsiBase)
    {
        if (IoApicCount >= MaxIoApics) { IoApicsOverLimit++; return; }
        _ioApicId[IoApicCount] = id;
        _ioApicAddress[IoApicCount] = address;
        _ioApicGsiBase[IoApicCount] = gsiBase;
        IoApicCount++;
    }

    internal void AddNmi(uint uid, bool all, ushort flags, byte lint, bool x2apic)
    {
        if (NmiCount >= MaxNmis) { NmisOverLimit++; return; }
        _nmiUid[NmiCount] = uid;
        _nmiFlags[NmiCount] = flags;
        _nmiLint[NmiCount] = lint;
        _nmiKind[NmiCount] = (byte)((all ? NmiAll : 0) | (x2apic ? NmiX2Apic : 0));
        NmiCount++;
    }

    /// <summary>Forgets every MADT result: a MADT that fails any check is not trusted at all.</summary>
    internal void DropMadt()
    {
        MadtValid = false;
        CpuCount = CpusOverLimit = CpusDisabled = 0;
        IoApicCount = IoApicsOverLimit = 0;
        NmiCount = NmisOverLimit = 0;
    }
}

public enum AcpiLevel : byte { Info, Warning }

/// <summary>
/// The lines the parser has for the console, kept as data: the kernel prints them (Info through
/// Log.Info, Warning through Log.Warn). Lines past <see cref="MaxLines"/> are counted in Dropped.
/// </summary>
public unsafe struct AcpiReport
{
    public const int MaxLines = 32;
    /// <summary>Table listing lines ("ACPI: APIC 0x... (v01 ...)") kept at most, so warnings always have room.</summary>
    public const int MaxListingLines = 16;

    public int Count, Dropped;
    /// <summary>Warnings seen, kept or dropped.</summary>
    public int Warnings;
    internal int ListingLines;

    fixed byte _level[MaxLines];
    fixed int _length[MaxLines];
    fixed byte _text[MaxLines * LogLine.Capacity];

    public readonly AcpiLevel Level(int i) => (uint)i < (uint)Count && i < MaxLines ? (AcpiLevel)_level[i] : AcpiLevel.Info;

    public readonly LogLine Line(int i)
    {
        LogLine line = new LogLine(0, 0);
        if ((uint)i >= (uint)Count || i >= MaxLines) return line;
        int n = _length[i];
        if (n < 0 || n > LogLine.Capacity) n = 0;
        for (int k = 0; k < n; k++) line.AppendChar((char)_text[i * LogLine.Capacity + k]);
        return line;
    }

    internal void Add(AcpiLevel level, scoped ref LogLine line)
    {
        if (level == AcpiLevel.Warning) Warnings++;
        if (Count >= MaxLines) { Dropped++; return; }
        System.ReadOnlySpan<byte> text = line.AsSpan();
        int n = text.Length < LogLine.Capacity ? text.Length : LogLine.Capacity;
        for (int k = 0; k < n; k++) _text[Count * LogLine.Capacity + k] = text[k];
        _length[Count] = n;
        _level[Count] = (byte)level;
        Count++;
    }
}

/// <summary>acpi=: whether the ACPI tables are used (CPUs, power-off, reset); same order as the table's words.</summary>
public enum AcpiMode
{
    On,
    Off,
}
