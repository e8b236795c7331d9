// The code around a saved RIP: decoded from the function's start when the symbol table gives it,
// otherwise from the earliest byte of a short window that lands exactly on RIP; a RIP outside the
// dump's memory is said to be so.
namespace Nmidump.Inspector.Tests;

public class DisassemblyTests : IDisposable
{
    readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    // 0x1000: push %rbp; mov %rsp,%rbp; movabs $0x1122334455667788,%rax; call .+5; nop; ret
    static readonly byte[] Code =
        [0x55, 0x48, 0x89, 0xE5, 0x48, 0xB8, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, 0xE8, 0, 0, 0, 0, 0x90, 0xC3];

    [Fact]
    public void FromTheFunctionStart_ShowsTheInstructionsBeforeRip()
    {
        var lines = Disassembly.Around(Code, 0x1000, 0x100E, 0x1000, null, before: 2, after: 1);
        Assert.Equal([0x1001UL, 0x1004, 0x100E, 0x1013], lines.Select(l => l.Address));
        Assert.Equal(["mov    %rsp,%rbp", "movabs $0x1122334455667788,%rax", "call   0x0000000000001013", "nop"], lines.Select(l => l.Text));
        Assert.Equal("48 b8 88 77 66 55 44 33 22 11", lines[1].Bytes);
        Assert.True(Assert.Single(lines, l => l.AtRip).Address == 0x100E);
    }

    [Fact]
    public void WithoutAStart_FindsOneThatLandsOnRip()
    {
        // Decoding from 0x1005 would read b8 88 77 66 55 as one instruction and step over RIP.
        var lines = Disassembly.Around(Code, 0x1000, 0x1013, null, null, before: 4, after: 1);
        CodeLine rip = Assert.Single(lines, l => l.AtRip);
        Assert.Equal(0x1013UL, rip.Address);
        Assert.Equal("nop", rip.Text);
        Assert.Equal("ret", lines[^1].Text);
    }

    [Fact]
    public void RipOutsideTheBytes_GivesNothing()
    {
        Assert.Empty(Disassembly.Around(Code, 0x1000, 0x2000, null, null));
        Assert.Empty(Disassembly.Around(Code, 0x1000, 0xFFF, null, null));
    }

    [Fact]
    public void CutInstructionAtRip_IsShownAsBad()
    {
        var lines = Disassembly.Around(Code[..16], 0x1000, 0x100E, 0x1000, null);
        Assert.Equal("(bad)", Assert.Single(lines, l => l.AtRip).Text);
    }

    [Fact]
    public void RipNotInTheDump_IsSaidSo()
    {
        var crash = new FakeCrash
        {
            Cpus = 2, Silent = [],
            Regs = cpu =>
            {
                var r = FakeCrash.RegsOf(cpu);
                if (cpu == 1) r[UserReg.Rip] = 0xDEAD_0000;
                return r;
            },
        };
        var run = CliRun.Of(_dir.Write("wild", crash.Vmcore()));
        Assert.Equal(0, run.Exit);
        Assert.Contains("  Code: RIP 0x00000000dead0000 is not in the dump's memory", run.Out);
        Assert.Matches(@"\n\s+1\s+2\s+2\s+00000000dead0000\s", run.Out.ReplaceLineEndings("\n"));
    }

    [Fact]
    public void TerminalOutput_UsesBoxesAndStillHoldsTheReport()
    {
        string path = _dir.Write("vmcore", FakeCrash.Default);
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        Assert.Equal(0, Cli.Run([path], stdout, stderr, terminal: true));
        Assert.Contains(FakeCrash.PanicMessage, stdout.ToString());
        Assert.Contains("Kernel_Panic__KernelPanic+0x9/0x40", stdout.ToString());
        Assert.Contains("VMCOREINFO", stdout.ToString());
    }
}
