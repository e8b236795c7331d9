// Per-CPU state: one struct per CPU in a static array, reached through the GS base (each CPU's
// GS base points at its own entry, whose first field points at itself, so `mov rax, gs:[0]` is
// this CPU's pointer). Holds the CPU's GDT and TSS, its stack bounds and its context counters.
using System.Runtime.InteropServices;
using System.Runtime;
using System.Runtime.CompilerServices;

[StructLayout(LayoutKind.Sequential)]
unsafe struct PerCpu
{
    public PerCpu* Self;
    public int Cpu;
    public uint ApicId;
    /// <summary>Nesting depth of hardware interrupts, NMIs and exceptions taken on interrupt stacks.</summary>
    public int InterruptDepth;
    public int InNmi;
    public int SwallowNmi;
    public ulong LastNmiRip;
    /// <summary>TSC at the entry of the latest NMI (the crash timeline's "NMI").</summary>
    public ulong NmiTsc;
    /// <summary>Sequence number + 1 of this CPU's first oops line (0: no oops yet).</summary>
    public ulong OopsLogFrom;
    public ulong StackLow, StackHigh;          // kernel stack, excluding its guard page
    public ulong NmiStackLow, NmiStackHigh;
    public ulong DfStackLow, DfStackHigh;
    public ulong McStackLow, McStackHigh;
    public LapicTimer.State Timer;
    /// <summary>This CPU's one-message slot of the crash channel (kernel/hyperv): Hyper-V's per-CPU SynIC message page.</summary>
    public ulong CrashChannelSlot;
    public Gdt.Table Gdt;
    public Gdt.Tss64 Tss;
}

static unsafe class PerCpuArea
{
    /// <summary>The one CPU limit every per-CPU structure is sized by (CpuLimit, boot/layout.inc MAX_CPUS).</summary>
    public const int MaxCpus = CpuLimit.MaxCpus;

    [StructLayout(LayoutKind.Sequential)]
    struct Storage { public fixed byte Bytes[MaxCpus * 512]; }

    static Storage s_storage;

    public static PerCpu* Get(int cpu)
    {
        Bug.On(sizeof(PerCpu) > 512, "PerCpuArea: a PerCpu fits its 512-byte slot");
        if ((uint)cpu >= MaxCpus) return null;
        fixed (byte* p = s_storage.Bytes) return (PerCpu*)(p + cpu * 512);
    }

    [MethodImpl(MethodImplOptions.InternalCall), RuntimeImport("*", "this_cpu_ptr")]
    static extern PerCpu* ThisCpuPtr();

    /// <summary>The calling CPU's entry; null before its GS base is set.</summary>
    public static PerCpu* This => ThisCpuPtr();

    /// <summary>The calling CPU's number (0 before per-CPU set-up, which only the boot CPU runs).</summary>
    public static int ThisCpu
    {
        get
        {
            PerCpu* p = ThisCpuPtr();
            return p == null ? 0 : p->Cpu;
        }
    }

    /// <summary>Points this CPU's GS base at its entry.</summary>
    public static void Install(int cpu)
    {
        PerCpu* p = Get(cpu);
        p->Self = p;
        p->Cpu = cpu;
        global::Cpu.WriteGsBase((ulong)p);
    }
}
