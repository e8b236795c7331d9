// The monotonic clock every timeout uses: nanoseconds since boot from the TSC, calibrated once,
// plus the wall time read from the RTC at boot. Waits poll the clock; nothing here sleeps.
static class Clock
{
    static ulong s_tscAtBoot;
    static ulong s_tscKhz;
    static long s_bootEpochSeconds;

    /// <summary>Marks boot: timestamps count from here.</summary>
    public static void MarkBoot(ulong tsc) => s_tscAtBoot = tsc;

    public static void SetTscKhz(ulong khz) => s_tscKhz = khz;
    public static void SetBootEpoch(long seconds) => s_bootEpochSeconds = seconds;

    public static ulong TscKhz => s_tscKhz;
    public static long BootEpochSeconds => s_bootEpochSeconds;
    public static ulong TscAtBoot => s_tscAtBoot;

    /// <summary>Converts a TSC delta to nanoseconds without overflowing 64 bits.</summary>
    public static ulong TicksToNs(ulong ticks, ulong khz)
    {
        if (khz == 0) return 0;
        return ticks / khz * 1_000_000 + ticks % khz * 1_000_000 / khz;
    }

#if KERNEL
    /// <summary>Nanoseconds since boot; 0 before calibration.</summary>
    public static ulong NowNs => TicksToNs(Cpu.Rdtsc() - s_tscAtBoot, s_tscKhz);

    public static long WallSeconds => s_bootEpochSeconds + (long)(NowNs / 1_000_000_000);

    /// <summary>A TSC value microseconds from now, for bounded waits.</summary>
    public static ulong DeadlineAfterUs(ulong us) => Cpu.Rdtsc() + us * (s_tscKhz == 0 ? 1_000_000 : s_tscKhz) / 1000;

    public static bool Passed(ulong deadline) => (long)(Cpu.Rdtsc() - deadline) >= 0;

    public static void Udelay(ulong us)
    {
        ulong deadline = DeadlineAfterUs(us);
        while (!Passed(deadline)) Cpu.Pause();
    }

    public static void Mdelay(ulong ms) => Udelay(ms * 1000);
#endif
}
