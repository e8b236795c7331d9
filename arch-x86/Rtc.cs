// The CMOS real-time clock, read once at boot for wall time. Registers 0x00-0x09 and 0x32
// (century, when the FADT names it), status A bit 7 = update in progress, status B bit 2 =
// binary (else BCD), bit 1 = 24-hour mode (MC146818A data sheet).
static class Rtc
{
    const ushort Index = 0x70, DataPort = 0x71;

    static byte Read(byte reg)
    {
        // Bit 7 of the index port is "NMI disable" on PC chipsets: keep it clear, NMIs are the point.
        Cpu.Outb(Index, reg);
        return Cpu.Inb(DataPort);
    }

    static bool UpdateInProgress() => (Read(0x0A) & 0x80) != 0;

    struct Raw { public byte Sec, Min, Hour, Day, Mon, Year; }

    static Raw ReadRaw()
    {
        // An update cycle lasts under 2 ms (MC146818A data sheet); the clock is calibrated by now.
        ulong deadline = Clock.DeadlineAfterUs(10_000);
        while (UpdateInProgress() && !Clock.Passed(deadline)) Cpu.Pause();
        Raw r;
        r.Sec = Read(0x00); r.Min = Read(0x02); r.Hour = Read(0x04);
        r.Day = Read(0x07); r.Mon = Read(0x08); r.Year = Read(0x09);
        return r;
    }

    /// <summary>Seconds since 1970-01-01 00:00:00 UTC, or 0 when the clock reads as nonsense.</summary>
    public static long ReadEpochSeconds()
    {
        Raw a = ReadRaw(), b = ReadRaw();
        // Read until two consecutive readings agree, bounded: an update may land between reads.
        for (int tries = 0; tries < 5 && (a.Sec != b.Sec || a.Min != b.Min || a.Hour != b.Hour || a.Day != b.Day); tries++)
        {
            a = b;
            b = ReadRaw();
        }
        byte statusB = Read(0x0B);
        bool binary = (statusB & 0x04) != 0, h24 = (statusB & 0x02) != 0;
        int hour = b.Hour & 0x7F;
        bool pm = (b.Hour & 0x80) != 0;
        int sec = Conv(b.Sec, binary), min = Conv(b.Min, binary), day = Conv(b.Day, binary), mon = Conv(b.Mon, binary), year = Conv(b.Year, binary);
        hour = Conv((byte)hour, binary);
        if (!h24 && pm) hour = (hour % 12) + 12;
        else if (!h24 && hour == 12) hour = 0;
        return WallTime.ToEpochSeconds(2000 + year, mon, day, hour, min, sec);
    }

    static int Conv(byte v, bool binary) => binary ? v : (v & 0x0F) + (v >> 4) * 10;
}
