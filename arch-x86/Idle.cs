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
    /// Halts for at most maxUs (the APIC one-shot timer ends the halt), with interrupts enabled
    /// only while halted: a bounded wait that leaves the host CPU to the other vCPUs.
    /// </summary>
    public static void HaltBriefly(ulong maxUs)
    {
        LocalApic.ArmOneShot(maxUs);
        Cpu.EnableInterruptsAndHalt();
        Cpu.DisableInterrupts();
        LocalApic.ArmOneShot(0);
    }
}
