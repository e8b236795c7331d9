// The idle loop, in asm (boot/cpu.s cpu_idle) so its registers are known: r12 = 0xC0DE0000 + CPU.
using System.Runtime;
using System.Runtime.CompilerServices;

static unsafe class Idle
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
        // The timer interrupt's IRET would unblock NMIs inside an NMI handler (Traps.cs says why that must not happen).
        PerCpu* cpu = PerCpuArea.This;
        Bug.On(cpu != null && cpu->InNmi != 0, "Idle.HaltBriefly: never in NMI context, where an interrupt's IRET would unblock NMIs");
        LapicTimer.BeginHalt(maxUs);
        Cpu.EnableInterruptsAndHalt();
        Cpu.DisableInterrupts();
        LapicTimer.EndHalt();
    }
}
