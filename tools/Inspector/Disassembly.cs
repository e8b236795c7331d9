// A few instructions around a saved RIP, decoded with Iced from the code bytes the dump holds.
// x86 cannot be decoded backwards, so the decoder starts where a start is known (the function's
// first byte, from the symbol table) or, failing that, at the earliest byte of a short window
// before RIP from which decoding lands exactly on RIP, as Linux's scripts/decodecode does for the
// "Code:" line of an oops. Output is AT&T syntax, as objdump and gdb print by default.
using System.Text;
using Iced.Intel;

namespace Nmidump.Inspector;

/// <summary>One decoded instruction.</summary>
/// <param name="AtRip">True for the instruction at the saved RIP (printed with "=>", as gdb marks it).</param>
public sealed record CodeLine(ulong Address, string Bytes, string Text, bool AtRip);

public static class Disassembly
{
    /// <summary>How far before RIP a start without a symbol is looked for (Linux's "Code:" shows 42 bytes).</summary>
    public const int ScanBack = 48;
    /// <summary>How far into a function decoding from its first byte is still worth it.</summary>
    public const int MaxFromSymbol = 4096;
    /// <summary>Bytes read after RIP: enough for a few of the longest (15-byte) instructions.</summary>
    public const int After = 64;

    /// <summary>
    /// Decodes <paramref name="code"/> (the dump's bytes from <paramref name="codeStart"/> on) and
    /// returns up to <paramref name="before"/> instructions before RIP, the one at RIP and up to
    /// <paramref name="after"/> after it. Empty when RIP is not inside the bytes or no decoding
    /// lands on it.
    /// </summary>
    public static List<CodeLine> Around(byte[] code, ulong codeStart, ulong rip, ulong? functionStart, SymbolTable? symbols,
        int before = 4, int after = 4)
    {
        if (rip < codeStart || rip - codeStart >= (ulong)code.Length) return [];
        var starts = new List<ulong>();
        if (functionStart is ulong f && f >= codeStart && f <= rip) starts.Add(f);
        ulong earliest = rip - codeStart > ScanBack ? rip - ScanBack : codeStart;
        for (ulong s = earliest; s <= rip; s++) starts.Add(s);

        foreach (ulong start in starts)
        {
            List<Instruction>? decoded = DecodeUpTo(code, codeStart, start, rip, after);
            if (decoded == null) continue;
            int at = decoded.FindIndex(i => i.IP == rip);
            int first = Math.Max(0, at - before);
            var formatter = new GasFormatter(symbols == null ? null : new Resolver(symbols));
            formatter.Options.FirstOperandCharIndex = 7;
            formatter.Options.UppercaseHex = false;        // objdump's and gdb's 0xc0de0000
            var lines = new List<CodeLine>();
            for (int i = first; i < decoded.Count && i <= at + after; i++)
            {
                Instruction ins = decoded[i];
                var text = new StringOutput();
                formatter.Format(ins, text);
                int offset = (int)(ins.IP - codeStart);
                string bytes = Convert.ToHexStringLower(code, offset, ins.Length);
                lines.Add(new CodeLine(ins.IP, Spaced(bytes), ins.IsInvalid ? "(bad)" : text.ToStringAndReset(), ins.IP == rip));
            }
            return lines;
        }
        return [];
    }

    // Decodes from start; null unless an instruction begins exactly at rip with none invalid before it.
    // After RIP decoding goes on to `after` more instructions or the end of the bytes.
    static List<Instruction>? DecodeUpTo(byte[] code, ulong codeStart, ulong start, ulong rip, int after)
    {
        int offset = (int)(start - codeStart);
        var decoder = Iced.Intel.Decoder.Create(64, new ByteArrayCodeReader(code, offset, code.Length - offset), start);
        var list = new List<Instruction>();
        ulong end = codeStart + (ulong)code.Length;
        int fromRip = -1;
        while (decoder.IP < end && fromRip < after)
        {
            decoder.Decode(out Instruction ins);
            // Each instruction before RIP ends at or before it, so the first one that does not start
            // before RIP starts exactly at RIP.
            if (ins.IP < rip && (ins.IsInvalid || ins.NextIP > rip)) return null;
            list.Add(ins);
            if (ins.IP >= rip)
            {
                fromRip++;
                if (ins.IsInvalid) break;
            }
        }
        return fromRip >= 0 ? list : null;
    }

    static string Spaced(string hex)
    {
        var sb = new StringBuilder(hex.Length * 3 / 2);
        for (int i = 0; i < hex.Length; i += 2)
        {
            if (i > 0) sb.Append(' ');
            sb.Append(hex, i, 2);
        }
        return sb.ToString();
    }

    /// <summary>Names branch targets and addresses in operands ("call Kernel_Panic__KernelPanic").</summary>
    sealed class Resolver(SymbolTable symbols) : ISymbolResolver
    {
        public bool TryGetSymbol(in Instruction instruction, int operand, int instructionOperand, ulong address, int addressSize, out SymbolResult symbol)
        {
            if (address >= 0x1000 && symbols.Lookup(address, out string name, out ulong start, out _))
            {
                symbol = new SymbolResult(start, name);
                return true;
            }
            symbol = default;
            return false;
        }
    }
}
