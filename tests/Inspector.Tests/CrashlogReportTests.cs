// `inspect --crashlog IMAGE`: the RAM crashlog found in a raw memory image by its magic at the page
// whose offset its header names (a copy elsewhere is ignored), printed; a damaged record, an image
// without one, or a bad command line gets one line and status 2.
using System.Text;

namespace Nmidump.Inspector.Tests;

public class CrashlogReportTests
{
    const int At = 0x8000;

    static byte[] Image(ulong recordedAddress = At, bool damage = false)
    {
        var image = new byte[0x20000];
        Span<byte> area = image.AsSpan(At, RamCrashlog.Size);
        var w = new CrashlogWriter(area, 1_700_000_000, 2_500_000_000, 2, "crashtest: PANIC"u8, "00ff"u8, 2);
        w.AddCpu(new CrashlogCpu { Cpu = 0, ApicId = 0, State = CpuStopState.Answered, Rip = 0x100459, Rsp = 0x160e28 });
        w.AddCpu(new CrashlogCpu { Cpu = 1, ApicId = 1, State = CpuStopState.NeverAnswered, WaitedMs = 1000 });
        byte[] log = "[    2.400000] Kernel panic - not syncing: crashtest: PANIC\n"u8.ToArray();
        log.CopyTo(w.LogSpace);
        w.Commit(log.Length, recordedAddress);
        if (damage) image[At + RamCrashlog.PayloadOffset + 8] ^= 1;
        return image;
    }

    [Fact]
    public void TheRecord_IsPrintedWithItsCpusAndLog()
    {
        using var dir = new TempDir();
        var run = CliRun.Of("inspect", "--crashlog", dir.Write("mem.bin", Image()));
        Assert.Equal(0, run.Exit);
        Assert.Contains("crashlog   at 0x8000, generation 1, not reported yet", run.Out);
        Assert.Contains("panic      crashtest: PANIC (CPU 2)", run.Out);
        Assert.Contains("time       2023-11-14 22:13:20 UTC (1700000000), 2500 ms after boot", run.Out);
        Assert.Matches(@"CPU 0 +apic 0 +rip 0000000000100459 rsp 0000000000160e28  answered the shootdown", run.Out);
        Assert.Matches(@"CPU 1 +apic 1 +no registers  never answered, waited 1000 ms", run.Out);
        Assert.Contains("  [    2.400000] Kernel panic - not syncing: crashtest: PANIC", run.Out);
    }

    [Fact]
    public void ACopyThatDoesNotNameItsOwnPlace_IsNotTheRecord()
    {
        using var dir = new TempDir();
        var run = CliRun.Of("--crashlog", dir.Write("mem.bin", Image(recordedAddress: 0x7fd8000)));
        Assert.Equal(2, run.Exit);
        Assert.Contains("no crashlog record", run.Err);
    }

    [Fact]
    public void ADamagedRecord_IsNamedAndNotPrinted()
    {
        using var dir = new TempDir();
        var run = CliRun.Of("--crashlog", dir.Write("mem.bin", Image(damage: true)));
        Assert.Equal(2, run.Exit);
        Assert.Single(run.ErrLines);
        Assert.Matches(@"the crashlog at 0x8000 is damaged \(payload CRC 0x[0-9a-f]{8}, the header says 0x[0-9a-f]{8}\); not trusted", run.Err);
        Assert.Empty(run.Out);
    }

    [Theory]
    [InlineData()]
    [InlineData("a", "b")]
    [InlineData("a", "--json")]
    public void ABadCommandLine_GetsOneLine(params string[] rest)
    {
        var run = CliRun.Of(new[] { "--crashlog" }.Concat(rest).ToArray());
        Assert.Equal(2, run.Exit);
        Assert.Single(run.ErrLines);
    }

    [Fact]
    public void AMissingFile_GetsOneLine()
    {
        var run = CliRun.Of("--crashlog", "/nonexistent/mem.bin");
        Assert.Equal(2, run.Exit);
        Assert.Single(run.ErrLines);
    }
}
