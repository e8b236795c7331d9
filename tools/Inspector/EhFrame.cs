// The unwind tables of a kernel image: its .eh_frame (LSB 5.0 "Exception Frames"; the call frame
// instructions are DWARF 4 section 6.4) read into FDEs sorted by address, and the interpreter that
// turns an FDE's instructions into the rule row at one address. ILC and GNU as both write it; no
// library reads CFI, so this is ours. Expressions (DW_CFA_*expression) are not supported: neither
// producer emits them, and a row that needs one is reported as such, never guessed.
namespace Nmidump.Inspector;

/// <summary>How the caller's value of one register is found (DWARF 4 6.4.1).</summary>
public enum RuleKind : byte
{
    /// <summary>No rule in the row: the unwinder's default for that register applies.</summary>
    Unspecified,
    Undefined,
    SameValue,
    /// <summary>Saved in memory at CFA + Operand.</summary>
    Offset,
    /// <summary>The value is CFA + Operand.</summary>
    ValOffset,
    /// <summary>In register Operand.</summary>
    Register,
    /// <summary>A DWARF expression, which this reader does not evaluate.</summary>
    Expression,
}

public readonly record struct RegisterRule(RuleKind Kind, long Operand = 0);

/// <summary>The rules in force at one address: CFA = register + offset, and one rule per register.</summary>
public sealed class CfaRow
{
    /// <summary>DWARF register numbers 0..16 (rax..r15, rip) and the segment/flags ones gas writes for trap frames (49..52).</summary>
    public const int Registers = 53;

    public int CfaRegister { get; internal set; }
    public long CfaOffset { get; internal set; }
    /// <summary>True when the CFA itself is a DWARF expression (not supported).</summary>
    public bool CfaIsExpression { get; internal set; }
    internal RegisterRule[] Rules { get; } = new RegisterRule[Registers];

    public RegisterRule Rule(int register) => (uint)register < Registers ? Rules[register] : default;

    internal CfaRow Clone()
    {
        var c = new CfaRow { CfaRegister = CfaRegister, CfaOffset = CfaOffset, CfaIsExpression = CfaIsExpression };
        Rules.CopyTo(c.Rules, 0);
        return c;
    }
}

/// <summary>A CIE: what every FDE pointing at it shares.</summary>
public sealed class Cie
{
    public ulong CodeAlignment { get; init; }
    public long DataAlignment { get; init; }
    public int ReturnAddressRegister { get; init; }
    /// <summary>Augmentation "S": FDEs of this CIE describe interrupted code, whose PC is not a return address.</summary>
    public bool SignalFrame { get; init; }
    public byte FdeEncoding { get; init; }
    public required byte[] Initial { get; init; }
}

/// <summary>An FDE: [Start, End) and its instructions, run after its CIE's.</summary>
public sealed record Fde(ulong Start, ulong End, Cie Cie, byte[] Instructions);

public sealed class EhFrame
{
    // DW_EH_PE_* pointer encodings (LSB 5.0 10.5.1).
    const byte PeOmit = 0xFF, PeFormatMask = 0x0F, PeApplicationMask = 0x70, PeIndirect = 0x80;
    const byte PeAbsptr = 0x00, PeUleb128 = 0x01, PeUdata2 = 0x02, PeUdata4 = 0x03, PeUdata8 = 0x04;
    const byte PeSleb128 = 0x09, PeSdata2 = 0x0A, PeSdata4 = 0x0B, PeSdata8 = 0x0C;
    const byte PePcrel = 0x10;

    readonly List<Fde> _fdes;

    public int Count => _fdes.Count;
    public IReadOnlyList<Fde> Fdes => _fdes;

    EhFrame(List<Fde> fdes) => _fdes = fdes;

    /// <summary>
    /// Reads a whole .eh_frame whose first byte is at <paramref name="address"/> (pc-relative
    /// pointers are relative to it). Stops at a zero terminator or the end. Null with a one-line
    /// reason if any entry is malformed.
    /// </summary>
    public static EhFrame? Parse(ReadOnlySpan<byte> section, ulong address, out string reason)
    {
        reason = "";
        var cies = new Dictionary<int, Cie>();
        var fdes = new List<Fde>();
        int at = 0;
        while (at + 4 <= section.Length)
        {
            uint length = LittleEndian.U32(section, at);
            if (length == 0) break;                          // terminator
            if (length == 0xFFFF_FFFF) { reason = $"entry at 0x{at:x} uses the 64-bit format, which no producer here writes"; return null; }
            if (length > (uint)(section.Length - at - 4) || length < 4) { reason = $"entry at 0x{at:x} claims {length} bytes, {section.Length - at - 4} remain"; return null; }
            var entry = new DwarfCursor(section.Slice(0, at + 4 + (int)length), at + 4);
            int idField = entry.Position;
            uint id = entry.U32();
            if (id == 0)
            {
                Cie? cie = ReadCie(ref entry, at, out reason);
                if (cie == null) return null;
                cies[at] = cie;
            }
            else
            {
                int cieAt = idField - (int)id;
                if (!cies.TryGetValue(cieAt, out Cie? cie) && !TryReadCieAt(section, cieAt, cies, out cie))
                {
                    reason = $"FDE at 0x{at:x} points at 0x{cieAt:x}, which is no CIE";
                    return null;
                }
                if (!ReadPointer(ref entry, cie!.FdeEncoding, address, out ulong start)
                    || !ReadPointer(ref entry, (byte)(cie.FdeEncoding & PeFormatMask), address, out ulong range))
                {
                    reason = $"FDE at 0x{at:x}: unsupported or cut pointer encoding 0x{cie.FdeEncoding:x2}";
                    return null;
                }
                // 'z': the augmentation data (ILC's LSDA pointer) is skipped by its length.
                ulong augLength = entry.Uleb();
                if (!entry.Skip(augLength)) { reason = $"FDE at 0x{at:x}: augmentation data runs past the entry"; return null; }
                if (range > 0) fdes.Add(new Fde(start, start + range, cie, entry.Rest().ToArray()));
            }
            if (entry.Failed) { reason = $"entry at 0x{at:x} is cut short"; return null; }
            at += 4 + (int)length;
        }
        fdes.Sort((a, b) => a.Start.CompareTo(b.Start));
        return new EhFrame(fdes);
    }

    static bool TryReadCieAt(ReadOnlySpan<byte> section, int at, Dictionary<int, Cie> cies, out Cie? cie)
    {
        cie = null;
        if (at < 0 || at + 8 > section.Length) return false;
        uint length = LittleEndian.U32(section, at);
        if (length < 4 || length > (uint)(section.Length - at - 4) || LittleEndian.U32(section, at + 4) != 0) return false;
        var r = new DwarfCursor(section.Slice(0, at + 4 + (int)length), at + 8);
        cie = ReadCie(ref r, at, out _);
        if (cie != null) cies[at] = cie;
        return cie != null;
    }

    static Cie? ReadCie(ref DwarfCursor r, int at, out string reason)
    {
        reason = "";
        byte version = r.U8();
        if (version != 1 && version != 3) { reason = $"CIE at 0x{at:x} has version {version} (1 or 3 expected)"; return null; }
        string augmentation = r.CString();
        ulong codeAlign = r.Uleb();
        long dataAlign = r.Sleb();
        int ra = version == 1 ? r.U8() : (int)r.Uleb();
        byte fdeEncoding = PeAbsptr;
        bool signal = false;
        if (augmentation.StartsWith('z'))
        {
            ulong augLength = r.Uleb();
            int augEnd = r.Position + (int)Math.Min(augLength, int.MaxValue);
            foreach (char c in augmentation.AsSpan(1))
            {
                if (c == 'R') fdeEncoding = r.U8();
                else if (c == 'L') r.U8();                               // LSDA encoding
                else if (c == 'P')
                {
                    byte enc = r.U8();
                    if (!ReadPointer(ref r, enc, 0, out _)) { reason = $"CIE at 0x{at:x}: unsupported personality encoding 0x{enc:x2}"; return null; }
                }
                else if (c == 'S') signal = true;
                else break;                                              // unknown: the length skips the rest
            }
            r.Seek(augEnd);
        }
        else if (augmentation.Length > 0)
        {
            reason = $"CIE at 0x{at:x} has augmentation \"{augmentation}\" without 'z': its data cannot be skipped";
            return null;
        }
        if (r.Failed) { reason = $"CIE at 0x{at:x} is cut short"; return null; }
        return new Cie
        {
            CodeAlignment = codeAlign, DataAlignment = dataAlign, ReturnAddressRegister = ra,
            SignalFrame = signal, FdeEncoding = fdeEncoding, Initial = r.Rest().ToArray(),
        };
    }

    /// <summary>Reads an encoded pointer; pc-relative ones are relative to the field's own address.</summary>
    static bool ReadPointer(ref DwarfCursor r, byte encoding, ulong sectionAddress, out ulong value)
    {
        value = 0;
        if (encoding == PeOmit) return true;
        if ((encoding & PeIndirect) != 0) return false;
        ulong fieldAddress = sectionAddress + (ulong)r.Position;
        switch (encoding & PeFormatMask)
        {
            case PeAbsptr: case PeUdata8: case PeSdata8: value = r.U64(); break;
            case PeUdata4: value = r.U32(); break;
            case PeSdata4: value = (ulong)(long)(int)r.U32(); break;
            case PeUdata2: value = r.U16(); break;
            case PeSdata2: value = (ulong)(long)(short)r.U16(); break;
            case PeUleb128: value = r.Uleb(); break;
            case PeSleb128: value = (ulong)r.Sleb(); break;
            default: return false;
        }
        switch (encoding & PeApplicationMask)
        {
            case 0: break;
            case PePcrel: value += fieldAddress; break;
            default: return false;                                      // textrel, datarel, funcrel, aligned
        }
        return !r.Failed;
    }

    /// <summary>The FDE whose range holds <paramref name="pc"/>.</summary>
    public Fde? Find(ulong pc)
    {
        int lo = 0, hi = _fdes.Count - 1, found = -1;
        while (lo <= hi)
        {
            int mid = (lo + hi) >>> 1;
            if (_fdes[mid].Start <= pc) { found = mid; lo = mid + 1; }
            else hi = mid - 1;
        }
        // FDEs do not overlap, but empty gaps do exist: the nearest start below pc may end before it.
        return found >= 0 && pc < _fdes[found].End ? _fdes[found] : null;
    }

    /// <summary>
    /// The row in force at <paramref name="pc"/> (which the FDE must cover): the CIE's initial
    /// instructions, then the FDE's up to the last location at or before pc. Null with a reason for
    /// an opcode this reader does not know.
    /// </summary>
    public static CfaRow? RowAt(Fde fde, ulong pc, out string reason)
    {
        var row = new CfaRow();
        var run = new Interpreter(fde, pc);
        if (!run.Execute(fde.Cie.Initial, row, null, out reason)) return null;
        CfaRow initial = row.Clone();
        if (!run.Execute(fde.Instructions, row, initial, out reason)) return null;
        return row;
    }

    /// <summary>Runs call frame instructions over a row; stops once the location passes the target.</summary>
    struct Interpreter(Fde fde, ulong target)
    {
        ulong _location = fde.Start;

        public bool Execute(byte[] code, CfaRow row, CfaRow? initial, out string reason)
        {
            reason = "";
            var r = new DwarfCursor(code, 0);
            var saved = new Stack<CfaRow>();
            ulong codeAlign = fde.Cie.CodeAlignment;
            long dataAlign = fde.Cie.DataAlignment;
            while (r.Position < code.Length && !r.Failed)
            {
                byte op = r.U8();
                int high = op >> 6, low = op & 0x3F;
                if (high == 1) { if (!Advance((ulong)low * codeAlign)) return true; continue; }         // DW_CFA_advance_loc
                if (high == 2) { Set(row, low, RuleKind.Offset, (long)r.Uleb() * dataAlign); continue; } // DW_CFA_offset
                if (high == 3) { Restore(row, initial, low); continue; }                              // DW_CFA_restore
                switch (op)
                {
                    case 0x00: break;                                                                   // nop
                    case 0x01: reason = "DW_CFA_set_loc is not supported"; return false;
                    case 0x02: if (!Advance(r.U8() * codeAlign)) return true; break;                    // advance_loc1
                    case 0x03: if (!Advance(r.U16() * codeAlign)) return true; break;                   // advance_loc2
                    case 0x04: if (!Advance(r.U32() * codeAlign)) return true; break;                   // advance_loc4
                    case 0x05: { int reg = (int)r.Uleb(); Set(row, reg, RuleKind.Offset, (long)r.Uleb() * dataAlign); break; }
                    case 0x06: Restore(row, initial, (int)r.Uleb()); break;                             // restore_extended
                    case 0x07: Set(row, (int)r.Uleb(), RuleKind.Undefined, 0); break;
                    case 0x08: Set(row, (int)r.Uleb(), RuleKind.SameValue, 0); break;
                    case 0x09: { int reg = (int)r.Uleb(); Set(row, reg, RuleKind.Register, (long)r.Uleb()); break; }
                    case 0x0A: saved.Push(row.Clone()); break;                                           // remember_state
                    case 0x0B:                                                                          // restore_state
                        if (saved.Count == 0) { reason = "DW_CFA_restore_state without a remembered state"; return false; }
                        CfaRow s = saved.Pop();
                        row.CfaRegister = s.CfaRegister; row.CfaOffset = s.CfaOffset; row.CfaIsExpression = s.CfaIsExpression;
                        s.Rules.CopyTo(row.Rules, 0);
                        break;
                    case 0x0C: row.CfaRegister = (int)r.Uleb(); row.CfaOffset = (long)r.Uleb(); row.CfaIsExpression = false; break;
                    case 0x0D: row.CfaRegister = (int)r.Uleb(); break;
                    case 0x0E: row.CfaOffset = (long)r.Uleb(); break;
                    case 0x0F: row.CfaIsExpression = true; r.Skip(r.Uleb()); break;                     // def_cfa_expression
                    case 0x10: { int reg = (int)r.Uleb(); Set(row, reg, RuleKind.Expression, 0); r.Skip(r.Uleb()); break; }
                    case 0x11: { int reg = (int)r.Uleb(); Set(row, reg, RuleKind.Offset, r.Sleb() * dataAlign); break; }
                    case 0x12: row.CfaRegister = (int)r.Uleb(); row.CfaOffset = r.Sleb() * dataAlign; row.CfaIsExpression = false; break;
                    case 0x13: row.CfaOffset = r.Sleb() * dataAlign; break;
                    case 0x14: { int reg = (int)r.Uleb(); Set(row, reg, RuleKind.ValOffset, (long)r.Uleb() * dataAlign); break; }
                    case 0x15: { int reg = (int)r.Uleb(); Set(row, reg, RuleKind.ValOffset, r.Sleb() * dataAlign); break; }
                    case 0x16: { int reg = (int)r.Uleb(); Set(row, reg, RuleKind.Expression, 0); r.Skip(r.Uleb()); break; }
                    case 0x2E: r.Uleb(); break;                                                         // GNU_args_size
                    case 0x2F: { int reg = (int)r.Uleb(); Set(row, reg, RuleKind.Offset, -(long)r.Uleb() * dataAlign); break; }
                    default: reason = $"unknown call frame instruction 0x{op:x2}"; return false;
                }
            }
            if (r.Failed) { reason = "call frame instructions are cut short"; return false; }
            return true;
        }

        /// <summary>Moves the location; false once it passes the target (the row so far is the answer).</summary>
        bool Advance(ulong delta)
        {
            ulong next = _location + delta;
            if (next > target) return false;
            _location = next;
            return true;
        }

        static void Set(CfaRow row, int register, RuleKind kind, long operand)
        {
            if ((uint)register < CfaRow.Registers) row.Rules[register] = new RegisterRule(kind, operand);
        }

        static void Restore(CfaRow row, CfaRow? initial, int register)
        {
            if ((uint)register < CfaRow.Registers) row.Rules[register] = initial?.Rules[register] ?? default;
        }
    }
}
