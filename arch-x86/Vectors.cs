// Interrupt vectors the kernel uses above the exceptions. The APIC's own vectors sit at the top,
// as in Linux (LOCAL_TIMER_VECTOR 0xec, REBOOT_VECTOR 0xf8, ERROR_APIC_VECTOR 0xfe, SPURIOUS 0xff).
static class Vectors
{
    public const int ApicTimer = 0xEC;
    /// <summary>selftest=ipi's fixed-vector IPI.</summary>
    public const int Selftest = 0xF1;
    /// <summary>crashtest=: start this CPU's part of the scenario.</summary>
    public const int Crashtest = 0xF2;
    /// <summary>smp_send_stop's first try: stop with a fixed vector (reboot and power-off only).</summary>
    public const int Reboot = 0xF8;
    public const int ApicError = 0xFE;
    public const int Spurious = 0xFF;
}
