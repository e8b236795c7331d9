// Bringing up the application processors, in parallel as Linux 6.5 does: every AP's stacks, GDT,
// TSS and slot in the APIC-ID table are prepared first, then INIT, INIT de-assert and two SIPIs go
// to every AP before the boot CPU waits for any; each AP finds its own slot by APIC ID, so nothing
// is handed out after an AP runs. Waits are bounded and the boot CPU halts while it waits (a
// spinning vCPU starves the others under TCG), woken by its one-shot timer to look again.
// Linux: arch/x86/kernel/smpboot.c (do_boot_cpu, wakeup_secondary_cpu_via_init), SDM Vol. 3A 9.4.4.
using System.Runtime.InteropServices;
using System.Threading;
using static ApicRegisters;

static unsafe class SmpBoot
{
    /// <summary>How long the boot CPU waits for all APs together before naming the missing ones.</summary>
    const ulong BringUpBoundUs = 10_000_000;

    static int s_presentCount = 1;
    static int s_onlineCount = 1;
    static long s_onlineMask = 1;
    static int s_possibleCount = 1;
    static ulong s_bringUpUs;

    /// <summary>CPUs the firmware lists as enabled (started or not).</summary>
    public static int PresentCount => s_presentCount;
    /// <summary>CPUs given a number: present, capped by nr_cpus= and the per-CPU array.</summary>
    public static int PossibleCount => s_possibleCount;
    public static int OnlineCount => Volatile.Read(ref s_onlineCount);
    public static ulong OnlineMask => (ulong)Volatile.Read(ref s_onlineMask);
    public static bool IsOnline(int cpu) => (uint)cpu < 64 && (OnlineMask & (1UL << cpu)) != 0;
    public static ulong BringUpMicroseconds => s_bringUpUs;

    /// <summary>
    /// Numbers the CPUs: the boot CPU is 0, the others follow in firmware (MADT) order, at most
    /// nrCpus in all (0 = no cap). apicIds lists every enabled CPU, the boot CPU among them.
    /// </summary>
    public static void Init(uint bootApicId, uint* apicIds, int count, int nrCpus)
    {
        PerCpuArea.Get(0)->ApicId = bootApicId;
        s_presentCount = count > 0 ? count : 1;
        int limit = PerCpuArea.MaxCpus;
        if (nrCpus > 0 && nrCpus < limit) limit = nrCpus;
        int next = 1;
        for (int i = 0; i < count && next < limit; i++)
        {
            if (apicIds[i] == bootApicId) continue;
            PerCpuArea.Get(next)->ApicId = apicIds[i];
            PerCpuArea.Get(next)->Cpu = next;
            next++;
        }
        s_possibleCount = next;
        if (count > PerCpuArea.MaxCpus)
            Log.Warn($"smp: {count} CPUs present, only {PerCpuArea.MaxCpus} supported");
    }

    public static void BringUpSecondaries(ref Multiboot.Info info, ref Multiboot.Tables tables, ulong ebdaStart, long initUdelay)
    {
        Log.Info("smp: Bringing up secondary CPUs ...");
        ulong t0 = Cpu.Rdtsc();
        int aps = s_possibleCount - 1;
        if (aps > 0)
        {
            ref KernelLayout l = ref KernelLayout.Get;
            ulong size = l.TrampolineEnd - l.TrampolineStart;
            ulong page = TrampolinePage.Choose(ref info, ref tables, ebdaStart, size);
            if (page == 0)
            {
                Log.Emerg("smpboot: no free page below 640K for the AP trampoline; running on the boot CPU only");
                aps = 0;
            }
            else
            {
                InstallTrampoline(page);
                for (int cpu = 1; cpu <= aps; cpu++) PrepareCpu(cpu);
                // Every AP is started before the boot CPU waits for any (parallel bring-up).
                for (int cpu = 1; cpu <= aps; cpu++) WakeupSecondaryCpuViaInit(PerCpuArea.Get(cpu)->ApicId, page, initUdelay);
                WaitForCallins(aps + 1);
                for (int cpu = 1; cpu <= aps; cpu++)
                    if (!IsOnline(cpu))
                        Log.Emerg($"smpboot: do_boot_cpu failed(-1) to wakeup CPU#{cpu}");
            }
        }
        s_bringUpUs = Clock.TicksToNs(Cpu.Rdtsc() - t0, Clock.TscKhz) / 1000;
        int n = OnlineCount;
        if (n == 1) Log.Info("smp: Brought up 1 node, 1 CPU");
        else Log.Info($"smp: Brought up 1 node, {n} CPUs");
        Log.Info($"smp: bring-up took {s_bringUpUs} us");
    }

    static void InstallTrampoline(ulong page)
    {
        ref KernelLayout l = ref KernelLayout.Get;
        byte* src = (byte*)l.TrampolineStart, dst = (byte*)page;
        ulong size = l.TrampolineEnd - l.TrampolineStart;
        for (ulong i = 0; i < size; i++) dst[i] = src[i];
        // Patch the copy (never the original): absolute addresses inside the page, CR3, entry.
        *(uint*)(page + (l.TrGdtrBase - l.TrampolineStart)) = (uint)(page + (l.TrGdt - l.TrampolineStart));
        *(uint*)(page + (l.TrFar32 - l.TrampolineStart)) = (uint)(page + (l.TrPm32 - l.TrampolineStart));
        *(uint*)(page + (l.TrFar64 - l.TrampolineStart)) = (uint)(page + (l.TrLm64 - l.TrampolineStart));
        *(ulong*)(page + (l.TrCr3 - l.TrampolineStart)) = Cpu.ReadCr3();
        *(ulong*)(page + (l.TrEntry - l.TrampolineStart)) = l.ApEntry64;
        // The early IDTs the boot CPU built (boot/multiboot.asm): an NMI on an AP before its own
        // Idt.Load is counted there too (6-byte pointers: 16-bit limit, 32-bit base).
        CopyIdtPointer(page + (l.TrIdt32 - l.TrampolineStart), l.EarlyIdt32Ptr);
        CopyIdtPointer(page + (l.TrIdt64 - l.TrampolineStart), l.EarlyIdt64Ptr);
    }

    static void CopyIdtPointer(ulong to, ulong from)
    {
        *(ushort*)to = *(ushort*)from;
        *(uint*)(to + 2) = *(uint*)(from + 2);
    }

    /// <summary>Everything an AP needs before it runs: stacks with guards, IST stacks, its table slot.</summary>
    static void PrepareCpu(int cpu)
    {
        ref KernelLayout l = ref KernelLayout.Get;
        PerCpu* p = PerCpuArea.Get(cpu);
        p->Self = p;
        p->Cpu = cpu;
        ulong set = l.PerCpuStacks + (ulong)cpu * KernelLayout.StackSetSize;
        p->StackLow = set + KernelLayout.KernelStackOffset;
        p->StackHigh = p->StackLow + KernelLayout.KernelStackSize;
        Paging.UnmapPage(p->StackLow - KernelLayout.GuardSize);
        CpuSetup.AssignInterruptStacks(cpu, p);
        ((uint*)l.SmpApApicIds)[cpu] = p->ApicId;
        ((ulong*)l.SmpApStackTops)[cpu] = p->StackHigh;
        ((ulong*)l.SmpApPerCpu)[cpu] = (ulong)p;
    }

    /// <summary>
    /// INIT, INIT de-assert, then two STARTUP IPIs (MP spec B.4). Modern CPUs need no 10 ms INIT
    /// wait (Linux sets init_udelay to 0 for them); cpu_init_udelay= restores the old delays.
    /// </summary>
    static void WakeupSecondaryCpuViaInit(uint apicId, ulong page, long initUdelay)
    {
        LocalApic.Write(ErrorStatus, 0);
        LocalApic.SendIpi(apicId, InitAssert);
        if (initUdelay > 0) Clock.Udelay((ulong)initUdelay);
        LocalApic.SendIpi(apicId, InitDeassert);
        for (int j = 0; j < 2; j++)
        {
            LocalApic.SendIpi(apicId, Startup(page));
            Clock.Udelay(initUdelay > 0 ? 300UL : 10UL);
        }
    }

    /// <summary>Halts in short one-shot-timer steps until `expected` CPUs are online or the bound passes.</summary>
    static void WaitForCallins(int expected)
    {
        ulong deadline = Clock.DeadlineAfterUs(BringUpBoundUs);
        while (OnlineCount < expected && !Clock.Passed(deadline))
            Idle.HaltBriefly(500);
    }

    public static void MarkOnline(int cpu)
    {
        long bit = 1L << cpu;
        long old = Volatile.Read(ref s_onlineMask);
        while (true)
        {
            long seen = Interlocked.CompareExchange(ref s_onlineMask, old | bit, old);
            if (seen == old) break;
            old = seen;
        }
        Interlocked.Increment(ref s_onlineCount);
    }

    /// <summary>Where ap_entry64 (boot/trampoline.asm) lands: on this CPU's own stack, GS base set.</summary>
    [UnmanagedCallersOnly(EntryPoint = "ap_main")]
    static void ApMain(int cpu)
    {
        PerCpu* p = PerCpuArea.Get(cpu);
        Gdt.Load(p);
        Idt.Load();
        LocalApic.EnableModeOnThisCpu();
        LocalApic.Setup(cpu, LocalApic.ExtnmiParameter);
        // Online only now, with the kernel's IDT loaded: the crash shootdown sends NMI IPIs to online
        // CPUs only, so none reaches a CPU whose NMI would land on the early gates and save nothing.
        // No IPI to say so: one that reached the boot CPU after it stopped waiting would wake it in
        // its idle loop later, and an NMI landing then would find it in an interrupt handler.
        MarkOnline(cpu);
        Idle.Loop(cpu);
    }
}
