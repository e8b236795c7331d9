// The idle loop, in asm (boot/cpu.s cpu_idle) so its registers are known: r12 = 0xC0DE0000 + CPU.
using System.Runtime;
using System.Runtime.CompilerServices;

static class Idle
{
    public const uint Marker = 0xC0DE0000;

    [MethodImpl(MethodImplOptions.InternalCall), RuntimeImport("*", "cpu_idle")]
    static extern void CpuIdle(int cpu);

    public static void Loop(int cpu) => CpuIdle(cpu);

    /// <summary>
    /// Halts for at most maxUs (the APIC timer ends the halt; any other interrupt may end it
    /// sooner), with interrupts enabled only while halted: a bounded wait that leaves the host CPU
    /// to the other vCPUs. The timer is shared with a periodic tick (LapicTimer), which goes on.
    /// </summary>
    public static void HaltBriefly(ulong maxUs)
    {
        LapicTimer.BeginHalt(maxUs);
        Cpu.EnableInterruptsAndHalt();
        Cpu.DisableInterrupts();
        LapicTimer.EndHalt();
    }
}
