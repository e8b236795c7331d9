// A bounds-checked little-endian cursor over DWARF bytes (.eh_frame, .debug_line): fixed-size
// fields, LEB128 (DWARF 4 section 7.6) and NUL-terminated strings. A read past the end returns
// zero, moves to the end and sets Failed, so a damaged table ends a parse with a reason instead of
// an exception.
using System.Text;

namespace Nmidump.Inspector;

public ref struct DwarfCursor(ReadOnlySpan<byte> bytes, int position)
{
    readonly ReadOnlySpan<byte> _bytes = bytes;
    public int Position { get; private set; } = position;
    public bool Failed { get; private set; }

    bool Take(int n, out int at)
    {
        at = Position;
        if (Failed || n > _bytes.Length - Position) { Fail(); return false; }
        Position += n;
        return true;
    }

    void Fail()
    {
        Failed = true;
        Position = _bytes.Length;
    }

    public readonly byte Peek() => Position < _bytes.Length ? _bytes[Position] : (byte)0;
    public byte U8() => Take(1, out int at) ? _bytes[at] : (byte)0;
    public ushort U16() => Take(2, out int at) ? LittleEndian.U16(_bytes, at) : (ushort)0;
    public uint U32() => Take(4, out int at) ? LittleEndian.U32(_bytes, at) : 0;
    public ulong U64() => Take(8, out int at) ? LittleEndian.U64(_bytes, at) : 0;

    public ulong Uleb()
    {
        ulong v = 0;
        for (int shift = 0; ; shift += 7)
        {
            byte b = U8();
            if (shift < 64) v |= (ulong)(b & 0x7F) << shift;
            if ((b & 0x80) == 0 || Failed) return v;
        }
    }

    public long Sleb()
    {
        long v = 0;
        int shift = 0;
        byte b;
        do
        {
            b = U8();
            if (shift < 64) v |= (long)(b & 0x7F) << shift;
            shift += 7;
        } while ((b & 0x80) != 0 && !Failed);
        if (shift < 64 && (b & 0x40) != 0) v |= -1L << shift;
        return v;
    }

    public string CString()
    {
        int nul = _bytes.Slice(Position).IndexOf((byte)0);
        if (nul < 0) { Fail(); return ""; }
        string s = Encoding.UTF8.GetString(_bytes.Slice(Position, nul));
        Position += nul + 1;
        return s;
    }

    public bool Skip(ulong n)
    {
        if (n > (ulong)(_bytes.Length - Position)) { Fail(); return false; }
        Position += (int)n;
        return true;
    }

    /// <summary>Moves forward to <paramref name="position"/>; moving back or past the end fails.</summary>
    public void Seek(int position)
    {
        if (position < Position || position > _bytes.Length) Fail();
        else Position = position;
    }

    public readonly ReadOnlySpan<byte> Rest() => _bytes.Slice(Position);
}
