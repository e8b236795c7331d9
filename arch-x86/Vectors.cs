// Every interrupt vector the kernel knows, in one place. 0-31 are the CPU's exceptions (SDM Vol. 3A
// 6.3.1, table 6-1); above them the IPIs and the APIC's own vectors, which sit at the top as in
// Linux (LOCAL_TIMER_VECTOR 0xec, REBOOT_VECTOR 0xf8, ERROR_APIC_VECTOR 0xfe, SPURIOUS 0xff).
static class Vectors
{
    // ---- Exceptions (table 6-1) ----
    public const int DivideError = 0, Debug = 1, Nmi = 2, Breakpoint = 3, Overflow = 4, BoundRange = 5,
        InvalidOpcode = 6, DeviceNotAvailable = 7, DoubleFault = 8, InvalidTss = 10, SegmentNotPresent = 11,
        StackSegment = 12, GeneralProtection = 13, PageFault = 14, X87 = 16, AlignmentCheck = 17,
        MachineCheck = 18, Simd = 19;
    /// <summary>Vectors below this are exceptions; the rest are interrupts.</summary>
    public const int FirstInterrupt = 32;

    // ---- Interrupts ----
    public const int ApicTimer = 0xEC;
    /// <summary>An IPI that starts a test's work on a CPU (registered by its owner, kernel/debug).</summary>
    public const int TestIpi = 0xF1;
    /// <summary>A second test IPI, so two tests' handlers never share a vector.</summary>
    public const int TestTriggerIpi = 0xF2;
    /// <summary>
    /// The crash channel's message interrupt, taken by its owner CPU only (Linux's
    /// HYPERVISOR_CALLBACK_VECTOR, where Hyper-V announces VMBus messages).
    /// </summary>
    public const int CrashChannel = 0xF3;
    /// <summary>Starts the crash channel's host model on its CPU (where Linux would use CALL_FUNCTION_SINGLE_VECTOR).</summary>
    public const int CrashChannelHost = 0xFB;
    /// <summary>Linux's CALL_FUNCTION_VECTOR: here only a TLB flush on every CPU (TlbFlush.cs).</summary>
    public const int CallFunction = 0xFC;
    /// <summary>smp_send_stop's first try: stop with a fixed vector (reboot and power-off only).</summary>
    public const int Reboot = 0xF8;
    public const int ApicError = 0xFE;
    public const int Spurious = 0xFF;
}
