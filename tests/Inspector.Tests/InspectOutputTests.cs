// The inspector's report on a good dump: what a person reads first (panic, time, build id), every
// CPU with its RIP named from the dump's own kallsyms, the code at RIP, VMCOREINFO, the CPUs that
// left no registers, the memory ranges and the log tail, all as plain text when redirected.
namespace Nmidump.Inspector.Tests;

public class InspectOutputTests : IDisposable
{
    readonly TempDir _dir = new();
    readonly string _vmcore;

    public InspectOutputTests() => _vmcore = _dir.Write("vmcore", FakeCrash.Default);

    public void Dispose() => _dir.Dispose();

    static string Lines(string text) => text.ReplaceLineEndings("\n");

    [Fact]
    public void GoodDump_NamesThePanicItsTimeAndTheBuildId()
    {
        var run = CliRun.Of(_vmcore);
        Assert.Equal(0, run.Exit);
        Assert.Equal("", run.Err);
        Assert.Contains($"panic      {FakeCrash.PanicMessage} (CPU 0)", run.Out);
        Assert.Contains("crash time 2025-11-22 00:08:12 UTC (epoch 1763770092)", run.Out);
        Assert.Contains($"build id   {FakeCrash.BuildId}\n", Lines(run.Out));
        Assert.Contains("release    0.1-nmidump", run.Out);
        Assert.Contains("symbols    the dump's embedded kallsyms (0x180000, 4 symbols)", run.Out);
        Assert.Contains("unwind     the dump's .eh_frame at 0x170000 (4 FDEs)", run.Out);
        Assert.Contains("lines      (no line tables: give --kernel out/kernel.elf for file:line)", run.Out);
    }

    [Fact]
    public void GoodDump_ListsEachCpuWithItsApicIdAndSymbolizedRip()
    {
        var run = CliRun.Of(_vmcore);
        string[] lines = Lines(run.Out).Split('\n');
        // The table: CPU, APIC id (APIC_IDS=0,2,4,6), pid = CPU + 1, RIP as function+0xoff/0xsize.
        foreach (int cpu in new[] { 0, 1, 2 })
        {
            string row = Assert.Single(lines, l => System.Text.RegularExpressions.Regex.IsMatch(l, $@"^\s+{cpu}\s+{cpu * 2}\s+{cpu + 1}\s"));
            Assert.Contains(FakeCrash.RipSymbols[cpu], row);
            Assert.Contains($"{FakeCrash.RegsOf(cpu)[UserReg.Rsp]:x16}", row);
            Assert.Contains($"{FakeCrash.RegsOf(cpu)[UserReg.R12]:x16}", row);
            Assert.Contains("00000046", row);
            Assert.Equal(cpu == 0, row.EndsWith("panic"));
        }
        // The register blocks, in __show_regs() form.
        Assert.Contains("== CPU 0 (APIC 0, pid 1), the panic CPU ==", run.Out);
        Assert.Contains("== CPU 2 (APIC 4, pid 3) ==", run.Out);
        Assert.Contains("RIP: 0010:0000000000100209 Kernel_Panic__KernelPanic+0x9/0x40", run.Out);
        Assert.Contains($"RAX: {FakeCrash.RegsOf(2)[UserReg.Rax]:x16} RBX: {FakeCrash.RegsOf(2)[UserReg.Rbx]:x16}", run.Out);
        Assert.Contains($"R13: {FakeCrash.RegsOf(1)[UserReg.R13]:x16} R14: {FakeCrash.RegsOf(1)[UserReg.R14]:x16} R15: {FakeCrash.RegsOf(1)[UserReg.R15]:x16}", run.Out);
    }

    [Fact]
    public void GoodDump_DisassemblesAroundEachRipFromTheDumpsMemory()
    {
        var run = CliRun.Of(_vmcore);
        string[] lines = Lines(run.Out).Split('\n');
        // The panic CPU stopped at its call: decoded from the function's start, the call target named.
        Assert.Contains(lines, l => l.StartsWith("  => 0000000000100209 <+9>:") && l.Contains("e8 f2 fe ff ff") && l.EndsWith("call   cpu_idle"));
        Assert.Contains(lines, l => l.StartsWith("     0000000000100200 <+0>:") && l.EndsWith("push   %rbp"));
        Assert.Contains(lines, l => l.StartsWith("     000000000010020e <+14>:") && l.EndsWith("ud2"));
        // The idle CPUs: hlt before RIP, the jump back at it.
        Assert.Contains(lines, l => l.StartsWith("     0000000000100101 <+1>:") && l.EndsWith("hlt"));
        Assert.Equal(1, lines.Count(l => l.StartsWith("  => 0000000000100102 <+2>:") && l.EndsWith("jmp    cpu_idle")));
        Assert.Equal(3, lines.Count(l => l.StartsWith("  =>")));
    }

    [Fact]
    public void NoDisasm_LeavesTheCodeOut()
    {
        var run = CliRun.Of(_vmcore, "--no-disasm");
        Assert.Equal(0, run.Exit);
        Assert.DoesNotContain("Code:", run.Out);
        Assert.DoesNotContain("=>", run.Out);
        Assert.Contains("RIP: 0010:0000000000100209 Kernel_Panic__KernelPanic+0x9/0x40", run.Out);
    }

    [Fact]
    public void GoodDump_PrintsEveryVmcoreinfoLine()
    {
        var run = CliRun.Of(_vmcore);
        string[] expected = new FakeCrash().VmcoreinfoText().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(expected.Length >= 17);
        string section = Lines(run.Out).Split("== VMCOREINFO ==\n")[1].Split("\n\n")[0];
        Assert.Equal(expected.Select(l => "  " + l), section.Split('\n'));
    }

    [Fact]
    public void GoodDump_NamesTheCpuThatDidNotAnswerFromItsStopStatus()
    {
        var run = CliRun.Of(_vmcore);
        Assert.Contains("missing CPU 3: never answered, waited 1000 ms", run.Out);
        Assert.DoesNotContain("== CPU 3", run.Out);
    }

    [Fact]
    public void DumpWithoutStopStatusNotes_NamesTheSilentCpuFromCpuMissing()
    {
        var crash = new FakeCrash { WithStopStatus = false };
        var run = CliRun.Of(_dir.Write("old", crash.Vmcore()));
        Assert.Equal(0, run.Exit);
        Assert.Contains("missing CPU 3: did not answer the NMI shootdown (CPU_MISSING): no registers", run.Out);
    }

    [Fact]
    public void CpuWithoutNote_NotNamedInCpuMissing_IsStillReported()
    {
        var crash = new FakeCrash { Cpus = 5, Silent = [1, 4], NameMissing = false, WithStopStatus = false };
        var run = CliRun.Of(_dir.Write("silent", crash.Vmcore()));
        Assert.Equal(0, run.Exit);
        Assert.Contains("missing CPU 1: no NT_PRSTATUS note, and CPU_MISSING does not name it", run.Out);
        Assert.Contains("missing CPU 4: no NT_PRSTATUS note, and CPU_MISSING does not name it", run.Out);
        Assert.Contains("== CPU 3 (APIC 6, pid 4) ==", run.Out);
    }

    [Fact]
    public void AllCpusAnswered_SaysNoneIsMissing()
    {
        var crash = new FakeCrash { Cpus = 2, Silent = [] };
        var run = CliRun.Of(_dir.Write("all", crash.Vmcore()));
        Assert.Contains("missing CPUs: none (all 2 saved their registers)", run.Out);
    }

    [Theory]
    [InlineData("done", "channel    unload done: the reply landed on CPU 3")]
    [InlineData("timeout", "channel    unload timed out: the reply waited on CPU 3, which could not take its interrupt")]
    [InlineData("none", "channel    none (no crash_channel=)")]
    public void CrashChannelOutcome_IsShownInTheSummary(string outcome, string expected)
    {
        var crash = new FakeCrash { CrashChannel = outcome };
        var run = CliRun.Of(_dir.Write("channel-" + outcome, crash.Vmcore()));
        Assert.Equal(0, run.Exit);
        Assert.Contains(expected + "\n", Lines(run.Out));
        Assert.Contains("  CRASH_CHANNEL=" + outcome, run.Out);
    }

    [Fact]
    public void DumpWithoutCrashChannelKey_ShowsNoChannelLine()
        => Assert.DoesNotContain("channel    ", CliRun.Of(_vmcore).Out);

    [Fact]
    public void GoodDump_ListsThePtLoadRangesWithTheirSizes()
    {
        var run = CliRun.Of(_vmcore);
        string[] lines = Lines(run.Out).Split('\n');
        string low = Assert.Single(lines, l => l.Contains("0x0000000000001000") && l.Contains("0x000000000009ffff"));
        Assert.Contains("636 KiB", low);
        Assert.Contains("651264", low);
        string high = Assert.Single(lines, l => l.Contains("0x0000000000100000") && l.Contains("0x00000000001fffff"));
        Assert.Contains("1 MiB", high);
        Assert.Contains("1048576", high);
        Assert.Contains("total: 1.6 MiB (1699840 bytes) in 2 ranges", run.Out);
    }

    [Fact]
    public void FilteredDump_ShowsItsLevelAndWhatWasLeftOut_AndCpusNeverOnline()
    {
        var crash = new FakeCrash
        {
            Filter = new DumpFilterStats { Level = 31, RamBytes = 1UL << 30, DataBytes = 3 << 20, ZeroBytes = 20 << 20, FreeBytes = (1UL << 30) - (23 << 20), Segments = 12 },
            NotOnline = "4-7",
        };
        var run = CliRun.Of(_dir.Write("filtered", crash.Vmcore()), "--no-disasm");
        Assert.Equal(0, run.Exit);
        Assert.Contains("dump       dump_level 31 (zero pages as holes, free pages left out): 1 GiB of RAM; 3 MiB in the file, "
            + "20 MiB of zero pages left as holes, 1001 MiB of free pages left out (12 PT_LOADs)", run.Out);
        Assert.Contains("present but never online (no registers by design; no broadcast IPI reached them): APIC IDs 4-7", run.Out);
    }

    [Fact]
    public void FilteredDump_InJson_HasItsLevelAndWhatWasLeftOut_AndCpusNeverOnline()
    {
        var crash = new FakeCrash
        {
            Filter = new DumpFilterStats { Level = 16, RamBytes = 1UL << 30, DataBytes = 5 << 20, ZeroBytes = 0, FreeBytes = (1UL << 30) - (5 << 20), Segments = 3 },
            NotOnline = "2-3",
        };
        var run = CliRun.Of(_dir.Write("filtered.json", crash.Vmcore()), "--json");
        Assert.Equal(0, run.Exit);
        using var doc = System.Text.Json.JsonDocument.Parse(run.Out);
        var dump = doc.RootElement.GetProperty("dump");
        Assert.Equal(16, dump.GetProperty("level").GetInt32());
        Assert.Equal((1UL << 30) - (5 << 20), dump.GetProperty("freeBytes").GetUInt64());
        Assert.Equal(5UL << 20, dump.GetProperty("dataBytes").GetUInt64());
        Assert.Equal(3, dump.GetProperty("segments").GetInt32());
        Assert.Equal("2-3", doc.RootElement.GetProperty("notOnlineApicIds").GetString());
        Assert.All(doc.RootElement.GetProperty("memory").EnumerateArray(), m => Assert.True(m.GetProperty("fileSize").GetUInt64() <= m.GetProperty("size").GetUInt64()));

        using var full = System.Text.Json.JsonDocument.Parse(CliRun.Of(_vmcore, "--json").Out);
        Assert.Equal(System.Text.Json.JsonValueKind.Null, full.RootElement.GetProperty("dump").ValueKind);
    }

    [Fact]
    public void DumpWithoutAFilterNote_SaysItIsFull()
    {
        var run = CliRun.Of(_vmcore, "--no-disasm");
        Assert.Contains("dump       no dump-filter note (a full dump): 1.6 MiB of memory, 1.6 MiB of it in the file", run.Out);
        Assert.DoesNotContain("present but never online", run.Out);
    }

    [Fact]
    public void GoodDump_ShowsTheLastFiftyLogLinesInDmesgForm()
    {
        var run = CliRun.Of(_vmcore);
        string[] lines = Lines(run.Out).Split('\n');
        Assert.Contains("  last 50 of 80 records", lines);
        // [    1.037037] log line 30: ...: seconds in 5 columns, microseconds in 6 digits.
        Assert.Contains("<6>[    1.037037] " + FakeCrash.LogText(30), lines);          // the record's level, as vmcore-dmesg shows it
        Assert.Equal("<7>[    1.097530] " + FakeCrash.LogText(79), lines.Last(l => l.Length > 0));
        Assert.DoesNotContain(lines, l => l.Contains(FakeCrash.LogText(29)));
        Assert.Equal(50, lines.Count(l => System.Text.RegularExpressions.Regex.IsMatch(l, @"^<[0-7]>\[    1\.")));
    }

    [Theory]
    [InlineData(5, 5)]
    [InlineData(0, 0)]
    [InlineData(1000, 80)]
    public void LogLines_ChoosesHowManyOfTheLastLinesArePrinted(int asked, int printed)
    {
        var run = CliRun.Of(_vmcore, "--log-lines", asked.ToString());
        Assert.Equal(0, run.Exit);
        string[] lines = Lines(run.Out).Split('\n');
        Assert.Equal(printed, lines.Count(l => System.Text.RegularExpressions.Regex.IsMatch(l, @"^<[0-7]>\[    1\.")));
        if (printed > 0) Assert.Contains(FakeCrash.LogText(79), run.Out);
        if (printed < 80) Assert.DoesNotContain(FakeCrash.LogText(79 - printed) + "\n", Lines(run.Out));
    }

    [Fact]
    public void RedirectedOutput_HasNoAnsiCodesNorTrailingBlanks()
    {
        var run = CliRun.Of(_vmcore);
        Assert.DoesNotContain('\x1b', run.Out);
        Assert.DoesNotContain(Lines(run.Out).Split('\n'), l => l.EndsWith(' '));
        Assert.All(run.Out, ch => Assert.True(ch == '\n' || ch == '\r' || (ch >= 0x20 && ch <= 0x7E), $"character 0x{(int)ch:x}"));
    }

    [Fact]
    public void TheVerbMayComeFirst()
    {
        var run = CliRun.Of("inspect", _vmcore, "--log-lines", "3");
        Assert.Equal(0, run.Exit);
        Assert.Contains(FakeCrash.PanicMessage, run.Out);
    }

    [Fact]
    public void Help_PrintsUsageAndSucceeds()
    {
        var run = CliRun.Of("--help");
        Assert.Equal(0, run.Exit);
        Assert.Contains("--kernel", run.Out);
        Assert.Contains("--log-lines", run.Out);
        Assert.Contains("--no-disasm", run.Out);
    }

    [Theory]
    [InlineData("--log-lines", "-1")]
    [InlineData("--log-lines", "many")]
    [InlineData("--bogus")]
    public void BadOptions_OneLineAndStatusTwo(params string[] options)
    {
        var run = CliRun.Of([_vmcore, .. options]);
        Assert.Equal(2, run.Exit);
        Assert.StartsWith("inspect: ", Assert.Single(run.ErrLines));
        Assert.Equal("", run.Out);
    }

    [Fact]
    public void NoPath_OneLineAndStatusTwo()
    {
        var run = CliRun.Of();
        Assert.Equal(2, run.Exit);
        Assert.Single(run.ErrLines);
    }

    [Fact]
    public void ChannelFile_IsDecodedAndInspected()
    {
        byte[] stream = Channel.Encode(FakeCrash.Default, 1 << 16);
        string window = _dir.Write("vmcore.window", Channel.Window(stream, 4 << 20));
        var run = CliRun.Of(window);
        Assert.Equal(0, run.Exit);
        Assert.Contains($"stream     decoded from a dump stream: ok: {FakeCrash.Default.Length} bytes in 26 chunks", run.Out);
        Assert.Contains(FakeCrash.RipSymbols[0], run.Out);
    }

    [Fact]
    public void DumpWithoutKallsyms_ShowsRipsAsAddressesAndSaysWhy()
    {
        var crash = new FakeCrash { WithKallsyms = false };
        var run = CliRun.Of(_dir.Write("nosyms", crash.Vmcore()));
        Assert.Equal(0, run.Exit);
        Assert.Contains("symbols    (none: RIPs are shown as addresses)", run.Out);
        Assert.Contains("WARNING: VMCOREINFO names no SYMBOL(kallsyms): no embedded symbol table", run.Out);
        Assert.Matches(@"\n\s+0\s+0\s+1\s+0000000000100209\s", Lines(run.Out));
        // Without a symbol the code is found by the short scan before RIP: still lands on the call.
        Assert.Contains("=> 0000000000100209 :", run.Out);
    }

    [Fact]
    public void DamagedLogRing_StillReportsEverythingElse()
    {
        byte[] vmcore = (byte[])FakeCrash.Default.Clone();
        // The ring's first record: PT_LOAD 1 maps 0x100000 at file offset 0xa0000.
        int record = 0xA0000 + (int)(FakeCrash.LogAddress - 0x10_0000) + Kmsg.HeaderSize;
        LittleEndian.Put32(vmcore, record + 8, 13);      // a length no record can have
        var run = CliRun.Of(_dir.Write("badlog", vmcore));
        Assert.Equal(0, run.Exit);
        Assert.Contains("WARNING: the log ring at 0x190000 is damaged: damaged records were skipped", run.Out);
        Assert.Contains(FakeCrash.LogText(79), run.Out);     // the records after the damage are still read
        Assert.Contains(FakeCrash.RipSymbols[0], run.Out);
    }

    [Fact]
    public void DumpWithoutVmcoreinfo_StillShowsTheRegisters()
    {
        var crash = new FakeCrash { WithVmcoreinfo = false };
        var run = CliRun.Of(_dir.Write("noinfo", crash.Vmcore()));
        Assert.Equal(0, run.Exit);
        Assert.Contains("(no PANIC_MESSAGE in VMCOREINFO)", run.Out);
        Assert.Contains("WARNING: no VMCOREINFO note", run.Out);
        Assert.Contains("RIP: 0010:0000000000100209", run.Out);
    }
}
