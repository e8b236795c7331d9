// --kernel: the image's GNU build-id is compared with VMCOREINFO's BUILD-ID, and its symbols name
// the RIPs when it is the same build; a different build is warned about and not trusted.
namespace Nmidump.Inspector.Tests;

public class KernelOptionTests : IDisposable
{
    readonly TempDir _dir = new();
    readonly string _vmcore;

    public KernelOptionTests() => _vmcore = _dir.Write("vmcore", FakeCrash.Default);

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void MatchingBuild_SaysSoAndNamesRipsFromTheElfSymbols()
    {
        string kernel = _dir.Write("kernel.elf", FakeKernelElf.ForFakeCrash(FakeCrash.BuildId));
        var run = CliRun.Of(_vmcore, "--kernel", kernel);
        Assert.Equal(0, run.Exit);
        Assert.Contains($"build id   {FakeCrash.BuildId} (matches {kernel})", run.Out);
        Assert.Contains($"symbols    {kernel} (3 symbols)", run.Out);
        Assert.Contains("elf_KernelPanic+0x9/0x40", run.Out);
        Assert.Contains("elf_cpu_idle+0x2/0x100", run.Out);        // the local label did not split it
        Assert.Contains("call   elf_cpu_idle", run.Out);
        Assert.DoesNotContain("WARNING", run.Out);
    }

    [Fact]
    public void DifferentBuild_WarnsAndKeepsTheDumpsOwnSymbols()
    {
        const string other = "00112233445566778899aabbccddeeff00112233";
        string kernel = _dir.Write("old.elf", FakeKernelElf.ForFakeCrash(other));
        var run = CliRun.Of(_vmcore, "--kernel", kernel);
        Assert.Equal(0, run.Exit);
        Assert.Contains($"WARNING: {kernel} is a different build (build id {other}): its symbols do not describe this dump", run.Out);
        Assert.Contains("symbols    the dump's embedded kallsyms", run.Out);
        Assert.Contains(FakeCrash.RipSymbols[0], run.Out);
        Assert.DoesNotContain("elf_KernelPanic", run.Out);
    }

    [Fact]
    public void DifferentBuild_WithoutEmbeddedTable_UsesTheElfSymbolsAfterTheWarning()
    {
        var crash = new FakeCrash { WithKallsyms = false };
        string vmcore = _dir.Write("nosyms", crash.Vmcore());
        string kernel = _dir.Write("old.elf", FakeKernelElf.ForFakeCrash("ffeeddccbbaa99887766554433221100ffeeddcc"));
        var run = CliRun.Of(vmcore, "--kernel", kernel);
        Assert.Equal(0, run.Exit);
        Assert.Contains("is a different build", run.Out);
        Assert.Contains("elf_KernelPanic+0x9/0x40", run.Out);
    }

    [Fact]
    public void MissingKernel_OneLineAndStatusTwo()
    {
        string kernel = _dir.File("nope.elf");
        var run = CliRun.Of(_vmcore, "--kernel", kernel);
        Assert.Equal(2, run.Exit);
        Assert.Equal($"{kernel}: no such file", Assert.Single(run.ErrLines));
        Assert.Equal("", run.Out);
    }

    [Fact]
    public void KernelThatIsNotAnImage_OneLineAndStatusTwo()
    {
        var run = CliRun.Of(_vmcore, "--kernel", _vmcore);
        Assert.Equal(2, run.Exit);
        Assert.Equal($"{_vmcore}: not an executable image (e_type 4, a core file)", Assert.Single(run.ErrLines));

        string garbage = _dir.Write("garbage.elf", [1, 2, 3]);
        run = CliRun.Of(_vmcore, "--kernel", garbage);
        Assert.Equal(2, run.Exit);
        Assert.Equal($"{garbage}: not an ELF file (3 bytes, no 7f 45 4c 46 header)", Assert.Single(run.ErrLines));
    }

    [Fact]
    public void KernelElf_ReadsBuildIdAndCodeSymbolsOnly()
    {
        KernelElf? k = KernelElf.Read(FakeKernelElf.ForFakeCrash(FakeCrash.BuildId), out string reason);
        Assert.True(k != null, reason);
        Assert.Equal(FakeCrash.BuildId, k.BuildId);
        Assert.Equal(3, k.SymbolCount);
        var table = new SymbolTable(k.Symbols, "test");
        Assert.Equal("elf_NmiPanic+0x2f/0x30", table.Describe(FakeCrash.NmiPanicAddress + 0x2F));
        Assert.Null(table.Describe(0x10_0400));                     // the data symbol was left out
    }

    [Fact]
    public void KernelElf_SurvivesDamage()
    {
        byte[] good = FakeKernelElf.ForFakeCrash(FakeCrash.BuildId);
        var random = new Random(7);
        for (int round = 0; round < 300; round++)
        {
            byte[] bad = (byte[])good.Clone();
            for (int n = random.Next(1, 8); n > 0; n--) bad[random.Next(bad.Length)] = (byte)random.Next(256);
            KernelElf? k = KernelElf.Read(bad.AsSpan(0, random.Next(bad.Length + 1)), out string reason);
            Assert.True(k != null || reason.Length > 0);
        }
    }
}
