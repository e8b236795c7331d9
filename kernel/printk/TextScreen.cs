// A text console's screen, as Linux's vgacon keeps it: character cells (the character in the low
// byte, the attribute in the high one) filled line by line, wrapping at the right edge and scrolling
// up at the bottom. It works on a copy in RAM; the driver (arch-x86/VgaText.cs) copies the rows
// that changed to the video buffer, since under an emulator every write to that buffer is a device
// access and the scroll's read-back would be one too. Pure logic: host tests read the cells back.
using System;

public unsafe struct TextScreen
{
    public const int MaxCells = BiosDataArea.MaxColumns * BiosDataArea.MaxRows;
    /// <summary>Light grey on black, the BIOS's default attribute.</summary>
    public const byte DefaultAttribute = 0x07;

    fixed ushort _cells[MaxCells];
    int _columns, _rows, _row, _column;
    // The rows changed since the last TakeDirty, as a range; -1 when none.
    int _dirtyFirst, _dirtyLast;

    public readonly int Columns => _columns;
    public readonly int Rows => _rows;
    /// <summary>Where the next character goes (the hardware cursor is put there).</summary>
    public readonly int CursorRow => _row;
    public readonly int CursorColumn => _column;

    /// <summary>A blank screen of this size (false, and nothing set up, for a size it cannot hold).</summary>
    public bool Init(int columns, int rows)
    {
        if (columns <= 0 || rows <= 0 || columns * rows > MaxCells) return false;
        _columns = columns;
        _rows = rows;
        _row = _column = 0;
        for (int i = 0; i < columns * rows; i++) _cells[i] = Blank;
        MarkDirty(0, rows - 1);
        return true;
    }

    /// <summary>
    /// Takes over what a screen already shows (the capture kernel continues below the first
    /// kernel's panic): the cells as given, and output resumes on a fresh line at the bottom.
    /// </summary>
    public bool Adopt(int columns, int rows, ReadOnlySpan<ushort> cells)
    {
        if (!Init(columns, rows) || cells.Length < columns * rows) return false;
        for (int i = 0; i < columns * rows; i++) _cells[i] = cells[i];
        _row = rows - 1;
        _column = 0;
        NewLine();
        return true;
    }

    static ushort Blank => (ushort)(DefaultAttribute << 8 | ' ');

    public readonly ushort Cell(int row, int column) => _cells[row * _columns + column];

    /// <summary>Writes text: '\n' starts a new line, '\r' is dropped (the serial console needs it, a screen does not), anything unprintable shows as '?'.</summary>
    public void Write(ReadOnlySpan<byte> text)
    {
        if (_columns == 0) return;
        for (int i = 0; i < text.Length; i++)
        {
            byte b = text[i];
            if (b == (byte)'\n') { NewLine(); continue; }
            if (b == (byte)'\r') continue;
            if (_column == _columns) NewLine();
            _cells[_row * _columns + _column] = (ushort)(DefaultAttribute << 8 | (b >= 0x20 && b < 0x7F ? b : '?'));
            MarkDirty(_row, _row);
            _column++;
        }
    }

    /// <summary>Ends the line: the next text starts at the left of the next row, scrolling the screen up at the bottom.</summary>
    public void NewLine()
    {
        if (_columns == 0) return;
        _column = 0;
        if (_row < _rows - 1)
        {
            _row++;
            return;
        }
        int last = (_rows - 1) * _columns;
        for (int i = 0; i < last; i++) _cells[i] = _cells[i + _columns];
        for (int i = last; i < last + _columns; i++) _cells[i] = Blank;
        MarkDirty(0, _rows - 1);
    }

    /// <summary>The rows changed since the last call (first > last when none), and forgets them.</summary>
    public void TakeDirty(out int first, out int last)
    {
        first = _dirtyFirst;
        last = _dirtyLast;
        if (first < 0) { first = 0; last = -1; }
        _dirtyFirst = _dirtyLast = -1;
    }

    void MarkDirty(int first, int last)
    {
        if (_dirtyFirst < 0 || first < _dirtyFirst) _dirtyFirst = first;
        if (last > _dirtyLast) _dirtyLast = last;
    }

    /// <summary>Where a row's cells start (the driver copies them from here).</summary>
    public ushort* RowCells(int row)
    {
        fixed (ushort* p = _cells) return p + row * _columns;
    }
}
