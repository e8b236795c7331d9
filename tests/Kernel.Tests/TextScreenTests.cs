// The console's text screen (kernel/printk/TextScreen.cs) and what the BIOS data area says about the
// screen and the serial ports (arch-x86/BiosDataArea.cs): lines, wrapping, scrolling, the rows a
// driver must copy, taking over a screen, and which BIOS states mean "a text screen is there".
using CsCheck;

public unsafe class TextScreenTests
{
    static string Row(in TextScreen s, int row)
    {
        var chars = new char[s.Columns];
        for (int c = 0; c < s.Columns; c++) chars[c] = (char)(s.Cell(row, c) & 0xFF);
        return new string(chars).TrimEnd();
    }

    static void Line(ref TextScreen s, string text)
    {
        s.Write(System.Text.Encoding.ASCII.GetBytes(text));
        s.NewLine();
    }

    [Fact]
    public void Lines_FillTheScreenTopDown_ThenScrollItUp()
    {
        var s = new TextScreen();
        Assert.True(s.Init(20, 3));
        Line(ref s, "one");
        Line(ref s, "two");
        Assert.Equal(("one", "two", ""), (Row(s, 0), Row(s, 1), Row(s, 2)));
        Assert.Equal((2, 0), (s.CursorRow, s.CursorColumn));
        Line(ref s, "three");
        Assert.Equal(("two", "three", ""), (Row(s, 0), Row(s, 1), Row(s, 2)));
        Assert.Equal(0x0700 | 't', s.Cell(0, 0));
    }

    [Fact]
    public void ALongLine_WrapsAtTheRightEdge_AndCarriageReturnsAreDropped()
    {
        var s = new TextScreen();
        Assert.True(s.Init(10, 4));
        Line(ref s, "0123456789abc\r");
        Assert.Equal(("0123456789", "abc"), (Row(s, 0), Row(s, 1)));
        s.Write("\u0001x"u8);
        Assert.Equal("?x", Row(s, 2));
    }

    [Fact]
    public void OnlyTheRowsThatChanged_AreHandedToTheDriver()
    {
        var s = new TextScreen();
        Assert.True(s.Init(10, 3));
        s.TakeDirty(out int first, out int last);
        Assert.Equal((0, 2), (first, last));             // a new screen is cleared whole
        s.TakeDirty(out first, out last);
        Assert.True(first > last);
        Line(ref s, "a");
        s.TakeDirty(out first, out last);
        Assert.Equal((0, 0), (first, last));
        Line(ref s, "b");
        Line(ref s, "c");                                 // the third line scrolls
        s.TakeDirty(out first, out last);
        Assert.Equal((0, 2), (first, last));
    }

    [Fact]
    public void AnAdoptedScreen_KeepsItsText_AndGoesOnBelowIt()
    {
        ushort[] cells = new ushort[10 * 3];
        for (int i = 0; i < cells.Length; i++) cells[i] = 0x0700 | ' ';
        cells[2 * 10] = 0x0700 | 'P';                     // "P" on the last row: the first kernel's panic
        var s = new TextScreen();
        Assert.True(s.Adopt(10, 3, cells));
        Line(ref s, "capture");
        Assert.Equal(("P", "capture", ""), (Row(s, 0), Row(s, 1), Row(s, 2)));
    }

    [Fact]
    public void ScreensItCannotHold_AreRefused()
    {
        var s = new TextScreen();
        Assert.False(s.Init(0, 25));
        Assert.False(s.Init(200, 60));
        s.Write("ignored"u8);                             // no screen: nothing happens
        Assert.Equal(0, s.Columns);
    }

    [Fact]
    public void AnyText_KeepsTheCursorOnTheScreen_AndTheLastLineVisible()
    {
        Gen.Select(Gen.Int[1, 132], Gen.Int[1, 60], Gen.String[Gen.Char[' ', '~'], 0, 400].Array[1, 30])
            .Sample((cols, rows, lines) =>
            {
                var s = new TextScreen();
                Assert.True(s.Init(cols, rows));
                foreach (var l in lines) Line(ref s, l);
                Assert.InRange(s.CursorRow, 0, rows - 1);
                Assert.Equal(0, s.CursorColumn);
                string last = lines[^1];
                if (last.Length == 0 || rows < 2) return;
                // The last line's tail (after wrapping) is on the row above the cursor.
                int tail = last.Length % cols == 0 ? cols : last.Length % cols;
                Assert.Equal(last[^tail..].TrimEnd(), Row(s, s.CursorRow - 1));
            });
    }

    static byte[] Bda(byte mode, ushort columns, byte rowsMinusOne, params ushort[] ports)
    {
        var b = new byte[BiosDataArea.Size];
        for (int i = 0; i < ports.Length; i++) BitConverter.GetBytes(ports[i]).CopyTo(b, 2 * i);
        b[0x49] = mode;
        BitConverter.GetBytes(columns).CopyTo(b, 0x4A);
        b[0x84] = rowsMinusOne;
        return b;
    }

    [Fact]
    public void SeaBiosWithAVgaCard_ReportsColourText80x25()
    {
        // Measured under QEMU 7.2 with -vga std: mode 3, 80 columns, rows - 1 = 24.
        Assert.True(BiosDataArea.TextMode(Bda(3, 80, 24, 0x3F8), out ulong buffer, out int columns, out int rows));
        Assert.Equal((0xB8000UL, 80, 25), (buffer, columns, rows));
        Assert.True(BiosDataArea.TextMode(Bda(7, 80, 0), out buffer, out _, out rows));
        Assert.Equal((0xB0000UL, 25), (buffer, rows));
    }

    [Theory]
    [InlineData(0, 0, 0)]        // no video BIOS (-nodefaults without -vga): all zero
    [InlineData(0x12, 80, 29)]   // a graphics mode
    [InlineData(3, 200, 24)]     // a width no text screen has
    public void NoTextScreen_WithoutAVideoBiosOrInGraphics(byte mode, ushort columns, byte rowsMinusOne)
    {
        Assert.False(BiosDataArea.TextMode(Bda(mode, columns, rowsMinusOne), out _, out _, out _));
    }

    [Fact]
    public void SerialPorts_AreTheOnesTheFirmwareListed()
    {
        var two = Bda(0, 0, 0, 0x3F8, 0x2F8);
        Assert.Equal((0x3F8, 0x2F8, 0), (BiosDataArea.SerialPort(two, 0), BiosDataArea.SerialPort(two, 1), BiosDataArea.SerialPort(two, 2)));
        Assert.Equal(0, BiosDataArea.SerialPort(Bda(0, 0, 0, 0x3F8), 1));
        Assert.Equal(0, BiosDataArea.SerialPort(two, 4));
        Assert.Equal(0, BiosDataArea.SerialPort(new byte[16], 0));
    }
}
