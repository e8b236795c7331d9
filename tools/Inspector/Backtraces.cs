// Every CPU's backtrace, from its saved registers and the stacks in the dump's PT_LOADs: the unwind
// tables come from --kernel's .eh_frame when its build id matches, else from the first kernel's own
// memory (VMCOREINFO's SYMBOL(eh_frame)); frames are named by the symbol table the report uses, and
// given file:line from --kernel's .debug_line when there is one. Linux's "Call Trace:", built the
// way `crash`'s bt -a builds it from a vmcore.
namespace Nmidump.Inspector;

/// <summary>One frame of a backtrace as the report prints it.</summary>
/// <param name="Interrupted">The frame was stopped by a trap (its PC is the interrupted instruction, not a return address).</param>
public sealed record FrameInfo(ulong Address, string? Symbol, ulong Offset, ulong Size, string? File, int? Line, bool Interrupted);

public static class Backtraces
{
    /// <summary>The vmcore's memory as the unwinder reads it: by virtual address, as gdb does.</summary>
    readonly ref struct DumpMemory(VmcoreFile core) : IStackMemory
    {
        readonly VmcoreFile _core = core;

        public bool ReadU64(ulong address, out ulong value)
        {
            Span<byte> b = stackalloc byte[8];
            value = 0;
            if (_core.ReadVirtual(address, b) != 8) return false;
            value = LittleEndian.U64(b, 0);
            return true;
        }
    }

    /// <summary>Chooses the tables, then unwinds every CPU of <paramref name="r"/>; problems become warnings.</summary>
    public static void Build(VmcoreFile core, ReadOnlySpan<byte> info, KernelElf? kernel, Inspection r)
    {
        bool kernelFits = kernel != null && r.BuildIdMatches != false;
        EhFrame? table = null;
        if (kernelFits && kernel!.Unwind != null)
        {
            table = kernel.Unwind;
            r.UnwindSource = $"{r.KernelPath} (.eh_frame, {table.Count} FDEs)";
        }
        else
        {
            if (kernelFits && kernel!.UnwindProblem != null) r.Warnings.Add($"{r.KernelPath}: {kernel.UnwindProblem}; using the dump's own unwind tables");
            table = FromDump(core, info, r);
        }
        DebugLine? lines = null;
        if (kernelFits)
        {
            lines = kernel!.Lines;
            if (lines != null) r.LineSource = $"{r.KernelPath} (.debug_line, {lines.RowCount} rows)";
            else if (kernel.LinesProblem != null) r.Warnings.Add($"{r.KernelPath}: {kernel.LinesProblem}: backtraces have no file:line");
        }

        foreach (CpuState cpu in r.Cpus)
        {
            if (table == null)
            {
                cpu.BacktraceEnd = "no unwind tables";
                cpu.Backtrace.Add(Describe(cpu[UserReg.Rip], exact: true, interrupted: false, r.Symbols, lines));
                continue;
            }
            var memory = new DumpMemory(core);
            Backtrace bt = Unwinder.Unwind(Unwinder.FromPrStatus(cpu.Regs), table, ref memory);
            for (int i = 0; i < bt.Frames.Count; i++)
            {
                UnwoundFrame f = bt.Frames[i];
                // Frame 0 is exact too, but it is where the CPU stopped, not an interrupted caller.
                cpu.Backtrace.Add(Describe(f.Pc, f.Exact, interrupted: i > 0 && f.Exact, r.Symbols, lines));
            }
            cpu.BacktraceEnd = bt.End;
        }
    }

    static FrameInfo Describe(ulong pc, bool exact, bool interrupted, SymbolTable? symbols, DebugLine? lines)
    {
        string? name = null;
        ulong offset = 0, size = 0;
        if (symbols != null && symbols.Lookup(pc, out string n, out ulong start, out size))
        {
            name = n;
            offset = pc - start;
        }
        // A return address names the line of the call: look up the byte before it, as gdb does.
        DebugLine.Row? row = lines?.Find(exact || pc == 0 ? pc : pc - 1);
        return new FrameInfo(pc, name, offset, size, row?.File, row?.Line, interrupted);
    }

    /// <summary>The first kernel's .eh_frame out of its memory in the dump; null with a warning if it cannot be had.</summary>
    static EhFrame? FromDump(VmcoreFile core, ReadOnlySpan<byte> info, Inspection r)
    {
        if (!Vmcoreinfo.FindSymbol(info, "eh_frame", out ulong at) || !Vmcoreinfo.FindSize(info, "eh_frame", out ulong size))
        {
            r.Warnings.Add("VMCOREINFO names no SYMBOL(eh_frame)/SIZE(eh_frame) and no --kernel image gives unwind tables: backtraces show the RIP only");
            return null;
        }
        if (size == 0 || size > DumpInspector.MaxTableSize)
        {
            r.Warnings.Add($"SIZE(eh_frame)={size} is {(size == 0 ? "empty" : "too large")}: backtraces show the RIP only");
            return null;
        }
        var bytes = new byte[size];
        if ((ulong)core.ReadVirtual(at, bytes) != size)
        {
            r.Warnings.Add($"the unwind tables at 0x{at:x} (0x{size:x} bytes) are not in the dump's memory: backtraces show the RIP only");
            return null;
        }
        EhFrame? table = EhFrame.Parse(bytes, at, out string why);
        if (table == null) r.Warnings.Add($"the dump's unwind tables at 0x{at:x} are damaged ({why}): backtraces show the RIP only");
        else r.UnwindSource = $"the dump's .eh_frame at 0x{at:x} ({table.Count} FDEs)";
        return table;
    }
}
