// The NMI reason port (0x61, "System Control Port B"): bit 7 = SERR (PCI system error / memory
// parity), bit 6 = IOCHK (I/O channel check); anything else is an "unknown" NMI. Writing the low
// nibble back with bit 2 (SERR) or bit 3 (IOCHK) set clears and disables that source. Pure logic;
// Linux: arch/x86/include/asm/mach_traps.h, arch/x86/kernel/nmi.c.

/// <summary>Linux's NMI handler types: which chain an NMI goes to (Nmi.Register).</summary>
public enum NmiType { Local, Unknown, Serr, IoCheck }

static class NmiReason
{
    public const ushort Port = 0x61;
    public const byte Serr = 0x80, Iochk = 0x40, Mask = Serr | Iochk;
    public const byte ClearMask = 0x0F, ClearSerr = 0x04, ClearIochk = 0x08;

    /// <summary>The value to write to the port to clear (and disable) a source.</summary>
    public static byte ClearSerrValue(byte reason) => (byte)((reason & ClearMask) | ClearSerr);
    public static byte ClearIochkValue(byte reason) => (byte)((reason & ClearMask) | ClearIochk);
    /// <summary>After the IOCHK pulse: the low nibble with IOCHK re-enabled.</summary>
    public static byte ReenableIochkValue(byte reason) => (byte)(reason & ClearMask & ~ClearIochk);
}

/// <summary>nmi_reason=: what the next read of the NMI reason port reports, for tests (QEMU never sets SERR or IOCHK).</summary>
public enum NmiReasonOverride
{
    None = -1,
    Serr,
    Iochk,
}
