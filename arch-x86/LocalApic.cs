// The local APIC, one API over xAPIC (MMIO at the IA32_APIC_BASE address) and x2APIC (MSRs, used
// when CPUID offers it). Per-CPU set-up: software enable with the spurious vector, error vector,
// LINT0/LINT1 per apic_extnmi=, a one-shot timer for bounded halting waits, IPIs with a bounded
// wait on delivery status. SDM Vol. 3A chapter 11. Linux: arch/x86/kernel/apic/apic.c.
using static ApicRegisters;

static unsafe class LocalApic
{
    static bool s_x2apic;
    static ulong s_mmio;
    static ulong s_timerTicksPerMs;
    /// <summary>How long an IPI may stay pending before it counts as not delivered (Linux: 1000 x 100 us).</summary>
    const ulong IcrIdleBoundUs = 100_000;

    public static bool X2Apic => s_x2apic;

    /// <summary>apic_extnmi= as given on the command line (bsp by default).</summary>
    public static ApicExtnmiMode ExtnmiParameter => (ApicExtnmiMode)Params.Current.Choice(BootParam.ApicExtnmi);

    /// <summary>Chooses the mode (x2APIC when CPUID.1:ECX[21] offers it) and maps the xAPIC page uncached.</summary>
    public static void DetectAndEnableMode()
    {
        bool x2 = (Cpu.Cpuid(1).Ecx & (1u << 21)) != 0;
        ulong baseMsr = Cpu.Rdmsr(ApicBaseMsr);
        s_mmio = baseMsr & 0xFFFF_FFFF_F000;
        baseMsr |= ApicBaseEnable;
        if (x2) baseMsr |= ApicBaseX2Apic;
        Cpu.Wrmsr(ApicBaseMsr, baseMsr);
        s_x2apic = x2;
        if (!x2) Paging.MapIdentity(s_mmio, 4096, uncached: true);
    }

    /// <summary>Puts an AP in the same mode as the boot CPU (x2APIC is per-CPU state).</summary>
    public static void EnableModeOnThisCpu()
    {
        ulong baseMsr = Cpu.Rdmsr(ApicBaseMsr) | ApicBaseEnable;
        if (s_x2apic) baseMsr |= ApicBaseX2Apic;
        Cpu.Wrmsr(ApicBaseMsr, baseMsr);
    }

    public static uint Read(uint reg)
    {
        if (s_x2apic) return (uint)Cpu.Rdmsr(X2ApicMsr(reg));
        return *(uint*)(s_mmio + reg);
    }

    public static void Write(uint reg, uint value)
    {
        if (s_x2apic) { Cpu.Wrmsr(X2ApicMsr(reg), value); return; }
        *(uint*)(s_mmio + reg) = value;
    }

    /// <summary>This CPU's APIC ID (bits 24-31 in xAPIC mode, all 32 bits in x2APIC mode).</summary>
    public static uint ReadId() => s_x2apic ? Read(Id) : Read(Id) >> 24;

    /// <summary>Linux's setup_local_APIC, reduced to what this kernel needs.</summary>
    public static void Setup(int cpu, ApicExtnmiMode extnmi)
    {
        Write(TaskPriority, 0);
        Write(SpuriousVector, SpuriousEnable | Vectors.Spurious);
        Write(LvtLint0, Lint0(cpu));
        Write(LvtLint1, Lint1(cpu, extnmi));
        Write(LvtTimer, LvtMasked | Vectors.ApicTimer);
        Write(LvtError, Vectors.ApicError);
        Write(ErrorStatus, 0);
        Write(ErrorStatus, 0);   // the ESR is written once to latch, once to clear (SDM 11.5.3)
        EndOfInterrupt();
    }

    public static void EndOfInterrupt() => Write(Eoi, 0);

    /// <summary>Software-disables this CPU's APIC: what a stopped CPU does (disable_local_APIC).</summary>
    public static void Disable()
    {
        Write(LvtTimer, LvtMasked);
        Write(LvtLint0, LvtMasked);
        Write(LvtLint1, LvtMasked | DeliveryNmi);
        Write(LvtError, LvtMasked);
        Write(SpuriousVector, Read(SpuriousVector) & ~SpuriousEnable);
    }

    /// <summary>Sends one IPI and waits (bounded) until the APIC has accepted it. False when it never did.</summary>
    public static bool SendIpi(uint destinationApicId, uint icrLow)
    {
        if (s_x2apic)
        {
            // x2APIC ICR writes are accepted at once; there is no delivery-status bit to poll.
            Cpu.Wrmsr(X2ApicIcrMsr, Icr(icrLow, destinationApicId, true));
            return true;
        }
        if (!WaitIcrIdle()) return false;
        Write(IcrHigh, (destinationApicId & 0xFF) << 24);
        Write(IcrLow, icrLow);
        return WaitIcrIdle();
    }

    static bool WaitIcrIdle()
    {
        ulong deadline = Clock.DeadlineAfterUs(IcrIdleBoundUs);
        while ((Read(IcrLow) & DeliveryStatusPending) != 0)
        {
            if (Clock.Passed(deadline)) return false;
            Cpu.Pause();
        }
        return true;
    }

    /// <summary>Measures the APIC timer against the TSC (divide by 16), for one-shot wake-ups.</summary>
    public static void CalibrateTimer()
    {
        Write(TimerDivide, TimerDivideBy16);
        Write(LvtTimer, LvtMasked | Vectors.ApicTimer);
        Write(TimerInitialCount, 0xFFFF_FFFF);
        Clock.Mdelay(2);
        uint remaining = Read(TimerCurrentCount);
        Write(TimerInitialCount, 0);
        s_timerTicksPerMs = (0xFFFF_FFFFUL - remaining) / 2;
        if (s_timerTicksPerMs == 0) s_timerTicksPerMs = 1000;
    }

    /// <summary>Fires the timer vector once after about us microseconds (0 cancels).</summary>
    public static void ArmOneShot(ulong us)
    {
        ulong ticks = us * s_timerTicksPerMs / 1000;
        if (ticks == 0 && us != 0) ticks = 1;
        if (ticks > 0xFFFF_FFFF) ticks = 0xFFFF_FFFF;
        Write(TimerDivide, TimerDivideBy16);
        Write(LvtTimer, TimerOneShot | Vectors.ApicTimer);
        Write(TimerInitialCount, (uint)ticks);
    }

    public static ulong TimerTicksPerMs => s_timerTicksPerMs;
}
