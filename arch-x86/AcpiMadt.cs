// The MADT (ACPI 6.5 section 5.2.12): the local APIC address, the processors, the I/O APICs and the
// LINT pins wired to NMI. Mirrors Linux's acpi_parse_madt_lapic_entries() and friends in
// arch/x86/kernel/acpi/boot.c, including its distrust: one malformed entry voids the whole table.

public static unsafe partial class Acpi
{
    // Interrupt controller structure types and the least length each needs (ACPI 6.5 table 5.21).
    public const byte MadtLocalApic = 0, MadtIoApic = 1, MadtLocalApicNmi = 4, MadtLocalApicOverride = 5,
        MadtLocalX2Apic = 9, MadtLocalX2ApicNmi = 0xA;

    /// <summary>Local APIC flags (table 5.23): bit 0 Enabled, bit 1 Online Capable.</summary>
    public const uint MadtEnabled = 1, MadtOnlineCapable = 2;

    /// <summary>The MADT body starts after the header, the local APIC address and the flags.</summary>
    const uint MadtEntriesOffset = HeaderLength + 8;

    static int MinimumEntryLength(byte type) => type switch
    {
        MadtLocalApic => 8,
        MadtIoApic => 12,
        MadtLocalApicNmi => 6,
        MadtLocalApicOverride => 12,
        MadtLocalX2Apic => 16,
        MadtLocalX2ApicNmi => 12,
        _ => 2,
    };

    /// <summary>Reads a verified MADT of <paramref name="length"/> bytes at <paramref name="t"/>.</summary>
    static void ParseMadt(byte* t, uint length, ulong pa, ref AcpiInfo info, ref AcpiReport report)
    {
        LogLine l = new LogLine(0, 0);
        if (length < MadtEntriesOffset)
        {
            l.Append("ACPI: MADT (APIC) at 0x"); l.AppendHex(pa, 8);
            l.Append(": length 0x"); l.AppendHex(length, 1); l.Append(" leaves no room for the local APIC address");
            l.Append(NoSmp);
            report.Add(AcpiLevel.Warning, ref l);
            return;
        }

        // Pass 1: the structure. Every entry must have a length of at least 2 (else the walk cannot
        // advance), end inside the table and be long enough for its type. Linux's BAD_MADT_ENTRY
        // makes the parse fail, and a failed parse means the MADT is not used at all.
        bool lapicCpus = false;
        uint off = MadtEntriesOffset;
        while (off < length)
        {
            uint left = length - off;
            byte type = t[off];
            byte entryLength = left >= 2 ? t[off + 1] : (byte)0;
            string problem = "";
            if (left < 2) problem = "is cut off by the table end";
            else if (entryLength < 2) problem = "has a length below 2";
            else if (entryLength > left) problem = "runs past the table end";
            else if (entryLength < MinimumEntryLength(type)) problem = "is too short for its type";
            if (problem.Length != 0)
            {
                l.Append("ACPI: MADT (APIC) at 0x"); l.AppendHex(pa, 8);
                l.Append(": entry at offset 0x"); l.AppendHex(off, 1);
                l.Append(" (type "); l.AppendDecimal((ulong)type);
                l.Append(", length "); l.AppendDecimal((ulong)entryLength); l.Append(") "); l.Append(problem);
                l.Append(NoSmp);
                report.Add(AcpiLevel.Warning, ref l);
                info.DropMadt();
                return;
            }
            if (type == MadtLocalApic && t[off + 3] != 0xFF && (*(uint*)(t + off + 4) & (MadtEnabled | MadtOnlineCapable)) != 0)
                lapicCpus = true;
            off += entryLength;
        }

        // Pass 2: the contents; every entry is now known to be whole.
        info.MadtValid = true;
        info.LocalApicAddress = *(uint*)(t + HeaderLength);
        info.MadtFlags = *(uint*)(t + HeaderLength + 4);
        for (off = MadtEntriesOffset; off < length; off += t[off + 1])
        {
            byte* e = t + off;
            switch (e[0])
            {
                case MadtLocalApic:
                    // APIC ID 0xFF is the broadcast ID, never a processor's; Linux skips it too.
                    if (e[3] != 0xFF) AddProcessor(e[3], e[2], *(uint*)(e + 4), false, pa, ref info, ref report);
                    break;
                case MadtLocalX2Apic:
                    // ACPI 6.5 5.2.12.12: IDs below 255 belong in local APIC entries. Linux ignores
                    // x2APIC entries with such IDs when local APIC entries list processors, since
                    // firmware lists the same CPU twice that way.
                    uint x2apicId = *(uint*)(e + 4);
                    if (x2apicId == 0xFFFFFFFF || (x2apicId < 0xFF && lapicCpus)) break;
                    AddProcessor(x2apicId, *(uint*)(e + 12), *(uint*)(e + 8), true, pa, ref info, ref report);
                    break;
                case MadtIoApic:
                    info.AddIoApic(e[2], *(uint*)(e + 4), *(uint*)(e + 8));
                    break;
                case MadtLocalApicNmi:
                    info.AddNmi(e[2], e[2] == 0xFF, *(ushort*)(e + 3), e[5], false);
                    break;
                case MadtLocalX2ApicNmi:
                    uint uid = *(uint*)(e + 4);
                    info.AddNmi(uid, uid == 0xFFFFFFFF, *(ushort*)(e + 2), e[8], true);
                    break;
                case MadtLocalApicOverride:
                    info.LocalApicAddress = *(ulong*)(e + 4);
                    break;
            }
        }

        if (info.CpuCount == 0)
        {
            l.Clear(); l.Append("ACPI: MADT lists no processors"); l.Append(NoSmp);
            report.Add(AcpiLevel.Warning, ref l);
        }
        if (info.CpusOverLimit > 0)
        {
            l.Clear();
            l.Append("ACPI: MADT lists "); l.AppendDecimal((ulong)(info.CpuCount + info.CpusOverLimit));
            l.Append(" CPUs; only the first ");
            l.AppendDecimal(AcpiInfo.MaxCpus);
            l.Append(" are kept");
            report.Add(AcpiLevel.Warning, ref l);
        }
        if (info.IoApicsOverLimit > 0 || info.NmisOverLimit > 0)
        {
            l.Clear();
            l.Append("ACPI: MADT lists more than 8 IOAPICs or LAPIC NMI entries; the rest are ignored");
            report.Add(AcpiLevel.Warning, ref l);
        }
    }

    /// <summary>
    /// Keeps an enabled or online-capable processor. One neither enabled nor online-capable cannot
    /// be brought up (ACPI 6.5 table 5.23) and is only counted; a repeated APIC ID is dropped,
    /// since starting one CPU twice would be worse than starting it once.
    /// </summary>
    static void AddProcessor(uint apicId, uint uid, uint flags, bool x2apic, ulong pa, ref AcpiInfo info, ref AcpiReport report)
    {
        bool enabled = (flags & MadtEnabled) != 0;
        if (!enabled && (flags & MadtOnlineCapable) == 0) { info.CpusDisabled++; return; }
        if (info.HasCpu(apicId))
        {
            LogLine l = new LogLine(0, 0);
            l.Append("ACPI: MADT (APIC) at 0x"); l.AppendHex(pa, 8);
            l.Append(" lists APIC ID "); l.AppendDecimal((ulong)apicId); l.Append(" twice; the second is ignored");
            report.Add(AcpiLevel.Warning, ref l);
            return;
        }
        info.AddCpu(apicId, uid, enabled, x2apic);
    }
}
