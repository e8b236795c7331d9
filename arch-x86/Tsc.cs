// Time-stamp counter calibration. CPUID leaf 0x15 (and 0x16) give the TSC frequency on CPUs that
// report it (SDM Vol. 3B 18.7.3); otherwise measure it against PIT channel 2 in one-shot mode,
// gated through port 0x61, whose bit 5 follows the channel's output (Linux: pit_hpet_ptimer_calibrate_cpu).
static class Tsc
{
    const ushort PitChannel2 = 0x42, PitCommand = 0x43, SystemControlB = 0x61;
    const uint PitHz = 1_193_182;
    const uint CalibrationMs = 10;
    const int OutputSpinBound = 50_000_000;

    public enum Source { Cpuid, Pit, Assumed }

    /// <summary>Measures the TSC rate in kHz and says where the figure came from.</summary>
    public static ulong CalibrateKhz(out Source source)
    {
        ulong khz = FromCpuid();
        if (khz != 0) { source = Source.Cpuid; return khz; }
        khz = FromPit();
        if (khz != 0) { source = Source.Pit; return khz; }
        source = Source.Assumed;
        return 1_000_000;
    }

    static ulong FromCpuid()
    {
        if (Cpu.Cpuid(0).Eax < 0x15) return 0;
        var leaf = Cpu.Cpuid(0x15);
        // eax = denominator, ebx = numerator, ecx = crystal Hz; all must be non-zero to be valid.
        if (leaf.Eax == 0 || leaf.Ebx == 0 || leaf.Ecx == 0) return 0;
        return (ulong)leaf.Ecx * leaf.Ebx / leaf.Eax / 1000;
    }

    static ulong FromPit()
    {
        uint count = PitHz * CalibrationMs / 1000;
        // Gate high, speaker off; channel 2, lobyte/hibyte, mode 0 (interrupt on terminal count).
        Cpu.Outb(SystemControlB, (byte)((Cpu.Inb(SystemControlB) & ~0x02) | 0x01));
        Cpu.Outb(PitCommand, 0xB0);
        Cpu.Outb(PitChannel2, (byte)count);
        Cpu.Outb(PitChannel2, (byte)(count >> 8));
        ulong start = Cpu.Rdtsc();
        for (int i = 0; i < OutputSpinBound; i++)
        {
            if ((Cpu.Inb(SystemControlB) & 0x20) != 0)
            {
                ulong ticks = Cpu.Rdtsc() - start;
                return ticks / CalibrationMs;
            }
        }
        return 0;
    }
}
