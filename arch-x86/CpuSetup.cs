// Per-CPU processor set-up: GS base, stacks with guard pages, GDT/TSS with IST stacks, the shared
// IDT. The boot CPU also remaps and masks the 8259 PICs before anything can enable interrupts.
static unsafe class CpuSetup
{
    /// <summary>The boot CPU keeps the stack boot/multiboot.asm gave it (with its guard page).</summary>
    public static void BootCpu()
    {
        Pic8259.RemapAndMaskAll();
        ref KernelLayout l = ref KernelLayout.Get;
        PerCpuArea.Install(0);
        PerCpu* cpu = PerCpuArea.Get(0);
        cpu->StackLow = l.BootStackBottom;
        cpu->StackHigh = l.BootStackTop;
        Paging.UnmapPage(l.BootStackGuard);
        AssignInterruptStacks(0, cpu);
        Gdt.Load(cpu);
        Idt.Init((ulong*)l.IsrStubTable);
        Idt.Load();
    }

    /// <summary>The IST stacks of a CPU, from its slot in the per-CPU stack area; guards unmapped.</summary>
    public static void AssignInterruptStacks(int n, PerCpu* cpu)
    {
        ulong set = KernelLayout.Get.PerCpuStacks + (ulong)n * KernelLayout.StackSetSize;
        cpu->NmiStackLow = set + KernelLayout.NmiStackOffset;
        cpu->NmiStackHigh = cpu->NmiStackLow + KernelLayout.NmiStackSize;
        cpu->DfStackLow = set + KernelLayout.DfStackOffset;
        cpu->DfStackHigh = cpu->DfStackLow + KernelLayout.DfStackSize;
        cpu->McStackLow = set + KernelLayout.McStackOffset;
        cpu->McStackHigh = cpu->McStackLow + KernelLayout.McStackSize;
        Paging.UnmapPage(cpu->NmiStackLow - KernelLayout.GuardSize);
        Paging.UnmapPage(cpu->DfStackLow - KernelLayout.GuardSize);
        Paging.UnmapPage(cpu->McStackLow - KernelLayout.GuardSize);
    }
}
