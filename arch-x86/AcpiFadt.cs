// The FADT (ACPI 6.5 section 5.2.9): PM1 control ports, the reset register, the RTC century index
// and the DSDT's address; then \_S5 in the DSDT (section 7.4.2), the sleep type that powers off.
// Linux/ACPICA: tbfadt.c (short FADTs, X_ fields), hwsleep.c (acpi_hw_legacy_sleep), hwxface.c
// (acpi_get_sleep_type_data). We do not run AML: \_S5 is found by its byte pattern.

public static unsafe partial class Acpi
{
    // FADT field offsets (ACPI 6.5 table 5.9). A revision 1 FADT ends at 116 bytes; every field is
    // read only when the table's length covers it, as ACPICA does for short tables.
    const uint FadtDsdt = 40, FadtPm1aControl = 64, FadtPm1bControl = 68, FadtCentury = 108, FadtFlagsOffset = 112,
        FadtResetRegister = 116, FadtResetValue = 128, FadtXDsdt = 140, FadtXPm1aControl = 172, FadtXPm1bControl = 184;

    /// <summary>FADT flags bit 10: RESET_REG_SUP, the reset register is supported.</summary>
    public const uint FadtResetRegisterSupported = 1 << 10;

    /// <summary>Generic Address Structure space ids (ACPI 6.5 table 5.1).</summary>
    public const byte GasSystemMemory = 0, GasSystemIo = 1;
    const uint GasLength = 12;

    // PM1 control register (ACPI 6.5 table 4.16): SLP_TYP in bits 10-12, SLP_EN bit 13.
    public const ushort SlpTypShift = 10, SlpTypMask = 7 << 10, SlpEn = 1 << 13;

    /// <summary>
    /// The PM1 control value that enters sleep state <paramref name="slpTyp"/> (S5: power-off):
    /// SLP_TYP and SLP_EN set, the other bits (SCI_EN) kept from <paramref name="current"/>.
    /// ACPICA (acpi_hw_legacy_sleep) first writes it without SLP_EN, then with it; QEMU needs only
    /// the second write. Write it to PM1a control, and to PM1b control when present.
    /// </summary>
    public static ushort Pm1ControlSleep(ushort current, byte slpTyp) =>
        (ushort)((current & ~(SlpTypMask | SlpEn)) | ((slpTyp & 7) << SlpTypShift) | SlpEn);

    static bool Covers(uint length, uint offset, uint size) => offset + size <= length;

    static void ParseFadt(byte* t, uint length, ulong pa, ref AcpiInfo info, ref AcpiReport report)
    {
        info.FadtValid = true;
        info.FadtRevision = t[8];
        info.FadtLength = length;
        info.FadtFlags = Covers(length, FadtFlagsOffset, 4) ? *(uint*)(t + FadtFlagsOffset) : 0;
        info.Century = Covers(length, FadtCentury, 1) ? t[FadtCentury] : (byte)0;
        info.Pm1aControl = Pm1Port(t, length, FadtPm1aControl, FadtXPm1aControl);
        info.Pm1bControl = Pm1Port(t, length, FadtPm1bControl, FadtXPm1bControl);

        // X_DSDT wins when present and non-zero (ACPICA's default, acpi_tb_select_address).
        ulong xdsdt = Covers(length, FadtXDsdt, 8) ? *(ulong*)(t + FadtXDsdt) : 0;
        uint dsdt = Covers(length, FadtDsdt, 4) ? *(uint*)(t + FadtDsdt) : 0;
        info.DsdtAddress = xdsdt != 0 ? xdsdt : dsdt;

        LogLine l = new LogLine(0, 0);
        if ((info.FadtFlags & FadtResetRegisterSupported) != 0 && Covers(length, FadtResetValue, 1))
        {
            byte* gas = t + FadtResetRegister;
            info.ResetSpace = gas[0];
            info.ResetAddress = *(ulong*)(gas + 4);
            info.ResetValue = t[FadtResetValue];
            info.ResetValid = info.ResetAddress != 0 && (info.ResetSpace == GasSystemMemory
                || (info.ResetSpace == GasSystemIo && info.ResetAddress <= 0xFFFF));
            if (!info.ResetValid)
            {
                l.Append("ACPI: FADT (FACP) at 0x"); l.AppendHex(pa, 8);
                l.Append(": reset register 0x"); l.AppendHex(info.ResetAddress, 1);
                l.Append(" in address space "); l.AppendDecimal((ulong)info.ResetSpace);
                l.Append(" is not supported; no ACPI reset");
                report.Add(AcpiLevel.Warning, ref l);
            }
        }

        if (info.Pm1aControl == 0)
        {
            l.Clear();
            l.Append("ACPI: FADT (FACP) at 0x"); l.AppendHex(pa, 8);
            l.Append(": no PM1a control block in I/O space; no ACPI power-off");
            report.Add(AcpiLevel.Warning, ref l);
        }
        if (info.DsdtAddress == 0)
        {
            l.Clear();
            l.Append("ACPI: FADT (FACP) at 0x"); l.AppendHex(pa, 8);
            l.Append(": no DSDT address"); l.Append(NoPowerOff);
            report.Add(AcpiLevel.Warning, ref l);
        }
    }

    /// <summary>
    /// A PM1 control port: the X_ Generic Address Structure when the FADT is long enough for it and
    /// it gives a non-zero address in system I/O space, else the 32-bit block address. 0 = none.
    /// </summary>
    static ushort Pm1Port(byte* t, uint length, uint legacyOffset, uint gasOffset)
    {
        if (Covers(length, gasOffset, GasLength))
        {
            byte* gas = t + gasOffset;
            ulong address = *(ulong*)(gas + 4);
            if (gas[0] == GasSystemIo && address != 0 && address <= 0xFFFF) return (ushort)address;
        }
        uint legacy = Covers(length, legacyOffset, 4) ? *(uint*)(t + legacyOffset) : 0;
        return legacy <= 0xFFFF ? (ushort)legacy : (ushort)0;
    }

    // ---- \_S5 (ACPI 6.5 sections 7.4.2, 20.2) ---------------------------------------------------

    // AML opcodes (ACPI 6.5 section 20.2): the name and package that hold the sleep types, and the
    // integer encodings an element can use.
    const byte AmlNameOp = 0x08, AmlRootChar = (byte)'\\', AmlPackageOp = 0x12, AmlZeroOp = 0x00, AmlOneOp = 0x01,
        AmlBytePrefix = 0x0A, AmlWordPrefix = 0x0B, AmlDWordPrefix = 0x0C;

    /// <summary>
    /// Finds Name (_S5_, Package () { SLP_TYPa, SLP_TYPb, ... }) in the DSDT: NameOp, an optional
    /// root prefix, the NameSeg "_S5_", PackageOp, PkgLength, NumElements, then the elements. The
    /// NameOp is required so that a mere reference to \_S5_ elsewhere in the AML is not taken for it.
    /// </summary>
    static void FindS5(byte* t, uint length, ref AcpiInfo info, ref AcpiReport report)
    {
        for (uint i = HeaderLength + 1; i + 5 <= length; i++)
        {
            if (t[i] != '_' || t[i + 1] != 'S' || t[i + 2] != '5' || t[i + 3] != '_' || t[i + 4] != AmlPackageOp) continue;
            bool named = t[i - 1] == AmlNameOp || (t[i - 1] == AmlRootChar && i >= HeaderLength + 2 && t[i - 2] == AmlNameOp);
            if (!named) continue;
            string problem = DecodeS5(t, length, i + 5, ref info);
            if (problem.Length == 0) { info.S5Found = true; return; }
            LogLine l = new LogLine(0, 0);
            l.Append("ACPI: \\_S5 package at DSDT offset 0x"); l.AppendHex(i, 1); l.Append(": ");
            l.Append(problem); l.Append(NoPowerOff);
            report.Add(AcpiLevel.Warning, ref l);
            return;
        }
        LogLine m = new LogLine(0, 0);
        m.Append("ACPI: \\_S5 not found in the DSDT: power-off falls back to isa-debug-exit");
        report.Add(AcpiLevel.Warning, ref m);
    }

    /// <summary>Decodes the package starting at its PkgLength; returns "" or what is wrong.</summary>
    static string DecodeS5(byte* t, uint length, uint pos, ref AcpiInfo info)
    {
        // PkgLength (ACPI 6.5 section 20.2.4): bits 6-7 of the lead byte count the bytes that
        // follow (0-3). With none, bits 0-5 are the length; otherwise bits 0-3 are its low nibble,
        // bits 4-5 must be zero, and each following byte adds 8 more bits. It counts itself.
        if (pos >= length) return "PkgLength is cut off by the table end";
        byte lead = t[pos];
        uint follow = (uint)lead >> 6;
        if (pos + follow >= length) return "PkgLength is cut off by the table end";
        uint packageLength;
        if (follow == 0) packageLength = lead & 0x3Fu;
        else
        {
            if ((lead & 0x30) != 0) return "PkgLength lead byte has bits 4-5 set";
            packageLength = lead & 0x0Fu;
            for (uint k = 1; k <= follow; k++) packageLength |= (uint)t[pos + k] << (int)(4 + 8 * (k - 1));
        }
        if (packageLength < follow + 2) return "package is too short to hold NumElements";
        if (packageLength > length - pos) return "package runs past the table end";
        uint end = pos + packageLength;
        pos += follow + 1;
        uint count = t[pos++];
        if (count == 0) return "package is empty";
        if (!Integer(t, ref pos, end, out uint a)) return "SLP_TYPa is not an integer constant";
        uint b;
        if (count >= 2)
        {
            if (!Integer(t, ref pos, end, out b)) return "SLP_TYPb is not an integer constant";
        }
        else
        {
            // acpi_get_sleep_type_data: a one-element package is the old packed form, SLP_TYPa in
            // the low byte and SLP_TYPb in the next.
            b = (a >> 8) & 0xFF;
            a &= 0xFF;
        }
        if (a > 7 || b > 7) return "sleep type does not fit the 3-bit SLP_TYP field";
        info.SlpTypA = (byte)a;
        info.SlpTypB = (byte)b;
        return "";
    }

    /// <summary>
    /// One package element: ZeroOp, OneOp, BytePrefix/WordPrefix/DWordPrefix and their data, or a
    /// bare byte 2-7, which some firmware writes and simple AML scanners accept.
    /// </summary>
    static bool Integer(byte* t, ref uint pos, uint end, out uint value)
    {
        value = 0;
        if (pos >= end) return false;
        byte op = t[pos++];
        uint size = op == AmlBytePrefix ? 1u : op == AmlWordPrefix ? 2u : op == AmlDWordPrefix ? 4u : 0u;
        if (size == 0)
        {
            // AmlZeroOp (0) and AmlOneOp (1) are their own values; so is a bare byte up to 7.
            if (op > 7) return false;
            value = op == AmlOneOp ? 1u : op == AmlZeroOp ? 0u : op;
            return true;
        }
        if (end - pos < size) return false;
        for (uint k = 0; k < size; k++) value |= (uint)t[pos + k] << (int)(8 * k);
        pos += size;
        return true;
    }
}
