// The report's newer parts on a fake crash: a call trace per CPU unwound from the dump's own
// .eh_frame and stacks, each CPU's stop state, the crash timeline, --cpu, --json and dmesg, and
// what the inspector says when the unwind tables, a stack or the log are missing or damaged.
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Nmidump.Inspector.Tests;

public class BacktraceTests : IDisposable
{
    readonly TempDir _dir = new();
    readonly string _vmcore;

    public BacktraceTests() => _vmcore = _dir.Write("vmcore", FakeCrash.Default);

    public void Dispose() => _dir.Dispose();

    static string Lines(string text) => text.ReplaceLineEndings("\n");

    /// <summary>The "#n address symbol" lines of a CPU's call trace, symbol only.</summary>
    static List<string> Trace(string report, int cpu)
    {
        string section = Regex.Split(Lines(report), @"\n== ").First(s => s.StartsWith($"CPU {cpu} "));
        return Regex.Matches(section, @"^   #\d+\s+[0-9a-f]{16} (\S+)", RegexOptions.Multiline).Select(m => m.Groups[1].Value).ToList();
    }

    [Fact]
    public void EveryCpu_HasACallTraceFromTheDumpsOwnUnwindTables_DownToTheOutermostFrame()
    {
        var run = CliRun.Of(_vmcore);
        Assert.Equal(0, run.Exit);
        foreach (int cpu in new[] { 0, 1, 2 })
            Assert.Equal(FakeCrash.BacktraceOf(cpu), Trace(run.Out, cpu));
        Assert.Equal(3, Regex.Matches(run.Out, @"^   \(outermost frame\)$", RegexOptions.Multiline).Count);
        Assert.DoesNotContain("WARNING", run.Out);
    }

    [Fact]
    public void CpuTable_ShowsHowEachCpuStopped()
    {
        string[] lines = Lines(CliRun.Of(_vmcore).Out).Split('\n');
        Assert.Contains(lines, l => Regex.IsMatch(l, @"^\s+0\s+0\s+1\s.*panicking\s+panic$"));
        Assert.Contains(lines, l => Regex.IsMatch(l, @"^\s+1\s+2\s+2\s.*answered the shootdown$"));
    }

    [Fact]
    public void Timeline_ListsTheCrashInOrderWithTimesRelativeToThePanic()
    {
        var run = CliRun.Of(_vmcore);
        string section = Lines(run.Out).Split("== timeline ==\n")[1].Split("\n\n")[0];
        Assert.Equal(
        [
            "  +     0.000 ms  panic on CPU 0",
            "  +     0.100 ms  crash_kexec: stopping the other CPUs",
            "  +     0.200 ms  shootdown NMI sent to the other CPUs",
            "  +     0.202 ms  CPU 1 answered the shootdown",
            "  +     0.203 ms  CPU 2 answered the shootdown",
            "  +     0.205 ms  CPU 0 saved its own registers (panicking)",
            "  +  1000.200 ms  CPU 3 never answered: given up after 1000 ms",
            "  +  1045.000 ms  jump to the capture image",
        ], section.Split('\n'));
    }

    [Fact]
    public void CpuOption_ShowsOnlyThatCpu()
    {
        var run = CliRun.Of(_vmcore, "--cpu", "2");
        Assert.Equal(0, run.Exit);
        Assert.Contains("== CPU 2 (APIC 4, pid 3) ==", run.Out);
        Assert.DoesNotContain("== CPU 0", run.Out);
        Assert.DoesNotContain("== CPU 1", run.Out);
        Assert.Equal(FakeCrash.BacktraceOf(2), Trace(run.Out, 2));
    }

    [Fact]
    public void CpuOption_OnASilentCpu_ShowsItsStopState()
    {
        var run = CliRun.Of(_vmcore, "--cpu", "3");
        Assert.Equal(0, run.Exit);
        Assert.Contains("missing CPU 3: never answered, waited 1000 ms", run.Out);
        Assert.Contains("  CPU 3 saved no registers", run.Out);
        Assert.DoesNotContain("== CPU 3 (", run.Out);
        Assert.DoesNotContain("missing CPU 1", run.Out);
    }

    [Fact]
    public void CpuOption_OnACpuTheDumpDoesNotKnow_IsOneLineAndStatusTwo()
    {
        var run = CliRun.Of(_vmcore, "--cpu", "9");
        Assert.Equal(2, run.Exit);
        Assert.Equal($"{_vmcore}: --cpu 9: the dump knows no CPU 9 (it has CPUs 0,1,2,3)", Assert.Single(run.ErrLines));
        Assert.Equal("", run.Out);
    }

    [Fact]
    public void Json_ParsesAndHoldsEveryCpuWithItsStopStateAndBacktrace()
    {
        var run = CliRun.Of(_vmcore, "--json");
        Assert.Equal(0, run.Exit);
        using var doc = JsonDocument.Parse(run.Out);
        JsonElement root = doc.RootElement;
        Assert.Equal(FakeCrash.PanicMessage, root.GetProperty("panic").GetProperty("message").GetString());
        var cpus = root.GetProperty("cpus").EnumerateArray().ToList();
        Assert.Equal([0, 1, 2, 3], cpus.Select(c => c.GetProperty("cpu").GetInt32()));
        for (int cpu = 0; cpu < 3; cpu++)
        {
            var frames = cpus[cpu].GetProperty("backtrace").EnumerateArray().ToList();
            Assert.Equal(FakeCrash.BacktraceOf(cpu), frames.Select(f => $"{f.GetProperty("symbol").GetString()}+0x{f.GetProperty("offset").GetUInt64():x}/"
                + FakeCrash.BacktraceOf(cpu)[frames.IndexOf(f)].Split('/')[1]));
            Assert.All(frames, f => Assert.Equal(JsonValueKind.Null, f.GetProperty("file").ValueKind));   // no --kernel: no lines
            Assert.Equal($"0x{FakeCrash.RegsOf(cpu)[UserReg.Rip]:x}", cpus[cpu].GetProperty("registers").GetProperty("rip").GetString());
        }
        Assert.Equal("panicking", cpus[0].GetProperty("stop").GetProperty("name").GetString());
        Assert.Equal("answered", cpus[1].GetProperty("stop").GetProperty("name").GetString());
        JsonElement silent = cpus[3];
        Assert.Equal(JsonValueKind.Null, silent.GetProperty("registers").ValueKind);
        Assert.Equal("never_answered", silent.GetProperty("stop").GetProperty("name").GetString());
        Assert.Equal(1000, silent.GetProperty("stop").GetProperty("waitedMs").GetInt32());
        Assert.Empty(silent.GetProperty("backtrace").EnumerateArray());
        Assert.Equal(8, root.GetProperty("timeline").GetArrayLength());
        Assert.Equal("jump to the capture image", root.GetProperty("timeline")[7].GetProperty("event").GetString());
    }

    [Fact]
    public void Dmesg_PrintsTheWholeLogWithLevelsAndNothingElse()
    {
        var run = CliRun.Of(_vmcore, "dmesg");
        Assert.Equal(0, run.Exit);
        string[] lines = Lines(run.Out).TrimEnd('\n').Split('\n');
        Assert.Equal(80, lines.Length);
        for (int i = 0; i < 80; i++)
            Assert.Equal($"<{(int)FakeCrash.LogLevel(i)}>[{FakeCrash.LogTime(i) / 1_000_000_000,5}.{FakeCrash.LogTime(i) / 1000 % 1_000_000:D6}] {FakeCrash.LogText(i)}", lines[i]);
    }

    [Theory]
    [InlineData("--json")]
    [InlineData("--cpu", "1")]
    public void Dmesg_WithReportOptions_IsAUsageError(params string[] options)
    {
        var run = CliRun.Of([_vmcore, "dmesg", .. options]);
        Assert.Equal(2, run.Exit);
        Assert.StartsWith("inspect: dmesg prints the log only", Assert.Single(run.ErrLines));
    }

    [Fact]
    public void UnknownView_IsAUsageError()
    {
        var run = CliRun.Of(_vmcore, "dmseg");
        Assert.Equal(2, run.Exit);
        Assert.Contains("unknown view 'dmseg': expected dmesg", Assert.Single(run.ErrLines));
    }

    [Fact]
    public void Dmesg_OfADumpWithoutALog_SaysWhyInOneLine()
    {
        var crash = new FakeCrash { WithLog = false };
        string path = _dir.Write("nolog", crash.Vmcore());
        var run = CliRun.Of(path, "dmesg");
        Assert.Equal(2, run.Exit);
        Assert.StartsWith($"{path}: no kernel log: ", Assert.Single(run.ErrLines));
    }

    [Fact]
    public void WithoutUnwindTables_TheTraceIsTheRipAndTheReportSaysWhy()
    {
        var crash = new FakeCrash { WithEhFrame = false };
        var run = CliRun.Of(_dir.Write("noeh", crash.Vmcore()));
        Assert.Equal(0, run.Exit);
        Assert.Contains("WARNING: VMCOREINFO names no SYMBOL(eh_frame)/SIZE(eh_frame) and no --kernel image gives unwind tables: backtraces show the RIP only", run.Out);
        Assert.Equal([FakeCrash.RipSymbols[0]], Trace(run.Out, 0));
        Assert.Contains("   (no unwind tables)", run.Out);
    }

    [Fact]
    public void DamagedUnwindTables_AreNamedAndTheRestIsReported()
    {
        var crash = new FakeCrash();
        byte[] vmcore = crash.Vmcore();
        // The CIE's version byte (offset 8 of .eh_frame): PT_LOAD 1 maps 0x100000 at file offset 0xa0000.
        vmcore[0xA0000 + (int)(FakeCrash.EhFrameAddress - 0x10_0000) + 8] = 9;
        var run = CliRun.Of(_dir.Write("badeh", vmcore));
        Assert.Equal(0, run.Exit);
        Assert.Contains("WARNING: the dump's unwind tables at 0x170000 are damaged (CIE at 0x0 has version 9 (1 or 3 expected)): backtraces show the RIP only", run.Out);
        Assert.Contains(FakeCrash.RipSymbols[1], run.Out);
    }

    [Fact]
    public void AStackOutsideTheDump_EndsTheTraceSayingSo()
    {
        // CPU 1's stack pointer in the page the dump leaves out (page 0).
        var crash = new FakeCrash();
        crash.Regs = cpu =>
        {
            PrStatusRegs r = FakeCrash.RegsOf(cpu);
            if (cpu == 1) r[UserReg.Rsp] = 0x800;
            return r;
        };
        var run = CliRun.Of(_dir.Write("nostack", crash.Vmcore()));
        Assert.Equal(0, run.Exit);
        Assert.Equal(["cpu_idle+0x2/0x100"], Trace(run.Out, 1));
        Assert.Contains("   (the return address at 0x800 is not in the dump)", run.Out);
    }
}
