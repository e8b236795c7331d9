// Address -> file:line from a linked image's .debug_line (DWARF 4 section 6.2, versions 2 to 4:
// what ilc, nasm -F dwarf and GNU as --gdwarf-4 write). Every line program is run once into sorted
// sequences; a lookup is a binary search. Our own reader: LibObjectFile reads these tables only
// with its .debug_info parse switched off (it fails on ilc's unit padding), and a dependency for
// 150 lines is not worth it. DWARF 5 headers (directory/file entry formats) are refused by name.
namespace Nmidump.Inspector;

public sealed class DebugLine
{
    public readonly record struct Row(ulong Address, string File, int Line);

    // DW_LNS_* and DW_LNE_* (DWARF 4 6.2.5.2, 6.2.5.3).
    const byte LnsCopy = 1, LnsAdvancePc = 2, LnsAdvanceLine = 3, LnsSetFile = 4, LnsConstAddPc = 8, LnsFixedAdvancePc = 9;
    const byte LneEndSequence = 1, LneSetAddress = 2;

    /// <summary>Each sequence sorted by address; its last row is the end_sequence address (one past the code).</summary>
    readonly List<Row[]> _sequences = [];

    public int Tables { get; private set; }
    public int RowCount => _sequences.Sum(s => s.Length);

    DebugLine() { }

    /// <summary>Reads every line table of the section, or returns null with a one-line reason.</summary>
    public static DebugLine? Parse(ReadOnlySpan<byte> section, out string reason)
    {
        reason = "";
        var result = new DebugLine();
        int at = 0;
        while (at + 4 <= section.Length)
        {
            uint length = LittleEndian.U32(section, at);
            if (length == 0xFFFF_FFFF) { reason = $"line table at 0x{at:x} uses 64-bit DWARF"; return null; }
            if (length > (uint)(section.Length - at - 4)) { reason = $"line table at 0x{at:x} claims {length} bytes, {section.Length - at - 4} remain"; return null; }
            if (!result.ReadTable(section.Slice(at + 4, (int)length), out reason))
            {
                reason = $"line table at 0x{at:x}: {reason}";
                return null;
            }
            result.Tables++;
            at += 4 + (int)length;
        }
        result._sequences.Sort((a, b) => a[0].Address.CompareTo(b[0].Address));
        return result;
    }

    bool ReadTable(ReadOnlySpan<byte> t, out string reason)
    {
        reason = "";
        if (t.Length < 2) { reason = "cut short"; return false; }
        ushort version = LittleEndian.U16(t, 0);
        if (version is < 2 or > 4) { reason = $"version {version} (2 to 4 supported)"; return false; }
        var r = new DwarfCursor(t, 2);
        uint headerLength = r.U32();
        int program = r.Position + (int)Math.Min(headerLength, (uint)t.Length);
        byte minInstruction = r.U8();
        if (version >= 4) r.U8();                                    // maximum_operations_per_instruction: 1 on x86
        r.U8();                                                      // default_is_stmt: every row counts here
        sbyte lineBase = (sbyte)r.U8();
        byte lineRange = r.U8();
        byte opcodeBase = r.U8();
        if (r.Failed) { reason = "header cut short"; return false; }
        if (lineRange == 0 || opcodeBase == 0) { reason = "line_range or opcode_base is 0"; return false; }
        var standardLengths = new byte[opcodeBase];
        for (int i = 1; i < opcodeBase; i++) standardLengths[i] = r.U8();
        var directories = new List<string> { "" };                  // 0: the compilation directory, not named here
        while (!r.Failed && r.Peek() != 0) directories.Add(r.CString());
        r.U8();
        var files = new List<string> { "" };                        // file numbers start at 1 before DWARF 5
        while (!r.Failed && r.Peek() != 0)
        {
            string name = r.CString();
            ulong dir = r.Uleb();
            r.Uleb();                                               // modification time
            r.Uleb();                                               // length
            files.Add(dir > 0 && dir < (ulong)directories.Count && !name.StartsWith('/') ? directories[(int)dir] + "/" + name : name);
        }
        if (r.Failed || program > t.Length) { reason = "header cut short"; return false; }

        r = new DwarfCursor(t, program);
        ulong address = 0;
        int file = 1, line = 1;
        var sequence = new List<Row>();
        while (r.Position < t.Length && !r.Failed)
        {
            byte op = r.U8();
            if (op >= opcodeBase)
            {
                int adjusted = op - opcodeBase;
                address += (ulong)(adjusted / lineRange * minInstruction);
                line += lineBase + adjusted % lineRange;
                sequence.Add(RowAt(address, files, file, line));
                continue;
            }
            switch (op)
            {
                case 0:
                    ulong length = r.Uleb();
                    int next = r.Position + (int)Math.Min(length, int.MaxValue);
                    byte sub = r.U8();
                    if (sub == LneEndSequence)
                    {
                        sequence.Add(RowAt(address, files, file, line));
                        if (sequence.Count > 1) _sequences.Add([.. sequence.OrderBy(x => x.Address)]);
                        sequence.Clear();
                        address = 0; file = 1; line = 1;
                    }
                    else if (sub == LneSetAddress) address = r.U64();
                    if (next > t.Length) { reason = "extended opcode runs past the table"; return false; }
                    r = new DwarfCursor(t, next);                        // define_file, set_discriminator, vendor ones: skipped
                    break;
                case LnsCopy: sequence.Add(RowAt(address, files, file, line)); break;
                case LnsAdvancePc: address += r.Uleb() * minInstruction; break;
                case LnsAdvanceLine: line += (int)r.Sleb(); break;
                case LnsSetFile: file = (int)Math.Min(r.Uleb(), int.MaxValue); break;
                case LnsConstAddPc: address += (ulong)((255 - opcodeBase) / lineRange * minInstruction); break;
                case LnsFixedAdvancePc: address += r.U16(); break;
                default:
                    for (int i = 0; i < standardLengths[op]; i++) r.Uleb();   // set_column, negate_stmt, ... : operands skipped
                    break;
            }
        }
        if (r.Failed) { reason = "line program cut short"; return false; }
        return true;
    }

    static Row RowAt(ulong address, List<string> files, int file, int line)
        => new(address, file > 0 && file < files.Count ? files[file] : "", line);

    /// <summary>The row covering <paramref name="pc"/> (the last at or before it in its sequence), or null.</summary>
    public Row? Find(ulong pc)
    {
        foreach (Row[] s in _sequences)
        {
            if (pc < s[0].Address || pc >= s[^1].Address) continue;
            int lo = 0, hi = s.Length - 1;
            while (lo < hi)
            {
                int mid = (lo + hi + 1) >>> 1;
                if (s[mid].Address <= pc) lo = mid;
                else hi = mid - 1;
            }
            return s[lo].File.Length == 0 ? null : s[lo];
        }
        return null;
    }

    public IEnumerable<Row> Rows => _sequences.SelectMany(s => s);
}
