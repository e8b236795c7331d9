// The 16550 UARTs: COM1 is the kernel console; the capture kernel may send its dump on another
// port (dump_channels=serial: COM2 as the BIOS data area lists it). Polled output only; every wait
// for the transmitter is bounded so a wedged (or absent) UART can never hang the crash path.
// Register map: PC16550D data sheet, table 2 (DLAB selects the divisor latch at +0/+1); FIFO
// control and the interrupt-identification bits that show a working FIFO: section 8.7, 8.6.
static class Serial
{
    public const ushort Com1 = 0x3F8;
    const ushort Data = 0, InterruptEnable = 1, FifoControl = 2, InterruptId = 2, LineControl = 3, ModemControl = 4, LineStatus = 5;
    const byte LineStatusTransmitterEmpty = 1 << 5;
    const byte LineControlDlab = 0x80;
    const byte Line8N1 = 0x03;
    /// <summary>FIFOs on and cleared, receive trigger at 14 bytes; IIR bits 7:6 both set when the FIFOs work (a 16550A).</summary>
    const byte FifoEnableAndClear = 0xC7, InterruptIdFifosEnabled = 0xC0;
    /// <summary>A 16550A's transmit FIFO: this many bytes may follow one "transmitter empty".</summary>
    const int TransmitFifoBytes = 16;
    /// <summary>Longest wait for the transmitter per byte: ten byte times at 9600 baud; QEMU is ready at once.</summary>
    const ulong TransmitBoundUs = 10_000;

    static bool s_present;

    public static void Init() => s_present = InitPort(Com1, out _);

    /// <summary>
    /// Programs a UART for 115200 baud 8N1 with its FIFOs (divisor 1 of the 1.8432 MHz clock's 115200).
    /// False when nothing answers at the port: an absent UART's floating bus reads 0xFF.
    /// </summary>
    public static bool InitPort(ushort port, out bool fifo)
    {
        Cpu.Outb((ushort)(port + InterruptEnable), 0x00);
        Cpu.Outb((ushort)(port + LineControl), LineControlDlab);
        Cpu.Outb((ushort)(port + Data), 1);
        Cpu.Outb((ushort)(port + InterruptEnable), 0);
        Cpu.Outb((ushort)(port + LineControl), Line8N1);
        Cpu.Outb((ushort)(port + FifoControl), FifoEnableAndClear);
        Cpu.Outb((ushort)(port + ModemControl), 0x03);        // DTR, RTS
        byte status = Cpu.Inb((ushort)(port + LineStatus));
        fifo = (Cpu.Inb((ushort)(port + InterruptId)) & InterruptIdFifosEnabled) == InterruptIdFifosEnabled;
        return status != 0xFF;
    }

    public static void Write(byte b)
    {
        if (!s_present) return;
        WaitForTransmitter(Com1);
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

    /// <summary>
    /// Raw bytes (a dump stream, no newline translation) to an initialised port: a FIFO's worth
    /// after each "transmitter empty", one byte at a time without a FIFO. A transmitter that never
    /// empties costs the bound per burst, and its bytes are lost; the receiver's checksums say so.
    /// </summary>
    public static unsafe void WriteRaw(ushort port, bool fifo, byte* data, ulong count)
    {
        ulong burst = fifo ? TransmitFifoBytes : 1UL;
        for (ulong done = 0; done < count;)
        {
            WaitForTransmitter(port);
            ulong n = count - done < burst ? count - done : burst;
            Cpu.Outsb((ushort)(port + Data), data + done, n);
            done += n;
        }
    }

    static void WaitForTransmitter(ushort port)
    {
        if ((Cpu.Inb((ushort)(port + LineStatus)) & LineStatusTransmitterEmpty) != 0) return;
        ulong deadline = Clock.DeadlineAfterUs(TransmitBoundUs);
        while ((Cpu.Inb((ushort)(port + LineStatus)) & LineStatusTransmitterEmpty) == 0 && !Clock.Passed(deadline))
            Cpu.Pause();
    }
}
