// Vmcoreinfo: the VMCOREINFO note, `KEY=value\n` lines that tell a dump reader where things are.
// Mirrors Linux's kernel/vmcore_info.c (vmcoreinfo_append_str, the VMCOREINFO_SYMBOL/SIZE/OFFSET/
// LENGTH/NUMBER macros, crash_save_vmcoreinfo's CRASHTIME=) and makedumpfile's line reader.
using System;

// Text forms, as Linux prints them:
//   SYMBOL(name)=ffffffff81000000     hex, lowercase, no 0x (%lx)
//   SIZE(name)=336                    decimal (%lu)
//   OFFSET(struct.field)=112          decimal (%lu)
//   LENGTH(name)=1024                 decimal (%lu)
//   NUMBER(name)=-1                   signed decimal (%ld)
//   KEY=text                          OSRELEASE=, BUILD-ID=, PAGESIZE=, CRASHTIME=, PANIC_MESSAGE=, CPU_MISSING=
// Unlike vmcoreinfo_append_str, which cuts a line that does not fit, a line here goes in whole or not at
// all, so a reader never sees half a value.

/// <summary>
/// Builds VMCOREINFO text in a caller-provided buffer (a static fixed buffer in the kernel): the
/// text is Text[0, Length). Every method writes a whole line or changes nothing and returns false
/// (then <see cref="Overflowed"/> is set). Allocation-free and bounded: usable at crash time.
/// Values are made printable (any byte outside 0x20..0x7E becomes '?'), so a value can never break
/// a line; keys must be printable, without '=', and are refused otherwise.
/// </summary>
public ref struct VmcoreinfoBuilder
{
    private readonly Span<byte> _buffer;
    private int _length;
    private bool _overflowed;

    /// <summary>Continues the text already in buffer[0, length) (a length outside the buffer is clamped).</summary>
    public VmcoreinfoBuilder(Span<byte> buffer, int length)
    {
        _buffer = buffer;
        _length = length < 0 ? 0 : length > buffer.Length ? buffer.Length : length;
        _overflowed = false;
    }

    public readonly int Length => _length;
    public readonly int Capacity => _buffer.Length;
    /// <summary>True once a line was refused for lack of room.</summary>
    public readonly bool Overflowed => _overflowed;
    public readonly ReadOnlySpan<byte> Text => _buffer.Slice(0, _length);

    // ---- Linux's VMCOREINFO_* forms ----------------------------------------------------------------

    /// <summary>SYMBOL(name)=hex.</summary>
    public bool AddSymbol(string name, ulong address) => Put("SYMBOL(", name, ")", ValueKind.Hex, address, default, "", false);
    /// <summary>SIZE(name)=decimal.</summary>
    public bool AddSize(string name, ulong size) => Put("SIZE(", name, ")", ValueKind.Unsigned, size, default, "", false);
    /// <summary>OFFSET(struct.field)=decimal.</summary>
    public bool AddOffset(string structField, ulong offset) => Put("OFFSET(", structField, ")", ValueKind.Unsigned, offset, default, "", false);
    /// <summary>LENGTH(name)=decimal.</summary>
    public bool AddLength(string name, ulong length) => Put("LENGTH(", name, ")", ValueKind.Unsigned, length, default, "", false);
    /// <summary>NUMBER(name)=signed decimal.</summary>
    public bool AddNumber(string name, long value) => Put("NUMBER(", name, ")", ValueKind.Signed, (ulong)value, default, "", false);

    // ---- Plain keys -------------------------------------------------------------------------------

    public bool AddDecimal(string key, long value) => Put("", key, "", ValueKind.Signed, (ulong)value, default, "", false);
    public bool AddUnsigned(string key, ulong value) => Put("", key, "", ValueKind.Unsigned, value, default, "", false);
    public bool AddHex(string key, ulong value) => Put("", key, "", ValueKind.Hex, value, default, "", false);
    public bool AddText(string key, scoped ReadOnlySpan<byte> value) => Put("", key, "", ValueKind.Bytes, 0, value, "", false);
    public bool AddText(string key, string value) => Put("", key, "", ValueKind.String, 0, default, value, false);

    // ---- Replace or append (crash time: CRASHTIME=, PANIC_MESSAGE=, CPU_MISSING=) ------------------

    /// <summary>Removes every line with this key and appends the new one; false (nothing changed) if it cannot fit.</summary>
    public bool SetDecimal(string key, long value) => Put("", key, "", ValueKind.Signed, (ulong)value, default, "", true);
    public bool SetUnsigned(string key, ulong value) => Put("", key, "", ValueKind.Unsigned, value, default, "", true);
    public bool SetHex(string key, ulong value) => Put("", key, "", ValueKind.Hex, value, default, "", true);
    public bool SetText(string key, scoped ReadOnlySpan<byte> value) => Put("", key, "", ValueKind.Bytes, 0, value, "", true);
    public bool SetText(string key, string value) => Put("", key, "", ValueKind.String, 0, default, value, true);

    /// <summary>SIZE(name)=decimal, replacing an earlier SIZE(name) (a size that changes after load, e.g. the page-table pool's).</summary>
    public bool SetSize(string name, ulong size) => Put("SIZE(", name, ")", ValueKind.Unsigned, size, default, "", true);

    /// <summary>Removes every line with this key; returns how many went.</summary>
    public int Remove(string key)
    {
        int removed = 0;
        // Each pass removes one line or ends, so at most Length passes.
        while (Vmcoreinfo.FindLine(_buffer.Slice(0, _length), "", key, "", out int start, out int end))
        {
            RemoveLine(start, end);
            removed++;
        }
        return removed;
    }

    // ---- Internals --------------------------------------------------------------------------------

    private enum ValueKind { Signed, Unsigned, Hex, Bytes, String }

    private bool Put(string prefix, string name, string suffix, ValueKind kind, ulong number, scoped ReadOnlySpan<byte> bytes, string text, bool replace)
    {
        if (name.Length == 0 || !ValidKeyPart(prefix) || !ValidKeyPart(name) || !ValidKeyPart(suffix)) return false;

        // Measure first, so that a line that cannot fit changes nothing.
        int keyLength = prefix.Length + name.Length + suffix.Length;
        int valueLength = kind == ValueKind.Bytes ? bytes.Length
            : kind == ValueKind.String ? text.Length
            : NumberLength(kind, number);
        long lineLength = (long)keyLength + 1 + valueLength + 1;

        long freed = 0;
        if (replace)
        {
            ReadOnlySpan<byte> current = _buffer.Slice(0, _length);
            int from = 0;
            // Bounded: each match moves `from` past a whole line.
            while (from < current.Length && Vmcoreinfo.FindLine(current.Slice(from), prefix, name, suffix, out int s, out int e))
            {
                freed += e - s;
                from += e;
            }
        }
        // Text resumed from elsewhere may lack its last '\n': the new line must not join it. (If that
        // last line is one being replaced, the byte reserved here goes unused.)
        bool separate = _length > 0 && _buffer[_length - 1] != (byte)'\n';
        if (_length - freed + lineLength + (separate ? 1 : 0) > _buffer.Length)
        {
            _overflowed = true;
            return false;
        }
        if (replace)
        {
            while (Vmcoreinfo.FindLine(_buffer.Slice(0, _length), prefix, name, suffix, out int s, out int e))
                RemoveLine(s, e);
        }

        int p = _length;
        if (p > 0 && _buffer[p - 1] != (byte)'\n') _buffer[p++] = (byte)'\n';
        p = PutAscii(p, prefix);
        p = PutAscii(p, name);
        p = PutAscii(p, suffix);
        _buffer[p++] = (byte)'=';
        if (kind == ValueKind.Bytes)
        {
            for (int i = 0; i < bytes.Length; i++) _buffer[p++] = Printable(bytes[i]);
        }
        else if (kind == ValueKind.String)
        {
            for (int i = 0; i < text.Length; i++) _buffer[p++] = Printable(text[i]);
        }
        else
        {
            p = PutNumber(p, kind, number);
        }
        _buffer[p++] = (byte)'\n';
        _length = p;
        return true;
    }

    // Deletes text[start, end) (a whole line with its '\n') by moving the rest down.
    private void RemoveLine(int start, int end)
    {
        int n = _length - end;
        for (int i = 0; i < n; i++) _buffer[start + i] = _buffer[end + i];
        _length -= end - start;
    }

    private int PutAscii(int p, string s)
    {
        for (int i = 0; i < s.Length; i++) _buffer[p++] = (byte)s[i];
        return p;
    }

    private static int NumberLength(ValueKind kind, ulong number)
    {
        bool negative = kind == ValueKind.Signed && (long)number < 0;
        ulong v = negative ? 0UL - number : number;
        int digits = 0;
        do
        {
            digits++;
            v = kind == ValueKind.Hex ? v >> 4 : v / 10;
        } while (v != 0);
        return digits + (negative ? 1 : 0);
    }

    private int PutNumber(int p, ValueKind kind, ulong number)
    {
        int length = NumberLength(kind, number);
        bool negative = kind == ValueKind.Signed && (long)number < 0;
        ulong v = negative ? 0UL - number : number;
        if (negative) _buffer[p] = (byte)'-';
        int q = p + length;
        do
        {
            int d = kind == ValueKind.Hex ? (int)(v & 0xF) : (int)(v % 10);
            _buffer[--q] = (byte)(d < 10 ? '0' + d : 'a' + d - 10);
            v = kind == ValueKind.Hex ? v >> 4 : v / 10;
        } while (v != 0);
        return p + length;
    }

    private static bool ValidKeyPart(string s)
    {
        for (int i = 0; i < s.Length; i++)
            if (s[i] <= 0x20 || s[i] > 0x7E || s[i] == '=') return false;
        return true;
    }

    private static byte Printable(int c) => c >= 0x20 && c <= 0x7E ? (byte)c : (byte)'?';
}

/// <summary>The VMCOREINFO note and the line reader (which trusts nothing in the text).</summary>
public static partial class Vmcoreinfo
{
    public const string NoteName = "VMCOREINFO";
    public const uint NoteType = 0;
    /// <summary>
    /// The text capacity the kernel uses: two pages (Linux's VMCOREINFO_BYTES is one, but lists no
    /// per-CPU values; 255 CPUs' lists and 64 RAM ranges need more).
    /// </summary>
    public const int DefaultCapacity = 8192;

    /// <summary>Bytes a note buffer for this much text needs: header, "VMCOREINFO\0" padded to 12, text, terminator.</summary>
    public static int NoteBufferSize(int textCapacity) => ElfNote.SizeOf(NoteName.Length, textCapacity) + ElfNote.TerminatorSize;

    /// <summary>
    /// Writes the note (update_vmcoreinfo_note()): header, name, the text padded to 4, then the zero
    /// terminator. Returns the bytes written, or 0 if they do not fit.
    /// </summary>
    public static int WriteNote(Span<byte> dst, ReadOnlySpan<byte> text)
    {
        int size = ElfNote.SizeOf(NoteName.Length, text.Length);
        if (size + ElfNote.TerminatorSize > dst.Length) return 0;
        if (ElfNote.Write(dst, NoteName, NoteType, text) != size) return 0;
        ElfNote.WriteTerminator(dst.Slice(size));
        return size + ElfNote.TerminatorSize;
    }

    /// <summary>The text of the first VMCOREINFO note in a note buffer or merged PT_NOTE.</summary>
    public static bool FindNote(ReadOnlySpan<byte> notes, out ReadOnlySpan<byte> text)
    {
        if (ElfNote.Find(notes, NoteName, NoteType, out ElfNoteEntry note))
        {
            text = note.Desc;
            return true;
        }
        text = default;
        return false;
    }

    // ---- Reader ------------------------------------------------------------------------------------

    /// <summary>The value of the first line "key=value" (up to '\n' or the end of the text).</summary>
    public static bool Find(ReadOnlySpan<byte> text, string key, out ReadOnlySpan<byte> value) => FindValue(text, "", key, "", out value);

    public static bool FindSymbol(ReadOnlySpan<byte> text, string name, out ulong address)
    {
        address = 0;
        return FindValue(text, "SYMBOL(", name, ")", out ReadOnlySpan<byte> v) && ParseHex(v, out address);
    }

    public static bool FindSize(ReadOnlySpan<byte> text, string name, out ulong size)
    {
        size = 0;
        return FindValue(text, "SIZE(", name, ")", out ReadOnlySpan<byte> v) && ParseUnsigned(v, out size);
    }

    public static bool FindOffset(ReadOnlySpan<byte> text, string structField, out ulong offset)
    {
        offset = 0;
        return FindValue(text, "OFFSET(", structField, ")", out ReadOnlySpan<byte> v) && ParseUnsigned(v, out offset);
    }

    public static bool FindLength(ReadOnlySpan<byte> text, string name, out ulong length)
    {
        length = 0;
        return FindValue(text, "LENGTH(", name, ")", out ReadOnlySpan<byte> v) && ParseUnsigned(v, out length);
    }

    public static bool FindNumber(ReadOnlySpan<byte> text, string name, out long value)
    {
        value = 0;
        return FindValue(text, "NUMBER(", name, ")", out ReadOnlySpan<byte> v) && ParseDecimal(v, out value);
    }

    public static bool FindDecimal(ReadOnlySpan<byte> text, string key, out long value)
    {
        value = 0;
        return Find(text, key, out ReadOnlySpan<byte> v) && ParseDecimal(v, out value);
    }

    public static bool FindUnsigned(ReadOnlySpan<byte> text, string key, out ulong value)
    {
        value = 0;
        return Find(text, key, out ReadOnlySpan<byte> v) && ParseUnsigned(v, out value);
    }

    public static bool FindHex(ReadOnlySpan<byte> text, string key, out ulong value)
    {
        value = 0;
        return Find(text, key, out ReadOnlySpan<byte> v) && ParseHex(v, out value);
    }

    /// <summary>Unsigned decimal, 1..20 digits, no sign, no overflow.</summary>
    public static bool ParseUnsigned(ReadOnlySpan<byte> s, out ulong value)
    {
        value = 0;
        if (s.Length == 0) return false;
        for (int i = 0; i < s.Length; i++)
        {
            int d = s[i] - '0';
            if (d < 0 || d > 9) return false;
            if (value > (ulong.MaxValue - (ulong)d) / 10) return false;
            value = value * 10 + (ulong)d;
        }
        return true;
    }

    /// <summary>Signed decimal with an optional '-', long.MinValue included.</summary>
    public static bool ParseDecimal(ReadOnlySpan<byte> s, out long value)
    {
        value = 0;
        bool negative = s.Length > 0 && s[0] == (byte)'-';
        if (!ParseUnsigned(negative ? s.Slice(1) : s, out ulong magnitude)) return false;
        if (negative ? magnitude > 0x8000_0000_0000_0000UL : magnitude > (ulong)long.MaxValue) return false;
        value = negative ? (long)(0UL - magnitude) : (long)magnitude;
        return true;
    }

    /// <summary>Hex, either case, with or without "0x", 1..16 digits.</summary>
    public static bool ParseHex(ReadOnlySpan<byte> s, out ulong value)
    {
        value = 0;
        if (s.Length >= 2 && s[0] == (byte)'0' && (s[1] == (byte)'x' || s[1] == (byte)'X')) s = s.Slice(2);
        if (s.Length == 0) return false;
        for (int i = 0; i < s.Length; i++)
        {
            int c = s[i], d;
            if (c >= '0' && c <= '9') d = c - '0';
            else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
            else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
            else return false;
            if ((value >> 60) != 0) return false;
            value = value << 4 | (uint)d;
        }
        return true;
    }

    private static bool FindValue(ReadOnlySpan<byte> text, string prefix, string name, string suffix, out ReadOnlySpan<byte> value)
        => FindValue(text, prefix, new Name(name), suffix, out value);

    /// <summary>The value of the first prefix+name+suffix= line.</summary>
    private static bool FindValue(ReadOnlySpan<byte> text, string prefix, Name name, string suffix, out ReadOnlySpan<byte> value)
    {
        if (FindLine(text, prefix, name, suffix, out int start, out int end))
        {
            int valueStart = start + prefix.Length + name.Length + suffix.Length + 1;
            int valueEnd = end > start && text[end - 1] == (byte)'\n' ? end - 1 : end;
            value = text.Slice(valueStart, valueEnd - valueStart);
            return true;
        }
        value = default;
        return false;
    }

    /// <summary>
    /// The first line that starts with prefix+name+suffix followed by '=': [start, end) with end
    /// just past its '\n' (or the end of the text). One pass over the text.
    /// </summary>
    internal static bool FindLine(ReadOnlySpan<byte> text, string prefix, string name, string suffix, out int start, out int end)
        => FindLine(text, prefix, new Name(name), suffix, out start, out end);

    private static bool FindLine(ReadOnlySpan<byte> text, string prefix, Name name, string suffix, out int start, out int end)
    {
        start = end = 0;
        int nameLength = name.Length;
        if (nameLength == 0) return false;
        int keyLength = prefix.Length + nameLength + suffix.Length;
        int lineStart = 0;
        while (lineStart < text.Length)
        {
            int lineEnd = lineStart;
            while (lineEnd < text.Length && text[lineEnd] != (byte)'\n') lineEnd++;
            if (lineEnd - lineStart > keyLength && text[lineStart + keyLength] == (byte)'='
                && Matches(text.Slice(lineStart), 0, prefix)
                && name.Matches(text.Slice(lineStart + prefix.Length, nameLength))
                && Matches(text.Slice(lineStart), prefix.Length + nameLength, suffix))
            {
                start = lineStart;
                end = lineEnd < text.Length ? lineEnd + 1 : lineEnd;
                return true;
            }
            lineStart = lineEnd + 1;
        }
        return false;
    }

    /// <summary>A key's name: text from the kernel's own code, or bytes read from the VMCOREINFO itself.</summary>
    private readonly ref struct Name
    {
        private readonly string _text;
        private readonly ReadOnlySpan<byte> _bytes;
        private readonly bool _isText;
        public Name(string text) { _text = text; _bytes = default; _isText = true; }
        public Name(ReadOnlySpan<byte> bytes) { _text = ""; _bytes = bytes; _isText = false; }
        public int Length => _isText ? _text.Length : _bytes.Length;
        /// <summary>Whether <paramref name="candidate"/> (exactly Length bytes) is this name.</summary>
        public bool Matches(ReadOnlySpan<byte> candidate) => _isText ? Vmcoreinfo.Matches(candidate, 0, _text) : Bytes.Equal(candidate, _bytes);
    }

    private static bool Matches(ReadOnlySpan<byte> line, int at, string s)
    {
        for (int i = 0; i < s.Length; i++)
            if (line[at + i] != s[i]) return false;
        return true;
    }
}
