// The monotonic clock every timeout uses: nanoseconds since boot from the TSC, calibrated once,
// plus the wall time read from the RTC at boot. Waits poll the clock; nothing here sleeps.
// Every bound on the crash path is a time from here, never a count of spins. On the host (tests)
// the TSC is the Stopwatch's counter, so the same deadlines can be tested there.
static class Clock
{
    static ulong s_tscAtBoot;
#if KERNEL
    static ulong s_tscKhz;
    static ulong ReadTsc() => Cpu.Rdtsc();
    static void Relax() => Cpu.Pause();
#else
    static ulong s_tscKhz = (ulong)(System.Diagnostics.Stopwatch.Frequency / 1000);
    static ulong ReadTsc() => (ulong)System.Diagnostics.Stopwatch.GetTimestamp();
    static void Relax() => System.Threading.Thread.SpinWait(20);
#endif
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

    /// <summary>Nanoseconds since boot; 0 before calibration.</summary>
    public static ulong NowNs => TicksToNs(ReadTsc() - s_tscAtBoot, s_tscKhz);

    public static long WallSeconds => s_bootEpochSeconds + (long)(NowNs / 1_000_000_000);

    /// <summary>A TSC value microseconds from now, for bounded waits.</summary>
    /// <remarks>Before calibration a 1 GHz TSC is assumed, so an early bound is at worst a few times too long.</remarks>
    public static ulong DeadlineAfterUs(ulong us) => ReadTsc() + us * (s_tscKhz == 0 ? 1_000_000 : s_tscKhz) / 1000;

    public static bool Passed(ulong deadline) => (long)(ReadTsc() - deadline) >= 0;

    /// <summary>One step of a bounded busy wait (PAUSE on the CPU).</summary>
    public static void CpuRelax() => Relax();

    public static void Udelay(ulong us)
    {
        ulong deadline = DeadlineAfterUs(us);
        while (!Passed(deadline)) Relax();
    }

    public static void Mdelay(ulong ms) => Udelay(ms * 1000);
}
