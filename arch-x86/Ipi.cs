// Inter-processor interrupts by CPU number: fixed vector or NMI, to one CPU or to all others.
// The all-excluding-self shorthand is used only when every present CPU is online: a CPU still in
// wait-for-SIPI (nr_cpus=, or one that failed to start) must not receive one.
using static ApicRegisters;

static unsafe class Ipi
{
    public static bool SendFixed(int cpu, int vector) => Send(cpu, Fixed((uint)vector));
    public static bool SendNmi(int cpu) => Send(cpu, Nmi());

    public static int SendFixedAllButSelf(int vector) => SendAllButSelf(Fixed((uint)vector), Fixed((uint)vector, ShorthandAllExcludingSelf));
    public static int SendNmiAllButSelf() => SendAllButSelf(Nmi(), Nmi(ShorthandAllExcludingSelf));

    static bool Send(int cpu, uint icrLow)
    {
        PerCpu* target = PerCpuArea.Get(cpu);
        if (target == null || !SmpBoot.IsOnline(cpu)) return false;
        return LocalApic.SendIpi(target->ApicId, icrLow);
    }

    /// <summary>Returns how many CPUs the IPI was addressed to.</summary>
    static int SendAllButSelf(uint single, uint shorthand)
    {
        int self = PerCpuArea.ThisCpu;
        int others = SmpBoot.OnlineCount - 1;
        if (others <= 0) return 0;
        if (SmpBoot.OnlineCount == SmpBoot.PresentCount)
        {
            LocalApic.SendIpi(0, shorthand);
            return others;
        }
        int sent = 0;
        for (int cpu = 0; cpu < PerCpuArea.MaxCpus; cpu++)
        {
            if (cpu == self || !SmpBoot.IsOnline(cpu)) continue;
            if (LocalApic.SendIpi(PerCpuArea.Get(cpu)->ApicId, single)) sent++;
        }
        return sent;
    }
}
