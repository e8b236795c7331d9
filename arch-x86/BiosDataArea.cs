// The BIOS data area (physical 0x400-0x4FF, IBM PC/AT BIOS technical reference; Ralf Brown's
// "MEMORY.LST"): what the firmware found and set up, read from the copy the entry code makes before
// page 0 is unmapped (boot/multiboot.asm). The serial ports it lists, where the EBDA is, and the
// video mode the firmware (or the loader) left the screen in. Pure logic: host tests hand it bytes.
using System;

public static class BiosDataArea
{
    public const int Size = 256;
    /// <summary>Offsets from 0x400: COM1-COM4 I/O bases (0 = none), video mode, columns, rows - 1.</summary>
    const int SerialPorts = 0x00, VideoMode = 0x49, VideoColumns = 0x4A, VideoRowsMinusOne = 0x84;
    /// <summary>The colour text buffer (modes 0-3) and the monochrome one (mode 7).</summary>
    public const ulong ColourTextBuffer = 0xB8000, MonoTextBuffer = 0xB0000;
    /// <summary>The largest text screen the console mirrors (VESA's 132x60).</summary>
    public const int MaxColumns = 132, MaxRows = 60;

    /// <summary>The I/O base of the index-th serial port the firmware found (0 = COM1), 0 when it lists none there.</summary>
    public static ushort SerialPort(ReadOnlySpan<byte> bda, int index) =>
        bda.Length >= Size && (uint)index < 4 ? (ushort)(bda[SerialPorts + 2 * index] | bda[SerialPorts + 2 * index + 1] << 8) : (ushort)0;

    /// <summary>
    /// Whether the screen is in a text mode whose buffer the console can write: modes 0-3 (40 or 80
    /// columns, colour) at 0xB8000, mode 7 (monochrome) at 0xB0000, with the columns and rows the
    /// BIOS recorded (an old BIOS leaves the rows byte 0: 25). A machine without a video BIOS leaves
    /// the mode and columns 0: no text screen.
    /// </summary>
    public static bool TextMode(ReadOnlySpan<byte> bda, out ulong buffer, out int columns, out int rows)
    {
        buffer = 0;
        columns = rows = 0;
        if (bda.Length < Size) return false;
        byte mode = bda[VideoMode];
        if (mode > 3 && mode != 7) return false;
        columns = bda[VideoColumns] | bda[VideoColumns + 1] << 8;
        rows = bda[VideoRowsMinusOne] == 0 ? 25 : bda[VideoRowsMinusOne] + 1;
        if (columns < 40 || columns > MaxColumns || rows > MaxRows) return false;
        buffer = mode == 7 ? MonoTextBuffer : ColourTextBuffer;
        return true;
    }
}
