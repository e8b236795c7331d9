// A backtrace from a CPU's saved registers and the dump's memory, by the image's DWARF CFI
// (EhFrame.cs), the way gdb's and the kernel's ORC unwinders walk a stack: find the row for the PC,
// compute the CFA, recover the caller's registers from it. A frame whose CIE says "S" (the trap
// entry stubs) was entered by an interrupt: its caller's PC is the interrupted instruction, looked
// up as it is; every other caller's PC is a return address, looked up one byte earlier (the call).
namespace Nmidump.Inspector;

/// <summary>Memory the unwinder reads saved registers from (a vmcore's PT_LOADs, or a test's bytes).</summary>
public interface IStackMemory
{
    bool ReadU64(ulong address, out ulong value);
}

/// <summary>One frame: where it is, and whether that PC is exact (innermost or interrupted) or a return address.</summary>
public readonly record struct UnwoundFrame(ulong Pc, bool Exact)
{
    /// <summary>The address to name with a line: the call instruction for a return address.</summary>
    public ulong LookupPc => Exact || Pc == 0 ? Pc : Pc - 1;
}

public sealed record Backtrace(List<UnwoundFrame> Frames, string End);

public static class Unwinder
{
    /// <summary>DWARF register numbers (x86-64 psABI figure 3.36): rax rdx rcx rbx rsi rdi rbp rsp r8..r15, then rip.</summary>
    public const int Rbx = 3, Rbp = 6, Rsp = 7, R12 = 12, R15 = 15, Rip = 16, GeneralRegisters = 17;
    public const int MaxFrames = 64;

    /// <summary>The 17 DWARF registers of a CPU note's pr_reg.</summary>
    public static ulong?[] FromPrStatus(ulong[] regs)
    {
        UserReg[] order = [UserReg.Rax, UserReg.Rdx, UserReg.Rcx, UserReg.Rbx, UserReg.Rsi, UserReg.Rdi, UserReg.Rbp, UserReg.Rsp,
            UserReg.R8, UserReg.R9, UserReg.R10, UserReg.R11, UserReg.R12, UserReg.R13, UserReg.R14, UserReg.R15, UserReg.Rip];
        var result = new ulong?[GeneralRegisters];
        for (int i = 0; i < order.Length; i++) result[i] = regs[(int)order[i]];
        return result;
    }

    /// <summary>
    /// Unwinds from <paramref name="registers"/> (DWARF numbering; null = unknown). The trace ends at
    /// the outermost frame (its CFI leaves the return address undefined), at a PC no FDE covers, at
    /// memory the dump lacks, or after <see cref="MaxFrames"/>; <see cref="Backtrace.End"/> says which.
    /// </summary>
    public static Backtrace Unwind<TMemory>(ulong?[] registers, EhFrame table, ref TMemory memory)
        where TMemory : IStackMemory, allows ref struct
    {
        var frames = new List<UnwoundFrame>();
        var regs = (ulong?[])registers.Clone();
        bool exact = true;
        while (true)
        {
            if (regs[Rip] is not ulong pc) return new Backtrace(frames, "the return address is unknown");
            var frame = new UnwoundFrame(pc, exact);
            frames.Add(frame);
            if (frames.Count == MaxFrames) return new Backtrace(frames, $"stopped after {MaxFrames} frames");
            Fde? fde = table.Find(frame.LookupPc);
            if (fde == null) return new Backtrace(frames, $"no unwind information for 0x{frame.LookupPc:x}");
            CfaRow? row = EhFrame.RowAt(fde, frame.LookupPc, out string why);
            if (row == null) return new Backtrace(frames, $"the CFI at 0x{frame.LookupPc:x} cannot be read: {why}");
            if (row.CfaIsExpression) return new Backtrace(frames, $"the CFA at 0x{frame.LookupPc:x} is a DWARF expression (not supported)");
            if ((uint)row.CfaRegister >= GeneralRegisters || regs[row.CfaRegister] is not ulong cfaBase)
                return new Backtrace(frames, $"the CFA at 0x{frame.LookupPc:x} is based on a register whose value is unknown");
            ulong cfa = cfaBase + (ulong)row.CfaOffset;

            RegisterRule ra = row.Rule(fde.Cie.ReturnAddressRegister);
            if (ra.Kind == RuleKind.Undefined) return new Backtrace(frames, "outermost frame");
            var caller = new ulong?[GeneralRegisters];
            for (int r = 0; r < GeneralRegisters; r++)
            {
                RegisterRule rule = r == Rip ? ra : row.Rule(r);
                switch (rule.Kind)
                {
                    case RuleKind.Unspecified:
                        // The psABI's defaults: the stack pointer is the CFA, callee-saved registers survive the call.
                        if (r == Rsp) caller[r] = cfa;
                        else if (r is Rbx or Rbp or >= R12 and <= R15) caller[r] = regs[r];
                        break;
                    case RuleKind.SameValue: caller[r] = regs[r]; break;
                    case RuleKind.Offset:
                        ulong at = cfa + (ulong)rule.Operand;
                        if (!memory.ReadU64(at, out ulong v))
                        {
                            if (r == Rip) return new Backtrace(frames, $"the return address at 0x{at:x} is not in the dump");
                            break;
                        }
                        caller[r] = v;
                        break;
                    case RuleKind.ValOffset: caller[r] = cfa + (ulong)rule.Operand; break;
                    case RuleKind.Register: caller[r] = rule.Operand is >= 0 and < GeneralRegisters ? regs[rule.Operand] : null; break;
                    default: break;                                  // undefined, expression: unknown
                }
            }
            // A normal caller's frame lies above its callee's; only a trap frame may switch stacks
            // (an IST stack, or the kernel stack below an NMI's). Anything else is a loop or garbage.
            if (!fde.Cie.SignalFrame && (caller[Rsp] is not ulong sp || regs[Rsp] is not ulong oldSp || sp <= oldSp))
                return new Backtrace(frames, "the stack pointer did not move up: stopped");
            exact = fde.Cie.SignalFrame;
            regs = caller;
        }
    }
}
