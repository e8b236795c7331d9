// Hardware interrupt vectors (0x20 and up). The kernel has no periodic tick and masks the PICs;
// the only interrupts are IPIs (added with SMP). Anything else is reported once per vector.
static unsafe class Interrupts
{
    public static void Handle(TrapFrame* frame, int vector)
    {
        Log.Warn($"unexpected interrupt vector 0x{vector:x2} on CPU {PerCpuArea.ThisCpu}");
    }
}
