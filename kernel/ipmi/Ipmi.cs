// IPMI v2.0 messages the kernel sends a BMC, as bytes on the system interface (section 9.2: network
// function << 2 | LUN, command, data; the response: network function + 1, command, completion code,
// data), and the one SEL record format of its own: an OEM record (type 0xF0, section 32.3, stored
// verbatim) that names the crash. Commands: Get Device ID (20.1), Add/Get SEL Entry (31.6, 31.5),
// Set/Reset/Get Watchdog Timer (27.6, 27.5, 27.7). Pure logic: host tests check every byte.
using System;

/// <summary>Get Device ID's answer, as much as the kernel reports.</summary>
public struct IpmiDeviceId
{
    public byte DeviceId, Revision, FirmwareMajor, FirmwareMinor, IpmiVersion, Support;
    public uint Manufacturer;
    /// <summary>Additional device support bit 2: the BMC keeps a System Event Log.</summary>
    public readonly bool SelDevice => (Support & 0x04) != 0;
}

/// <summary>Get Watchdog Timer's answer.</summary>
public struct IpmiWatchdog
{
    public byte Use, Action, Pretimeout, ExpirationFlags;
    public ushort InitialCount, PresentCount;
    /// <summary>Timer use bit 6: the timer is running.</summary>
    public readonly bool Running => (Use & 0x40) != 0;
}

/// <summary>One SEL record read back, and its ID.</summary>
public struct SelEntry
{
    public ushort Id, NextId;
    public unsafe fixed byte Record[Ipmi.SelRecordSize];
}

public static unsafe class Ipmi
{
    public const byte NetFnChassis = 0x00, NetFnSensorEvent = 0x04, NetFnApp = 0x06, NetFnStorage = 0x0A;
    public const byte CmdGetDeviceId = 0x01, CmdResetWatchdog = 0x22, CmdSetWatchdog = 0x24, CmdGetWatchdog = 0x25;
    public const byte CmdGetSelEntry = 0x43, CmdAddSelEntry = 0x44;
    public const int SelRecordSize = 16, MaxResponse = 64;
    /// <summary>Get SEL Entry's record ID for "the last entry".</summary>
    public const ushort SelLast = 0xFFFF;

    /// <summary>Timer use 4, SMS/OS (27.6), with bit 6 "don't stop" clear: a Set stops the timer, a Reset starts it.</summary>
    public const byte WatchdogUseSmsOs = 0x04, WatchdogActionNone = 0x00, WatchdogActionHardReset = 0x01;
    /// <summary>The expiration flag of the SMS/OS timer use (27.6, byte 5 bit 4).</summary>
    public const byte WatchdogExpiredSmsOs = 0x10;

    /// <summary>Our OEM record: type 0xF0 (non-timestamped OEM), then "NM", the CPU, the first bytes of the reason.</summary>
    public const byte SelTypeOem = 0xF0;
    public const int SelReasonBytes = 10;

    /// <summary>Writes a request's two header bytes and data; returns its length.</summary>
    public static int Request(Span<byte> dst, byte netFn, byte command, ReadOnlySpan<byte> data)
    {
        dst[0] = (byte)(netFn << 2);
        dst[1] = command;
        data.CopyTo(dst.Slice(2));
        return 2 + data.Length;
    }

    /// <summary>
    /// A response's completion code (0 is success) when it answers the request (network function + 1,
    /// same command) and carries at least minData data bytes; 0xFF otherwise (no such completion code
    /// is defined for a good answer, so a garbled response never passes for one).
    /// </summary>
    public static byte Completion(ReadOnlySpan<byte> response, byte netFn, byte command, int minData)
    {
        if (response.Length < 3 || response[0] >> 2 != netFn + 1 || response[1] != command) return 0xFF;
        if (response[2] == 0 && response.Length < 3 + minData) return 0xFF;
        return response[2];
    }

    public static bool ParseDeviceId(ReadOnlySpan<byte> response, out IpmiDeviceId id)
    {
        id = default;
        if (Completion(response, NetFnApp, CmdGetDeviceId, 11) != 0) return false;
        ReadOnlySpan<byte> d = response.Slice(3);
        id.DeviceId = d[0];
        id.Revision = (byte)(d[1] & 0x0F);
        id.FirmwareMajor = (byte)(d[2] & 0x7F);
        id.FirmwareMinor = d[3];
        id.IpmiVersion = d[4];
        id.Support = d[5];
        id.Manufacturer = (uint)(d[6] | d[7] << 8 | (d[8] & 0x0F) << 16);
        return true;
    }

    /// <summary>Set Watchdog Timer: timer use, action, pre-timeout (s), flags to clear, countdown in 100 ms units.</summary>
    public static int SetWatchdog(Span<byte> dst, byte use, byte action, byte pretimeout, byte clearFlags, ushort count100ms)
    {
        Span<byte> d = stackalloc byte[6];
        d[0] = use;
        d[1] = action;
        d[2] = pretimeout;
        d[3] = clearFlags;
        d[4] = (byte)count100ms;
        d[5] = (byte)(count100ms >> 8);
        return Request(dst, NetFnApp, CmdSetWatchdog, d);
    }

    public static bool ParseWatchdog(ReadOnlySpan<byte> response, out IpmiWatchdog w)
    {
        w = default;
        if (Completion(response, NetFnApp, CmdGetWatchdog, 8) != 0) return false;
        ReadOnlySpan<byte> d = response.Slice(3);
        w.Use = d[0];
        w.Action = d[1];
        w.Pretimeout = d[2];
        w.ExpirationFlags = d[3];
        w.InitialCount = (ushort)(d[4] | d[5] << 8);
        w.PresentCount = (ushort)(d[6] | d[7] << 8);
        return true;
    }

    /// <summary>Get SEL Entry without a reservation (offset 0 needs none), the whole record.</summary>
    public static int GetSelEntry(Span<byte> dst, ushort id)
    {
        Span<byte> d = stackalloc byte[6];
        d[0] = 0;
        d[1] = 0;
        d[2] = (byte)id;
        d[3] = (byte)(id >> 8);
        d[4] = 0;
        d[5] = 0xFF;
        return Request(dst, NetFnStorage, CmdGetSelEntry, d);
    }

    public static bool ParseSelEntry(ReadOnlySpan<byte> response, out SelEntry e)
    {
        e = default;
        if (Completion(response, NetFnStorage, CmdGetSelEntry, 2 + SelRecordSize) != 0) return false;
        e.NextId = (ushort)(response[3] | response[4] << 8);
        for (int i = 0; i < SelRecordSize; i++) e.Record[i] = response[5 + i];
        e.Id = (ushort)(e.Record[0] | e.Record[1] << 8);
        return true;
    }

    /// <summary>Add SEL Entry with our crash record: the BMC fills in the record ID (bytes 0-1).</summary>
    public static int AddCrashRecord(Span<byte> dst, int cpu, ReadOnlySpan<byte> reason)
    {
        Span<byte> r = stackalloc byte[SelRecordSize];
        r.Clear();
        r[2] = SelTypeOem;
        r[3] = (byte)'N';
        r[4] = (byte)'M';
        r[5] = (byte)(cpu < 0 || cpu > 254 ? 0xFF : cpu);
        for (int i = 0; i < SelReasonBytes && i < reason.Length; i++) r[6 + i] = reason[i];
        return Request(dst, NetFnStorage, CmdAddSelEntry, r);
    }

    /// <summary>The new record's ID from Add SEL Entry's response.</summary>
    public static bool ParseAdded(ReadOnlySpan<byte> response, out ushort id)
    {
        id = 0;
        if (Completion(response, NetFnStorage, CmdAddSelEntry, 2) != 0) return false;
        id = (ushort)(response[3] | response[4] << 8);
        return true;
    }

    /// <summary>Whether a record is one of ours; then its CPU (0xFF: unknown) and reason bytes.</summary>
    public static bool IsCrashRecord(in SelEntry e, out int cpu, out ReadOnlySpan<byte> reason)
    {
        cpu = -1;
        reason = default;
        fixed (byte* r = e.Record)
        {
            if (r[2] != SelTypeOem || r[3] != (byte)'N' || r[4] != (byte)'M') return false;
            cpu = r[5] == 0xFF ? -1 : r[5];
            int n = 0;
            while (n < SelReasonBytes && r[6 + n] != 0) n++;
            reason = new ReadOnlySpan<byte>(r + 6, n);
            return true;
        }
    }

    /// <summary>"record 0x0002: nmidump crash on CPU 1: "NMI: Not c"", or the record's type and bytes when it is not ours.</summary>
    public static void DescribeRecord(ref LogLine l, in SelEntry e)
    {
        l.Append("record 0x");
        l.AppendHex(e.Id, 4);
        if (IsCrashRecord(in e, out int cpu, out ReadOnlySpan<byte> reason))
        {
            l.Append(": nmidump crash on CPU ");
            if (cpu < 0) l.Append("?");
            else l.AppendDecimal(cpu);
            l.Append(": \"");
            l.Append(reason);
            l.Append("\"");
            return;
        }
        fixed (byte* r = e.Record)
        {
            l.Append(": type 0x");
            l.AppendHex(r[2], 2);
            l.Append(",");
            for (int i = 3; i < SelRecordSize; i++)
            {
                l.AppendChar(' ');
                l.AppendHex(r[i], 2);
            }
        }
    }
}
