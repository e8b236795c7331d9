// Local APIC register numbers and the values this kernel writes into them, as pure functions the
// host tests check: the xAPIC MMIO offsets, their x2APIC MSR numbers (MSR = 0x800 + offset / 16,
// SDM Vol. 3A 11.12.1.2), ICR encodings and the LVT settings apic_extnmi= implies.
static class ApicRegisters
{
    public const uint Id = 0x20, Version = 0x30, TaskPriority = 0x80, Eoi = 0xB0, LogicalDest = 0xD0, DestFormat = 0xE0,
        SpuriousVector = 0xF0, ErrorStatus = 0x280, IcrLow = 0x300, IcrHigh = 0x310, LvtTimer = 0x320, LvtThermal = 0x330,
        LvtPerfCounter = 0x340, LvtLint0 = 0x350, LvtLint1 = 0x360, LvtError = 0x370, TimerInitialCount = 0x380,
        TimerCurrentCount = 0x390, TimerDivide = 0x3E0;

    /// <summary>IA32_APIC_BASE: bit 11 global enable, bit 10 x2APIC mode, bits 12+ the MMIO base.</summary>
    public const uint ApicBaseMsr = 0x1B;
    public const ulong ApicBaseEnable = 1 << 11, ApicBaseX2Apic = 1 << 10;

    public const uint X2ApicMsrBase = 0x800;
    /// <summary>In x2APIC mode the ICR is one 64-bit MSR (0x830); there is no ICR high (0x831 is reserved).</summary>
    public const uint X2ApicIcrMsr = 0x830;

    // ICR low fields (SDM Vol. 3A figure 11-12).
    public const uint DeliveryFixed = 0 << 8, DeliveryNmi = 4 << 8, DeliveryInit = 5 << 8, DeliveryStartup = 6 << 8, DeliveryExtInt = 7 << 8;
    public const uint DeliveryStatusPending = 1 << 12;
    public const uint LevelAssert = 1 << 14, TriggerLevel = 1 << 15;
    public const uint ShorthandNone = 0 << 18, ShorthandSelf = 1 << 18, ShorthandAllIncludingSelf = 2 << 18, ShorthandAllExcludingSelf = 3 << 18;

    public const uint LvtMasked = 1 << 16;
    public const uint SpuriousEnable = 1 << 8;
    public const uint TimerOneShot = 0, TimerDivideBy16 = 0x3;

    /// <summary>The x2APIC MSR for an xAPIC register offset, or 0 for one x2APIC does not have.</summary>
    public static uint X2ApicMsr(uint offset)
    {
        if (offset == IcrHigh || offset == DestFormat) return 0;
        if ((offset & 0xF) != 0 || offset > 0x3F0) return 0;
        return X2ApicMsrBase + (offset >> 4);
    }

    /// <summary>ICR low word for a fixed-vector IPI.</summary>
    public static uint Fixed(uint vector, uint shorthand = ShorthandNone) => DeliveryFixed | LevelAssert | (vector & 0xFF) | shorthand;

    /// <summary>ICR low word for an NMI IPI; the vector field is ignored for NMI delivery.</summary>
    public static uint Nmi(uint shorthand = ShorthandNone) => DeliveryNmi | LevelAssert | shorthand;

    /// <summary>INIT, level-triggered, asserted then de-asserted (the MP spec's INIT / INIT de-assert pair).</summary>
    public static uint InitAssert => DeliveryInit | LevelAssert | TriggerLevel;
    public static uint InitDeassert => DeliveryInit | TriggerLevel;

    /// <summary>STARTUP IPI: the vector is the 4 KiB page number where the AP starts (below 1 MiB).</summary>
    public static uint Startup(ulong page) => DeliveryStartup | (uint)((page >> 12) & 0xFF);

    /// <summary>
    /// LINT1 carries external NMIs. Linux (apic_extnmi=): NMI delivery, unmasked on the boot CPU
    /// unless the mode is none, unmasked on every CPU when it is all, masked otherwise.
    /// </summary>
    public static uint Lint1(int cpu, ApicExtnmiMode mode)
    {
        bool unmasked = (cpu == 0 && mode != ApicExtnmiMode.None) || mode == ApicExtnmiMode.All;
        return DeliveryNmi | (unmasked ? 0 : LvtMasked);
    }

    /// <summary>LINT0: ExtINT (the 8259) on the boot CPU, masked elsewhere; our PICs are masked anyway.</summary>
    public static uint Lint0(int cpu) => cpu == 0 ? DeliveryExtInt : DeliveryExtInt | LvtMasked;

    /// <summary>The destination field: bits 56-63 of the ICR in xAPIC mode, the full 32 bits in x2APIC mode.</summary>
    public static ulong Icr(uint low, uint destination, bool x2apic) =>
        x2apic ? ((ulong)destination << 32) | low : ((ulong)(destination & 0xFF) << 56) | low;
}

/// <summary>apic_extnmi=: which CPUs unmask LINT1 for external NMIs (Linux's APIC_EXTNMI_*); same order as the table's words.</summary>
public enum ApicExtnmiMode
{
    Bsp,
    All,
    None,
}
