// SMBIOS (DMTF DSP0134): the firmware's table of what the machine is, found through its entry point
// in the BIOS's F-segment (0xF0000-0xFFFFF, on a 16-byte boundary: "_SM3_" for 3.x, "_SM_" with
// "_DMI_" for 2.x, each with its checksums). The kernel reads one structure from it: type 38, IPMI
// Device Information, which tells where the BMC's system interface is (section 7.39), so the BMC
// is never probed for blindly. Linux: drivers/firmware/dmi_scan.c, drivers/char/ipmi/ipmi_dmi.c.
// Pure logic over a physical-memory window (host tests hand it a fake one); every read is bounded.
using System;

/// <summary>IPMI interface types of SMBIOS type 38, offset 4.</summary>
public enum IpmiInterface : byte { Unknown = 0, Kcs = 1, Smic = 2, Bt = 3, Ssif = 4 }

/// <summary>What SMBIOS type 38 says of the BMC's system interface.</summary>
public struct IpmiDeviceInfo
{
    public IpmiInterface Interface;
    /// <summary>The IPMI version, BCD: 0x20 is 2.0.</summary>
    public byte SpecRevision;
    public byte I2cAddress;
    /// <summary>The interface's base address (the low bit already decoded) and its space.</summary>
    public ulong BaseAddress;
    public bool IoSpace;
    /// <summary>Bytes between its registers: 1, 4 or 16.</summary>
    public int RegisterSpacing;
    /// <summary>0 when it has no interrupt.</summary>
    public byte Irq;
}

public static unsafe class Smbios
{
    public const ulong SegmentStart = 0xF0000, SegmentEnd = 0x100000;
    public const byte TypeIpmiDevice = 38, TypeEnd = 127;

    /// <summary>The structure table an entry point in the F-segment names: its address, length and version.</summary>
    public static bool FindTable(PhysicalWindow memory, out ulong table, out uint length, out int major, out int minor)
    {
        table = 0;
        length = 0;
        major = minor = 0;
        for (ulong at = SegmentStart; at + 32 <= SegmentEnd; at += 16)
        {
            byte* p = memory.Map(at, 32);
            if (p == null) return false;
            if (Is(p, "_SM3_") && p[6] >= 0x18 && p[6] <= 32 && Bytes.Sum(p, p[6]) == 0)
            {
                major = p[7];
                minor = p[8];
                length = *(uint*)(p + 0xC);       // the table's maximum size
                table = *(ulong*)(p + 0x10);
                return true;
            }
            if (Is(p, "_SM_") && p[5] >= 0x1F && p[5] <= 32 && Bytes.Sum(p, p[5]) == 0 && Is(p + 0x10, "_DMI_") && Bytes.Sum(p + 0x10, 0xF) == 0)
            {
                major = p[6];
                minor = p[7];
                length = *(ushort*)(p + 0x16);
                table = *(uint*)(p + 0x18);
                return true;
            }
        }
        return false;
    }

    /// <summary>The first type 38 structure in the table, decoded; false when there is none (no BMC the firmware knows of).</summary>
    public static bool FindIpmi(PhysicalWindow memory, ulong table, uint length, out IpmiDeviceInfo info)
    {
        info = default;
        ulong end = table + length;
        for (ulong at = table; at + 4 <= end;)
        {
            byte* h = memory.Map(at, 4);
            if (h == null) return false;
            byte type = h[0], formatted = h[1];
            if (formatted < 4 || at + formatted > end) return false;
            if (type == TypeIpmiDevice && formatted >= 0x10)
            {
                byte* s = memory.Map(at, formatted);
                if (s == null) return false;
                info = Decode(new ReadOnlySpan<byte>(s, formatted));
                return true;
            }
            if (type == TypeEnd) return false;
            // The strings follow the formatted area; two NULs end them (a structure without strings has just the two).
            ulong q = at + formatted;
            while (true)
            {
                if (q + 2 > end) return false;   // strings that run past the table: a damaged table, not a BMC
                byte* two = memory.Map(q, 2);
                if (two == null) return false;
                if (two[0] == 0 && two[1] == 0) break;
                q++;
            }
            at = q + 2;
        }
        return false;
    }

    /// <summary>
    /// Type 38's fields (DSP0134 7.39): the base address's bit 0 says I/O space, and with the
    /// 0x12-byte layout bit 4 of the modifier byte is the address's real bit 0, bits 7:6 the
    /// register spacing (0: successive bytes, 1: 32-bit, 2: 16-byte boundaries), byte 0x11 the IRQ.
    /// </summary>
    public static IpmiDeviceInfo Decode(ReadOnlySpan<byte> s)
    {
        var info = new IpmiDeviceInfo
        {
            Interface = (IpmiInterface)s[4],
            SpecRevision = s[5],
            I2cAddress = s[6],
            RegisterSpacing = 1,
        };
        ulong baseAddress = LittleEndian.U64(s, 8);
        info.IoSpace = (baseAddress & 1) != 0;
        baseAddress &= ~1UL;
        if (s.Length >= 0x12)
        {
            byte modifier = s[0x10];
            baseAddress |= (ulong)(modifier >> 4) & 1;
            int spacing = modifier >> 6;
            info.RegisterSpacing = spacing == 1 ? 4 : spacing == 2 ? 16 : 1;
            info.Irq = s[0x11];
        }
        info.BaseAddress = baseAddress;
        return info;
    }

    static bool Is(byte* p, string anchor)
    {
        for (int i = 0; i < anchor.Length; i++) if (p[i] != (byte)anchor[i]) return false;
        return true;
    }
}
