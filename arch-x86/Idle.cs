// The idle loop, in asm (boot/cpu.asm cpu_idle) so its registers are known: r12 = 0xC0DE0000 + CPU.
using System.Runtime;
using System.Runtime.CompilerServices;

static unsafe class Idle
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
        // The timer interrupt's IRET would unblock NMIs inside an NMI handler (Traps.cs says why that must not happen).
        PerCpu* cpu = PerCpuArea.This;
        Bug.On(cpu != null && cpu->InNmi != 0, "Idle.HaltBriefly: never in NMI context, where an interrupt's IRET would unblock NMIs");
        LocalApic.ArmOneShot(maxUs);
        Cpu.EnableInterruptsAndHalt();
        Cpu.DisableInterrupts();
        LocalApic.ArmOneShot(0);
    }
}
