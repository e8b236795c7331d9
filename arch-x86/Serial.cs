// The 16550 UART on COM1: the kernel console. Polled output only; every wait for the transmitter
// is bounded so a wedged (or absent) UART can never hang the crash path.
// Register map: PC16550D data sheet, table 2 (DLAB selects the divisor latch at +0/+1).
static class Serial
{
    public const ushort Com1 = 0x3F8;
    const ushort Data = 0, InterruptEnable = 1, FifoControl = 2, LineControl = 3, ModemControl = 4, LineStatus = 5;
    const byte LineStatusTransmitterEmpty = 1 << 5;
    const byte LineControlDlab = 0x80;
    const byte Line8N1 = 0x03;
    /// <summary>Longest wait for the transmitter per byte: ten byte times at 9600 baud; QEMU is ready at once.</summary>
    const ulong TransmitBoundUs = 10_000;

    static bool s_present;

    public static void Init()
    {
        Cpu.Outb(Com1 + InterruptEnable, 0x00);
        Cpu.Outb(Com1 + LineControl, LineControlDlab);
        Cpu.Outb(Com1 + Data, 1);                   // divisor 1: 115200 baud
        Cpu.Outb(Com1 + InterruptEnable, 0);
        Cpu.Outb(Com1 + LineControl, Line8N1);
        Cpu.Outb(Com1 + FifoControl, 0xC7);         // enable and clear FIFOs, 14-byte threshold
        Cpu.Outb(Com1 + ModemControl, 0x03);        // DTR, RTS
        // A floating bus reads 0xFF: no UART there.
        s_present = Cpu.Inb(Com1 + LineStatus) != 0xFF;
    }

    public static void Write(byte b)
    {
        if (!s_present) return;
        if ((Cpu.Inb(Com1 + LineStatus) & LineStatusTransmitterEmpty) == 0)
        {
            ulong deadline = Clock.DeadlineAfterUs(TransmitBoundUs);
            while ((Cpu.Inb(Com1 + LineStatus) & LineStatusTransmitterEmpty) == 0 && !Clock.Passed(deadline))
                Cpu.Pause();
        }
        Cpu.Outb(Com1 + Data, b);
    }

    public static void Write(System.ReadOnlySpan<byte> text)
    {
        for (int i = 0; i < text.Length; i++)
        {
            if (text[i] == (byte)'\n') Write((byte)'\r');
            Write(text[i]);
        }
    }
}
