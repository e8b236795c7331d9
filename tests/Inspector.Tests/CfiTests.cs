// The CFI interpreter, the unwinder and the line-table reader against the GNU toolchain that the
// build uses: a small program with every kind of CFI the kernel's producers write (pushes,
// def_cfa_register, remember/restore_state, a signal frame, an outermost frame) is assembled with
// `as -g --gdwarf-4` and linked; our rows must equal readelf's --debug-dump=frames-interp at every
// address and our lines addr2line's. Then properties of the unwinder on random frame chains, and
// the one-line reasons for damaged tables.
using System.Diagnostics;
using System.Text.RegularExpressions;
using CsCheck;

namespace Nmidump.Inspector.Tests;

public class CfiTests : IDisposable
{
    readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    const string Program = """
                .intel_syntax noprefix
                .text
                .globl outer, leaf, framed, trap, stateful
        outer:
                .cfi_startproc simple
                .cfi_def_cfa rsp, 0
                .cfi_undefined rip
                call framed
                hlt
                .cfi_endproc
        framed:
                .cfi_startproc
                push rbp
                .cfi_adjust_cfa_offset 8
                .cfi_rel_offset rbp, 0
                mov rbp, rsp
                .cfi_def_cfa_register rbp
                push rbx
                .cfi_offset rbx, -24
                push r12
                .cfi_offset r12, -32
                sub rsp, 0x100
                call leaf
                add rsp, 0x100
                pop r12
                pop rbx
                pop rbp
                .cfi_def_cfa rsp, 8
                ret
                .cfi_endproc
        leaf:
                .cfi_startproc
                nop
                ret
                .cfi_endproc
        stateful:
                .cfi_startproc
                push r13
                .cfi_adjust_cfa_offset 8
                .cfi_rel_offset r13, 0
                test eax, eax
                .cfi_remember_state
                jz 1f
                pop r13
                .cfi_adjust_cfa_offset -8
                .cfi_restore r13
                ret
        1:
                .cfi_restore_state
                pop r13
                .cfi_adjust_cfa_offset -8
                ret
                .cfi_endproc
        trap:
                .cfi_startproc simple
                .cfi_signal_frame
                .cfi_def_cfa rsp, 40
                .cfi_offset 16, -40
                .cfi_offset rsp, -16
                push 0
                .cfi_adjust_cfa_offset 8
                push rax
                .cfi_adjust_cfa_offset 8
                .cfi_rel_offset rax, 0
                call leaf
                add rsp, 16
                .cfi_adjust_cfa_offset -16
                iretq
                .cfi_endproc
                .section .note.GNU-stack, "", @progbits
        """;

    static (int Status, string Output) Tool(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        string output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, output + err.Result);
    }

    /// <summary>The program assembled and linked at 0x401000, as the build assembles boot/*.s.</summary>
    string BuildProgram()
    {
        string src = _dir.File("t.s"), obj = _dir.File("t.o"), elf = _dir.File("t.elf");
        File.WriteAllText(src, Program);
        var (a, aout) = Tool("as", "--64", "-g", "--gdwarf-4", "-o", obj, src);
        Assert.True(a == 0, aout);
        var (l, lout) = Tool("ld", "-static", "-nostdlib", "-Ttext=0x401000", "-e", "outer", "-o", elf, obj);
        Assert.True(l == 0, lout);
        return elf;
    }

    static KernelElf Read(string elf)
    {
        KernelElf? k = KernelElf.Read(File.ReadAllBytes(elf), out string why);
        Assert.True(k != null, why);
        Assert.Null(k!.UnwindProblem);
        Assert.Null(k.LinesProblem);
        return k;
    }

    static readonly string[] RegisterNames = ["rax", "rdx", "rcx", "rbx", "rsi", "rdi", "rbp", "rsp", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "ra"];

    /// <summary>One row as readelf -wF prints it: "rsp+16" for the CFA, then "c-16" or "u" (no rule, or undefined) per column.</summary>
    static string Render(CfaRow row, IEnumerable<string> columns)
    {
        var cells = new List<string> { $"{RegisterNames[row.CfaRegister]}{(row.CfaOffset >= 0 ? "+" : "")}{row.CfaOffset}" };
        foreach (string col in columns)
        {
            int reg = Array.IndexOf(RegisterNames, col);
            RegisterRule r = row.Rule(reg == 16 ? 16 : reg);
            cells.Add(r.Kind switch
            {
                RuleKind.Offset => $"c{(r.Operand >= 0 ? "+" : "")}{r.Operand}",
                RuleKind.SameValue => "s",
                _ => "u",
            });
        }
        return string.Join(' ', cells);
    }

    [Fact]
    public void Rows_EqualReadelfsInterpretation_AtEveryAddress()
    {
        string elf = BuildProgram();
        KernelElf k = Read(elf);
        var (status, dump) = Tool("readelf", "--debug-dump=frames-interp", elf);
        Assert.Equal(0, status);
        int compared = 0;
        foreach (Match fde in Regex.Matches(dump, @"FDE cie=\S+ pc=([0-9a-f]+)\.\.([0-9a-f]+)\n\s+LOC\s+CFA\s+(.*?)\n((?:[0-9a-f]{16} .*\n)+)"))
        {
            ulong start = Convert.ToUInt64(fde.Groups[1].Value, 16), end = Convert.ToUInt64(fde.Groups[2].Value, 16);
            string[] columns = fde.Groups[3].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            var rows = fde.Groups[4].Value.Split('\n', StringSplitOptions.RemoveEmptyEntries)
                .Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
                .Select(c => (At: Convert.ToUInt64(c[0], 16), Cells: string.Join(' ', c.Skip(1)))).ToList();
            Fde? ours = k.Unwind!.Find(start);
            Assert.NotNull(ours);
            Assert.Equal(end, ours!.End);
            for (ulong pc = start; pc < end; pc++)
            {
                string expected = rows.Last(r => r.At <= pc).Cells;
                CfaRow? row = EhFrame.RowAt(ours, pc, out string why);
                Assert.True(row != null, why);
                Assert.Equal($"0x{pc:x}: {expected}", $"0x{pc:x}: {Render(row!, columns)}");
                compared++;
            }
        }
        Assert.True(compared > 40, $"only {compared} addresses compared: readelf's output was not understood\n{dump}");
    }

    [Fact]
    public void SignalFrames_AreMarked_AndOtherFramesAreNot()
    {
        KernelElf k = Read(BuildProgram());
        Assert.True(k.Unwind!.Fdes.Single(f => f.Cie.SignalFrame).Start > 0x401000);
        Assert.Equal(4, k.Unwind.Fdes.Count(f => !f.Cie.SignalFrame));
    }

    [Fact]
    public void Lines_EqualAddr2linesAtEveryInstruction()
    {
        string elf = BuildProgram();
        KernelElf k = Read(elf);
        var addresses = k.Unwind!.Fdes.SelectMany(f => new[] { f.Start, f.Start + 1, f.End - 1 }).Distinct().ToList();
        var (status, output) = Tool("addr2line", ["-e", elf, .. addresses.Select(a => $"0x{a:x}")]);
        Assert.Equal(0, status);
        string[] expected = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(addresses.Count, expected.Length);
        for (int i = 0; i < addresses.Count; i++)
        {
            DebugLine.Row? row = k.Lines!.Find(addresses[i]);
            Assert.True(row != null, $"no line for 0x{addresses[i]:x}");
            // addr2line appends " (discriminator n)" sometimes; file:line is what both must agree on.
            Assert.Equal(expected[i].Split(' ')[0], $"{row!.Value.File}:{row.Value.Line}");
        }
    }

    [Fact]
    public void Unwind_CrossesTheTrapFrameIntoTheInterruptedCode_AndEndsAtTheOutermostFrame()
    {
        string elf = BuildProgram();
        KernelElf k = Read(elf);
        ulong Sym(string name) => KernelElf.SymbolValue(File.ReadAllBytes(elf), name)!.Value;
        // leaf was called by trap (pushed 0 and rax), which interrupted framed right after its call
        // of leaf; framed was called by outer.
        var memory = new FakeMemory();
        ulong top = 0x8000;
        memory.Put(top - 8, Sym("outer") + 5);                 // outer: call framed
        memory.Put(top - 16, 0x1234);                          // framed: push rbp
        memory.Put(top - 24, 0xB0B);                           // push rbx
        memory.Put(top - 32, 0xC12);                           // push r12
        ulong framedRsp = top - 32 - 0x100;
        ulong interrupted = Sym("framed") + 19;                // after "call leaf": the CPU stopped here
        ulong trapCfa = 0x6000;                                // a different (IST) stack
        memory.Put(trapCfa - 40, interrupted);
        memory.Put(trapCfa - 16, framedRsp);
        memory.Put(trapCfa - 48, 0);                           // push 0
        memory.Put(trapCfa - 56, 0xAAA);                       // push rax
        memory.Put(trapCfa - 64, Sym("trap") + 8);             // trap: call leaf
        ulong?[] regs = new ulong?[Unwinder.GeneralRegisters];
        regs[Unwinder.Rip] = Sym("leaf");
        regs[Unwinder.Rsp] = trapCfa - 64;
        regs[Unwinder.Rbp] = top - 16;
        Backtrace bt = Unwinder.Unwind(regs, k.Unwind!, ref memory);
        Assert.Equal("outermost frame", bt.End);
        Assert.Equal([Sym("leaf"), Sym("trap") + 8, interrupted, Sym("outer") + 5], bt.Frames.Select(f => f.Pc));
        Assert.Equal([true, false, true, false], bt.Frames.Select(f => f.Exact));
    }

    /// <summary>Memory of a test stack: quadwords by address; anything else is "not in the dump".</summary>
    sealed class FakeMemory : IStackMemory
    {
        readonly Dictionary<ulong, ulong> _words = [];
        public void Put(ulong at, ulong v) => _words[at] = v;
        public bool ReadU64(ulong address, out ulong value) => _words.TryGetValue(address, out value);
    }

    [Fact]
    public void RandomFrameChains_UnwindToTheirReturnAddresses()
    {
        // Frames of random sizes, each function's CFA = rsp + size + 8, one return address each,
        // and an outermost function at the bottom: the trace must be exactly that chain.
        Gen.Int[1, 20].SelectMany(n => Gen.Int[0, 64].Array[n], (n, sizes) => sizes).Sample(sizes =>
        {
            const ulong code = 0x50_0000, each = 0x100, eh = 0x90_0000;
            var b = new EhFrameBuilder(eh);
            int cie = b.Cie(EhFrameBuilder.DefaultInitial);
            int outermost = b.Cie([0x0C, 7, 0, 0x07, 16]);
            for (int i = 0; i < sizes.Length; i++)
                b.Fde(cie, code + (ulong)i * each, (uint)each, EhFrameBuilder.DefCfaOffset(sizes[i] * 8 + 8));
            b.Fde(outermost, code + (ulong)sizes.Length * each, (uint)each);
            EhFrame table = EhFrame.Parse(b.Bytes, eh, out string why) ?? throw new Exception(why);

            var memory = new FakeMemory();
            ulong sp = 0x100_0000;
            var expected = new List<ulong>();
            ulong?[] regs = new ulong?[Unwinder.GeneralRegisters];
            regs[Unwinder.Rip] = code + 3;
            regs[Unwinder.Rsp] = sp;
            expected.Add(code + 3);
            for (int i = 0; i < sizes.Length; i++)
            {
                sp += (ulong)sizes[i] * 8;
                ulong ret = code + (ulong)(i + 1) * each + 5;
                memory.Put(sp, ret);
                sp += 8;
                expected.Add(ret);
            }
            Backtrace bt = Unwinder.Unwind(regs, table, ref memory);
            return bt.End == "outermost frame" && bt.Frames.Select(f => f.Pc).SequenceEqual(expected);
        });
    }

    [Fact]
    public void ALoopingStack_StopsInsteadOfRunningForever()
    {
        var b = new EhFrameBuilder(0x9000);
        int cie = b.Cie([0x0C, 7, 0, 0x90, 0]);                         // CFA = rsp: the caller's rsp never moves
        b.Fde(cie, 0x1000, 0x100);
        var memory = new FakeMemory();
        memory.Put(0x5000, 0x1010);
        Backtrace bt = UnwindFrom(b, 0x1010, 0x5000, memory);
        Assert.Equal("the stack pointer did not move up: stopped", bt.End);
        Assert.Single(bt.Frames);
    }

    [Fact]
    public void FrameWithoutUnwindInformation_EndsTheTraceNamingTheAddress()
    {
        var b = new EhFrameBuilder(0x9000);
        b.Fde(b.Cie(EhFrameBuilder.DefaultInitial), 0x1000, 0x100);
        var memory = new FakeMemory();
        memory.Put(0x5000, 0x7777);
        Backtrace bt = UnwindFrom(b, 0x1010, 0x5000, memory);
        Assert.Equal([0x1010UL, 0x7777UL], bt.Frames.Select(f => f.Pc));
        Assert.Equal("no unwind information for 0x7776", bt.End);
    }

    [Theory]
    [InlineData(new byte[] { 0x20, 0, 0, 0, 0, 0, 0, 0 }, "entry at 0x0 claims 32 bytes, 4 remain")]
    [InlineData(new byte[] { 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0 }, "entry at 0x0 uses the 64-bit format, which no producer here writes")]
    [InlineData(new byte[] { 8, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0 }, "CIE at 0x0 has version 2 (1 or 3 expected)")]
    [InlineData(new byte[] { 8, 0, 0, 0, 0x10, 0, 0, 0, 0, 0, 0, 0 }, "FDE at 0x0 points at 0xfffffff4, which is no CIE")]
    public void DamagedTables_AreRefusedWithAReason(byte[] bytes, string reason)
    {
        Assert.Null(EhFrame.Parse(bytes, 0x1000, out string why));
        Assert.Equal(reason, why);
    }

    [Fact]
    public void ExpressionRules_AreReportedNotGuessed()
    {
        var b = new EhFrameBuilder(0x9000);
        b.Fde(b.Cie(EhFrameBuilder.DefaultInitial), 0x1000, 0x100, 0x0F, 1, 0x77);   // DW_CFA_def_cfa_expression, 1 byte
        Assert.Equal("the CFA at 0x1000 is a DWARF expression (not supported)", UnwindFrom(b, 0x1000, 0x5000, new FakeMemory()).End);
    }

    /// <summary>Unwinds from rip/rsp (every other register unknown) with the tables of <paramref name="b"/> at 0x9000.</summary>
    static Backtrace UnwindFrom(EhFrameBuilder b, ulong rip, ulong rsp, FakeMemory memory)
    {
        EhFrame table = EhFrame.Parse(b.Bytes, 0x9000, out string why) ?? throw new InvalidOperationException(why);
        ulong?[] regs = new ulong?[Unwinder.GeneralRegisters];
        regs[Unwinder.Rip] = rip;
        regs[Unwinder.Rsp] = rsp;
        return Unwinder.Unwind(regs, table, ref memory);
    }

    [Theory]
    [InlineData(new byte[] { 2, 0, 0, 0, 5, 0 }, "line table at 0x0: version 5 (2 to 4 supported)")]
    [InlineData(new byte[] { 40, 0, 0, 0, 4, 0 }, "line table at 0x0 claims 40 bytes, 2 remain")]
    [InlineData(new byte[] { 7, 0, 0, 0, 4, 0, 0x30, 0, 0, 0, 1 }, "line table at 0x0: header cut short")]
    public void DamagedLineTables_AreRefusedWithAReason(byte[] bytes, string reason)
    {
        Assert.Null(DebugLine.Parse(bytes, out string why));
        Assert.Equal(reason, why);
    }
}
