// ACPI table discovery (ACPI 6.5 section 5.2): find the RSDP, walk the RSDT or XSDT, verify the
// tables this kernel uses and hand the MADT, FADT and DSDT to AcpiMadt.cs and AcpiFadt.cs. Mirrors
// ACPICA's tbxfroot.c (RSDP search) and tbutils.c (root table walk) and Linux's table listing.
// Pure logic: every read goes through a PhysicalWindow, so host tests run it over fake memory and
// no table, however corrupt, makes the kernel read outside the window or loop.

/// <summary>Finds and parses the tables; see the file comment.</summary>
public static unsafe partial class Acpi
{
    /// <summary>Every ACPI table starts with this 36-byte header (ACPI 6.5 section 5.2.6).</summary>
    public const int HeaderLength = 36;
    /// <summary>No real table comes near this; a larger length is corruption, not something to checksum.</summary>
    public const uint MaxTableLength = 16 << 20;

    public const uint SigRsdt = 'R' | 'S' << 8 | 'D' << 16 | 'T' << 24, SigXsdt = 'X' | 'S' << 8 | 'D' << 16 | 'T' << 24,
        SigMadt = 'A' | 'P' << 8 | 'I' << 16 | 'C' << 24, SigFadt = 'F' | 'A' << 8 | 'C' << 16 | 'P' << 24,
        SigDsdt = 'D' | 'S' << 8 | 'D' << 16 | 'T' << 24;

    // What each failure costs, appended to its warning.
    internal const string NoSmp = "; using the boot CPU only";
    internal const string NoPowerOffOrReset = "; no ACPI power-off or reset";
    internal const string NoPowerOff = "; power-off falls back to isa-debug-exit";

    /// <summary>
    /// Finds the RSDP, then reads every table below it. <paramref name="ebdaSegment"/> is the word
    /// at 0x40E of the BIOS data area, which the boot code saved before page 0 was unmapped.
    /// </summary>
    public static void Parse(in PhysicalWindow memory, uint ebdaSegment, ref AcpiInfo info, ref AcpiReport report)
    {
        info = default;
        report = default;
        ulong rsdp = FindRsdp(in memory, ebdaSegment, ref report);
        if (rsdp == 0)
        {
            LogLine l = new LogLine(0, 0);
            l.Append("ACPI: no RSDP found in the EBDA or 0xE0000-0xFFFFF; using the boot CPU only, no ACPI power-off or reset");
            report.Add(AcpiLevel.Warning, ref l);
            return;
        }
        ParseFromRsdp(in memory, rsdp, ref info, ref report);
    }

    // ---- RSDP (ACPI 6.5 section 5.2.5) -------------------------------------------------------------

    const ulong BiosAreaStart = 0xE0000, BiosAreaEnd = 0x100000;
    const int EbdaSearchLength = 1024, RsdpV1Length = 20, RsdpV2Length = 36;

    /// <summary>
    /// ACPI 6.5 section 5.2.5.1: the first KiB of the EBDA, then 0xE0000-0xFFFFF, on 16-byte
    /// boundaries. A candidate needs the signature and a zero checksum over its first 20 bytes;
    /// revision 2 and later also over Length bytes. A bad candidate is reported and the search goes
    /// on. Returns the address, or 0.
    /// </summary>
    public static ulong FindRsdp(in PhysicalWindow memory, uint ebdaSegment, ref AcpiReport report)
    {
        // ACPICA takes the EBDA only above the BIOS data area; real ones sit just below 640 KiB.
        ulong ebda = (ulong)(ebdaSegment & 0xFFFF) << 4;
        ulong found = ebda > 0x400 ? Scan(in memory, ebda, EbdaSearchLength, ref report) : 0;
        return found != 0 ? found : Scan(in memory, BiosAreaStart, BiosAreaEnd - BiosAreaStart, ref report);
    }

    /// <summary>"RSD PTR " read as a little-endian ulong.</summary>
    const ulong RsdpSignature = 0x2052545020445352;

    // The scan's hot loop compares 8 bytes per paragraph and calls IsRsdp only on a match: IsRsdp
    // holds a LogLine, and zeroing its 256 bytes for each of ~8000 paragraphs cost milliseconds of
    // boot time under TCG. The area is mapped once when the window holds all of it.
    static ulong Scan(in PhysicalWindow memory, ulong start, ulong length, ref AcpiReport report)
    {
        byte* area = memory.Map(start, length);
        for (ulong offset = 0; offset + RsdpV1Length <= length; offset += 16)
        {
            byte* p = area != null ? area + offset : memory.Map(start + offset, RsdpV1Length);
            if (p != null && *(ulong*)p == RsdpSignature && IsRsdp(in memory, start + offset, ref report)) return start + offset;
        }
        return 0;
    }

    static bool IsRsdp(in PhysicalWindow memory, ulong pa, ref AcpiReport report)
    {
        byte* p = memory.Map(pa, RsdpV1Length);
        if (p == null) return false;
        byte sum = Bytes.Sum(p, RsdpV1Length);
        if (sum != 0) { BadRsdp(pa, "checksum", p[8], sum, ref report); return false; }
        if (p[15] < 2) return true;
        byte* v2 = memory.Map(pa, RsdpV2Length);
        uint length = v2 == null ? 0 : *(uint*)(v2 + 20);
        byte* all = length >= RsdpV2Length && length <= 4096 ? memory.Map(pa, length) : null;
        if (all == null)
        {
            LogLine l = new LogLine(0, 0);
            l.Append("ACPI: RSDP at 0x"); l.AppendHex(pa, 8);
            l.Append(": revision "); l.AppendDecimal((ulong)p[15]);
            l.Append(" with unreadable length 0x"); l.AppendHex(length, 1); l.Append("; skipped");
            report.Add(AcpiLevel.Warning, ref l);
            return false;
        }
        sum = Bytes.Sum(all, length);
        if (sum != 0) { BadRsdp(pa, "extended checksum", all[32], sum, ref report); return false; }
        return true;
    }

    static void BadRsdp(ulong pa, string which, byte stored, byte sum, ref AcpiReport report)
    {
        LogLine l = new LogLine(0, 0);
        l.Append("ACPI: RSDP at 0x"); l.AppendHex(pa, 8);
        l.Append(": "); l.Append(which); l.Append(" 0x"); l.AppendHex(stored, 2);
        l.Append(" wrong, should be 0x"); l.AppendHex((byte)(stored - sum), 2); l.Append("; skipped");
        report.Add(AcpiLevel.Warning, ref l);
    }

    // ---- RSDT / XSDT (ACPI 6.5 sections 5.2.7, 5.2.8) ---------------------------------------------

    /// <summary>Reads the tables below a verified RSDP: the XSDT when revision >= 2 gives one, else the RSDT.</summary>
    public static void ParseFromRsdp(in PhysicalWindow memory, ulong rsdpAddress, ref AcpiInfo info, ref AcpiReport report)
    {
        byte* rsdp = memory.Map(rsdpAddress, RsdpV1Length);
        if (rsdp == null) return;
        info.RsdpAddress = rsdpAddress;
        info.RsdpRevision = rsdp[15];
        uint rsdt = *(uint*)(rsdp + 16);
        ulong xsdt = 0;
        uint rsdpLength = RsdpV1Length;
        if (rsdp[15] >= 2)
        {
            byte* v2 = memory.Map(rsdpAddress, RsdpV2Length);
            if (v2 != null) { xsdt = *(ulong*)(v2 + 24); rsdpLength = *(uint*)(v2 + 20); }
        }
        LogLine l = new LogLine(0, 0);
        l.Append("ACPI: RSDP 0x"); l.AppendFormatted(rsdpAddress, "X16");
        l.Append(" "); l.AppendFormatted(rsdpLength, "X6");
        l.Append(" (v"); l.AppendFormatted((uint)rsdp[15], "d2"); l.Append(" ");
        AppendField(ref l, rsdp + 9, 6); l.Append(")");
        report.ListingLines++;
        report.Add(AcpiLevel.Info, ref l);

        uint rootLength = 0;
        byte* root = null;
        if (xsdt != 0)
        {
            root = Table(in memory, xsdt, SigXsdt, "XSDT", rsdt != 0 ? "; using the RSDT" : NoSmp + ", no ACPI power-off or reset",
                         ref report, out rootLength);
            if (root != null) { info.RootAddress = xsdt; info.RootIsXsdt = true; }
        }
        if (root == null && rsdt != 0)
        {
            root = Table(in memory, rsdt, SigRsdt, "RSDT", NoSmp + ", no ACPI power-off or reset", ref report, out rootLength);
            if (root != null) info.RootAddress = rsdt;
        }
        if (root == null)
        {
            if (xsdt == 0 && rsdt == 0)
            {
                l.Clear();
                l.Append("ACPI: RSDP at 0x"); l.AppendHex(rsdpAddress, 8);
                l.Append(" gives no RSDT or XSDT address; using the boot CPU only, no ACPI power-off or reset");
                report.Add(AcpiLevel.Warning, ref l);
            }
            return;
        }
        ListTable(info.RootAddress, root, ref report);

        // Each entry is the physical address of a table: 4 bytes in the RSDT, 8 in the XSDT.
        // The first table of each signature is the one used, as ACPICA's AcpiGetTable(sig, 1) does.
        uint entrySize = info.RootIsXsdt ? 8u : 4u;
        uint entries = (rootLength - HeaderLength) / entrySize;
        ulong madt = 0, fadt = 0;
        for (uint i = 0; i < entries; i++)
        {
            byte* e = root + HeaderLength + i * entrySize;
            ulong pa = info.RootIsXsdt ? *(ulong*)e : *(uint*)e;
            if (pa == 0) continue;
            byte* h = memory.Map(pa, HeaderLength);
            if (h == null)
            {
                l.Clear();
                l.Append("ACPI: "); l.Append(info.RootIsXsdt ? "XSDT" : "RSDT"); l.Append(" entry ");
                l.AppendDecimal((ulong)i); l.Append(" points to 0x"); l.AppendHex(pa, 8);
                l.Append(", outside readable memory; skipped");
                report.Add(AcpiLevel.Warning, ref l);
                continue;
            }
            ListTable(pa, h, ref report);
            uint sig = *(uint*)h;
            if (sig == SigMadt && madt == 0) madt = pa;
            else if (sig == SigFadt && fadt == 0) fadt = pa;
        }

        uint length;
        if (madt == 0)
        {
            l.Clear(); l.Append("ACPI: MADT missing"); l.Append(NoSmp);
            report.Add(AcpiLevel.Warning, ref l);
        }
        else
        {
            byte* t = Table(in memory, madt, SigMadt, "MADT (APIC)", NoSmp, ref report, out length);
            if (t != null) { info.MadtAddress = madt; ParseMadt(t, length, madt, ref info, ref report); }
        }

        if (fadt == 0)
        {
            l.Clear(); l.Append("ACPI: FADT missing: no ACPI power-off or reset");
            report.Add(AcpiLevel.Warning, ref l);
        }
        else
        {
            byte* t = Table(in memory, fadt, SigFadt, "FADT (FACP)", NoPowerOffOrReset, ref report, out length);
            if (t != null) { info.FadtAddress = fadt; ParseFadt(t, length, fadt, ref info, ref report); }
        }

        if (info.FadtValid && info.DsdtAddress != 0)
        {
            byte* t = Table(in memory, info.DsdtAddress, SigDsdt, "DSDT", NoPowerOff, ref report, out length);
            if (t != null)
            {
                ListTable(info.DsdtAddress, t, ref report);
                info.DsdtValid = true;
                FindS5(t, length, ref info, ref report);
            }
        }
        Summarize(ref info, ref report);
    }

    // ---- Table checks --------------------------------------------------------------------------

    /// <summary>
    /// The table at <paramref name="pa"/> when its signature, length and checksum are right; else
    /// null, after a warning naming the table, the fault and <paramref name="consequence"/>.
    /// </summary>
    static byte* Table(in PhysicalWindow memory, ulong pa, uint signature, string name, string consequence,
                       ref AcpiReport report, out uint length)
    {
        length = 0;
        LogLine l = new LogLine(0, 0);
        l.Append("ACPI: "); l.Append(name); l.Append(" at 0x"); l.AppendHex(pa, 8); l.Append(": ");
        byte* h = memory.Map(pa, HeaderLength);
        if (h == null)
        {
            l.Append("header outside readable memory");
            return Reject(ref l, consequence, ref report);
        }
        if (*(uint*)h != signature)
        {
            l.Append("signature is \""); AppendField(ref l, h, 4); l.Append("\"");
            return Reject(ref l, consequence, ref report);
        }
        uint len = *(uint*)(h + 4);
        if (len < HeaderLength || len > MaxTableLength)
        {
            l.Append("length 0x"); l.AppendHex(len, 1);
            l.Append(len < HeaderLength ? " is shorter than the 36-byte header" : " is implausible (over 16 MiB)");
            return Reject(ref l, consequence, ref report);
        }
        byte* t = memory.Map(pa, len);
        if (t == null)
        {
            l.Append("length 0x"); l.AppendHex(len, 1); l.Append(" runs outside readable memory");
            return Reject(ref l, consequence, ref report);
        }
        byte sum = Bytes.Sum(t, len);
        if (sum != 0)
        {
            l.Append("checksum 0x"); l.AppendHex(t[9], 2);
            l.Append(" wrong, should be 0x"); l.AppendHex((byte)(t[9] - sum), 2);
            return Reject(ref l, consequence, ref report);
        }
        length = len;
        return t;
    }

    static byte* Reject(ref LogLine l, string consequence, ref AcpiReport report)
    {
        l.Append(consequence);
        report.Add(AcpiLevel.Warning, ref l);
        return null;
    }

    /// <summary>Linux's table line: "ACPI: APIC 0x0000000003FE1AA4 000090 (v01 BOCHS  BXPC     00000001 BXPC 00000001)".</summary>
    static void ListTable(ulong pa, byte* h, ref AcpiReport report)
    {
        if (report.ListingLines >= AcpiReport.MaxListingLines) { report.Dropped++; return; }
        report.ListingLines++;
        LogLine l = new LogLine(0, 0);
        l.Append("ACPI: "); AppendField(ref l, h, 4);
        l.Append(" 0x"); l.AppendFormatted(pa, "X16");
        l.Append(" "); l.AppendFormatted(*(uint*)(h + 4), "X6");
        l.Append(" (v"); l.AppendFormatted((uint)h[8], "d2"); l.Append(" ");
        AppendField(ref l, h + 10, 6); l.Append(" ");
        AppendField(ref l, h + 16, 8); l.Append(" ");
        l.AppendFormatted(*(uint*)(h + 24), "X8"); l.Append(" ");
        AppendField(ref l, h + 28, 4); l.Append(" ");
        l.AppendFormatted(*(uint*)(h + 32), "X8"); l.Append(")");
        report.Add(AcpiLevel.Info, ref l);
    }

    /// <summary>A fixed-width text field as printf's %-N.Ns prints it: up to a NUL, padded with spaces.</summary>
    static void AppendField(ref LogLine l, byte* p, int width)
    {
        int n = 0;
        while (n < width && p[n] != 0) { l.AppendChar((char)p[n]); n++; }
        l.AppendSpaces(width - n);
    }

    /// <summary>The byte sum ACPI checksums make zero.</summary>
    // ---- What the kernel prints when all went well --------------------------------------------

    static void Summarize(ref AcpiInfo info, ref AcpiReport report)
    {
        LogLine l = new LogLine(0, 0);
        if (info.MadtValid)
        {
            l.Append("ACPI: LAPIC address 0x"); l.AppendHex(info.LocalApicAddress, 8);
            report.Add(AcpiLevel.Info, ref l);
            for (int i = 0; i < info.NmiCount; i++) NmiLine(info.Nmi(i), ref report);
            if (info.CpuCount > 0) CpuLine(ref info, ref report);
        }
        if (info.FadtValid)
        {
            l.Clear();
            l.Append("ACPI: PM1a_CNT 0x"); l.AppendHex(info.Pm1aControl, 1);
            if (info.Pm1bControl != 0) { l.Append(" PM1b_CNT 0x"); l.AppendHex(info.Pm1bControl, 1); }
            if (info.ResetValid)
            {
                l.Append(", reset register 0x"); l.AppendHex(info.ResetAddress, 1);
                l.Append(info.ResetSpace == GasSystemIo ? " (I/O)" : " (memory)");
                l.Append(" value 0x"); l.AppendHex(info.ResetValue, 2);
            }
            else l.Append(", no reset register");
            if (info.S5Found)
            {
                l.Append(", S5 SLP_TYP "); l.AppendDecimal((ulong)info.SlpTypA);
                l.Append("/"); l.AppendDecimal((ulong)info.SlpTypB);
            }
            else l.Append(", no S5");
            if (info.Century != 0) { l.Append(", century CMOS 0x"); l.AppendHex(info.Century, 2); }
            report.Add(AcpiLevel.Info, ref l);
        }
    }

    /// <summary>"ACPI: 4 CPUs (APIC IDs 0-3), 1 IOAPIC at 0xfec00000 (GSI 0)".</summary>
    static void CpuLine(ref AcpiInfo info, ref AcpiReport report)
    {
        LogLine l = new LogLine(0, 0);
        int enabled = 0;
        for (int i = 0; i < info.CpuCount; i++) if (info.Cpu(i).Enabled) enabled++;
        l.Append("ACPI: "); l.AppendDecimal((ulong)enabled); l.Append(enabled == 1 ? " CPU" : " CPUs");
        AppendApicIds(ref l, ref info, true);
        int notStarted = info.CpuCount - enabled;
        if (notStarted > 0)
        {
            l.Append(", "); l.AppendDecimal((ulong)notStarted); l.Append(" online-capable");
            AppendApicIds(ref l, ref info, false);
        }
        if (info.CpusDisabled > 0) { l.Append(", "); l.AppendDecimal((ulong)info.CpusDisabled); l.Append(" disabled"); }
        if (info.CpusOverLimit > 0) { l.Append(", "); l.AppendDecimal((ulong)info.CpusOverLimit); l.Append(" over the limit of "); l.AppendDecimal((ulong)AcpiInfo.MaxCpus); }
        l.Append(", "); l.AppendDecimal((ulong)info.IoApicCount); l.Append(info.IoApicCount == 1 ? " IOAPIC" : " IOAPICs");
        for (int i = 0; i < info.IoApicCount; i++)
        {
            AcpiIoApic a = info.IoApic(i);
            l.Append(i == 0 ? " at 0x" : " 0x"); l.AppendHex(a.Address, 8);
            l.Append(" (GSI "); l.AppendDecimal((ulong)a.GsiBase); l.Append(")");
        }
        report.Add(AcpiLevel.Info, ref l);
    }

    /// <summary>" (APIC IDs 0-3 8 10)": three or more consecutive IDs as a range, so 255 CPUs fit one line.</summary>
    static void AppendApicIds(ref LogLine l, ref AcpiInfo info, bool enabled)
    {
        l.Append(" (APIC IDs");
        for (int i = 0; i < info.CpuCount;)
        {
            AcpiCpu c = info.Cpu(i);
            if (c.Enabled != enabled) { i++; continue; }
            int j = i;
            while (j + 1 < info.CpuCount && info.Cpu(j + 1).Enabled == enabled && info.Cpu(j + 1).ApicId == info.Cpu(j).ApicId + 1) j++;
            l.Append(" "); l.AppendDecimal((ulong)c.ApicId);
            if (j - i >= 2) { l.Append("-"); l.AppendDecimal((ulong)info.Cpu(j).ApicId); }
            else j = i;
            i = j + 1;
        }
        l.Append(")");
    }

    /// <summary>Linux's acpi_table_print_madt_entry: "ACPI: LAPIC_NMI (acpi_id[0xff] dfl dfl lint[0x1])".</summary>
    static void NmiLine(AcpiNmi n, ref AcpiReport report)
    {
        LogLine l = new LogLine(0, 0);
        l.Append(n.X2Apic ? "ACPI: X2APIC_NMI (uid[0x" : "ACPI: LAPIC_NMI (acpi_id[0x");
        l.AppendHex(n.AcpiUid, 2);
        l.Append("] ");
        l.Append(Polarity(n.Flags & 3)); l.Append(" "); l.Append(Trigger((n.Flags >> 2) & 3));
        l.Append(" lint[0x"); l.AppendHex(n.Lint, 1); l.Append("])");
        report.Add(AcpiLevel.Info, ref l);
    }

    static string Polarity(int p) => p == 0 ? "dfl" : p == 1 ? "high" : p == 3 ? "low" : "res";
    static string Trigger(int t) => t == 0 ? "dfl" : t == 1 ? "edge" : t == 3 ? "level" : "res";
}
