// The console's mirror on a VGA text screen (Linux's vgacon, much reduced): when the loader or the
// BIOS left the screen in a text mode, every console line also goes to the text buffer (0xB8000
// for colour modes), so a person at a real screen sees the panic and the capture report. The cells
// live in a RAM copy (kernel/printk/TextScreen.cs); a finished line copies the rows it changed,
// eight bytes a store, and moves the hardware cursor (CRTC registers 0x0E/0x0F, IBM VGA technical
// reference). Called under the console lock, like the serial port; nothing here allocates or waits.
static unsafe class VgaText
{
    /// <summary>CRTC index and data ports of a colour adapter (a monochrome one sits at 0x3B4/0x3B5).</summary>
    const ushort CrtcIndexColour = 0x3D4, CrtcIndexMono = 0x3B4;
    const byte CursorLocationHigh = 0x0E, CursorLocationLow = 0x0F;

    static TextScreen s_screen;
    static ulong s_buffer;
    static ushort s_crtc;

    public static bool Enabled => s_buffer != 0;
    public static ulong Buffer => s_buffer;
    public static int Columns => s_screen.Columns;
    public static int Rows => s_screen.Rows;

    /// <summary>
    /// The text screen the loader (a multiboot EGA-text framebuffer, as GRUB reports it) or else the
    /// BIOS data area describes, if any: its buffer and size.
    /// </summary>
    public static bool Detect(ref Multiboot.Info info, System.ReadOnlySpan<byte> bda, out ulong buffer, out int columns, out int rows)
    {
        if (info.HasFramebuffer && info.FramebufferType == Multiboot.FramebufferEgaText)
        {
            buffer = info.FramebufferAddress;
            columns = (int)info.FramebufferWidth;
            rows = (int)info.FramebufferHeight;
            return buffer != 0 && columns > 0 && rows > 0 && (ulong)columns * (ulong)rows <= TextScreen.MaxCells
                && buffer + (ulong)(columns * rows * 2) <= PageTableBits.IdentityMapEnd;
        }
        return BiosDataArea.TextMode(bda, out buffer, out columns, out rows);
    }

    /// <summary>
    /// Starts the mirror on the screen at buffer: cleared (the first kernel: what the firmware or the
    /// loader left there means nothing now), or kept with output going on below it (the capture
    /// kernel: the first kernel's panic stays in view above the report).
    /// </summary>
    public static bool Enable(ulong buffer, int columns, int rows, bool keepContents)
    {
        bool ok = keepContents
            ? s_screen.Adopt(columns, rows, new System.ReadOnlySpan<ushort>((void*)buffer, columns * rows))
            : s_screen.Init(columns, rows);
        if (!ok) return false;
        s_crtc = buffer == BiosDataArea.MonoTextBuffer ? CrtcIndexMono : CrtcIndexColour;
        s_buffer = buffer;
        Flush();
        return true;
    }

    /// <summary>Part of a console line (the screen itself is updated at the line's end).</summary>
    public static void Write(System.ReadOnlySpan<byte> text)
    {
        if (s_buffer != 0) s_screen.Write(text);
    }

    /// <summary>The end of a console line: the next begins on a new row; the rows that changed reach the screen.</summary>
    public static void EndLine()
    {
        if (s_buffer == 0) return;
        s_screen.NewLine();
        Flush();
    }

    static void Flush()
    {
        s_screen.TakeDirty(out int first, out int last);
        int columns = s_screen.Columns;
        for (int row = first; row <= last; row++)
        {
            ushort* src = s_screen.RowCells(row);
            ushort* dst = (ushort*)s_buffer + row * columns;
            int c = 0;
            for (; c + 4 <= columns; c += 4) *(ulong*)(dst + c) = *(ulong*)(src + c);
            for (; c < columns; c++) dst[c] = src[c];
        }
        int at = s_screen.CursorRow * columns + s_screen.CursorColumn;
        Cpu.Outb(s_crtc, CursorLocationHigh);
        Cpu.Outb((ushort)(s_crtc + 1), (byte)(at >> 8));
        Cpu.Outb(s_crtc, CursorLocationLow);
        Cpu.Outb((ushort)(s_crtc + 1), (byte)at);
    }
}
