// Bringing up the application processors, in parallel as Linux 6.5 does: every AP's stacks, GDT,
// TSS and slot in the APIC-ID table are prepared first, then INIT, INIT de-assert and two SIPIs go
// to every AP before the boot CPU waits for any; each AP finds its own slot by APIC ID, so nothing
// is handed out after an AP runs. Waits are bounded and the boot CPU halts while it waits (a
// spinning vCPU starves the others under TCG), woken by its one-shot timer to look again.
// Linux: arch/x86/kernel/smpboot.c (do_boot_cpu, wakeup_secondary_cpu_via_init), SDM Vol. 3A 9.4.4.
using System;
using System.Runtime.InteropServices;
using System.Threading;
using static ApicRegisters;

static unsafe class SmpBoot
{
    /// <summary>How long the boot CPU waits for all APs together before naming the missing ones.</summary>
    const ulong BringUpBoundUs = 10_000_000;

    static int s_onlineCount = 1;
    static CpuMask s_online;
    static int s_possibleCount = 1;
    static ulong s_bringUpUs;
    static int s_nrCpus;

    // Every CPU the firmware lists as enabled, in its order, and the CPU number each got (-1: none).
    // CPUs the ACPI parser could not keep are only counted (s_unlisted).
    struct PresentTable { public fixed uint ApicId[AcpiInfo.MaxCpus]; public fixed int Cpu[AcpiInfo.MaxCpus]; }
    static PresentTable s_present;
    static int s_presentListed, s_unlisted;

    /// <summary>CPUs the firmware lists as enabled (started or not, numbered or not).</summary>
    public static int PresentCount => s_presentListed + s_unlisted;
    /// <summary>CPUs given a number: present, capped by nr_cpus= and the per-CPU limit.</summary>
    public static int PossibleCount => s_possibleCount;
    public static int OnlineCount => Volatile.Read(ref s_onlineCount);
    public static bool IsOnline(int cpu) => s_online.Test(cpu);
    public static ulong BringUpMicroseconds => s_bringUpUs;

    /// <summary>
    /// Numbers the CPUs (CpuNumbering.Assign): the boot CPU is 0, the others follow in firmware
    /// (MADT) order, at most nr_cpus= and PerCpuArea.MaxCpus in all. apicIds lists every enabled CPU,
    /// the boot CPU among them; unlisted counts enabled CPUs the ACPI parser had no room for.
    /// </summary>
    public static void Init(uint bootApicId, uint* apicIds, int count, int unlisted, int nrCpus)
    {
        PerCpuArea.Get(0)->ApicId = bootApicId;
        s_online.Set(0);
        s_nrCpus = nrCpus;
        if (count > AcpiInfo.MaxCpus) count = AcpiInfo.MaxCpus;
        s_presentListed = count;
        s_unlisted = unlisted;
        fixed (uint* ids = s_present.ApicId)
        fixed (int* cpus = s_present.Cpu)
        {
            for (int i = 0; i < count; i++) ids[i] = apicIds[i];
            s_possibleCount = CpuNumbering.Assign(bootApicId, new ReadOnlySpan<uint>(ids, count), nrCpus, PerCpuArea.MaxCpus,
                new Span<int>(cpus, count));
            for (int i = 0; i < count; i++)
            {
                if (cpus[i] <= 0) continue;
                PerCpuArea.Get(cpus[i])->ApicId = ids[i];
                PerCpuArea.Get(cpus[i])->Cpu = cpus[i];
            }
        }
    }

    /// <summary>
    /// The APIC IDs of present CPUs that are not online for this reason (None: for any reason), in
    /// firmware order; returns how many, at most into.Length.
    /// </summary>
    public static int NotOnline(NotOnlineReason reason, Span<uint> into)
    {
        int n = 0;
        fixed (uint* ids = s_present.ApicId)
        fixed (int* cpus = s_present.Cpu)
        {
            for (int i = 0; i < s_presentListed && n < into.Length; i++)
            {
                NotOnlineReason why = cpus[i] < 0 ? CpuNumbering.WhyUnnumbered(s_nrCpus, PerCpuArea.MaxCpus)
                    : IsOnline(cpus[i]) ? NotOnlineReason.None : NotOnlineReason.FailedStart;
                if (why != NotOnlineReason.None && (reason == NotOnlineReason.None || why == reason)) into[n++] = ids[i];
            }
        }
        return n;
    }

    /// <summary>
    /// One line per reason naming the present CPUs that are not online: they stay parked where the
    /// firmware left them, and every IPI and NMI is addressed to online CPUs one by one while they exist.
    /// </summary>
    static void ReportNotOnline()
    {
        uint* ids = stackalloc uint[AcpiInfo.MaxCpus];
        for (NotOnlineReason r = NotOnlineReason.NrCpus; r <= NotOnlineReason.FailedStart; r++)
        {
            int n = NotOnline(r, new Span<uint>(ids, AcpiInfo.MaxCpus));
            int extra = r == NotOnlineReason.Limit ? s_unlisted : 0;
            if (n + extra == 0) continue;
            LogLine l = default;
            l.Append("smp: ");
            l.AppendDecimal(n + extra);
            l.Append(n + extra == 1 ? " CPU present but not online (" : " CPUs present but not online (");
            if (r == NotOnlineReason.NrCpus)
            {
                l.Append("nr_cpus=");
                l.AppendDecimal(s_nrCpus);
            }
            else if (r == NotOnlineReason.Limit)
            {
                l.Append("beyond the ");
                l.AppendDecimal(PerCpuArea.MaxCpus);
                l.Append("-CPU limit");
            }
            else l.Append(CpuNumbering.Describe(r));
            l.Append("), APIC IDs ");
            CpuList.Append(ref l, new ReadOnlySpan<uint>(ids, n));
            if (extra > 0)
            {
                l.Append(" and ");
                l.AppendDecimal(extra);
                l.Append(" more the MADT parser did not keep");
            }
            l.Append("; they get no broadcast IPI or NMI");
            Log.Warn(ref l);
        }
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
                OwnedMemory.Claim(page, PageTableBits.PageSize, "AP trampoline");
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
        ReportNotOnline();
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
        if (s_online.Set(cpu)) Interlocked.Increment(ref s_onlineCount);
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
        // A panic that began before this CPU was counted (the boot CPU panicked while waiting for
        // it) sent its shootdown to the CPUs online then: none comes for this one, so it stops
        // itself, as a CPU that loses the panic does (panic_smp_self_stop), instead of idling with
        // interrupts on under a halted panic (torture 1:23, 1:100). MarkOnline's locked increment
        // orders this look after it: a panic that counted the CPUs before it is visible here.
        if (Panic.InProgress) Cpu.HaltForever();
        Idle.Loop(cpu);
    }
}
