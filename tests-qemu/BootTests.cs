// The foundation in QEMU: the kernel boots to C#, prints its banner and command line, reads its
// boot parameters, and powers off the way it was told to with the agreed exit statuses.
using System.Text.RegularExpressions;
using Nmidump.Qemu;
using Xunit;

namespace Nmidump.QemuTests;

public class BootTests
{
    [Fact]
    public void Boot_PrintsBannerWithBuildIdAndCommandLine()
    {
        using var vm = Kernel.Boot("poweroff_after_ms=0 loglevel_test_word=1");
        string banner = vm.Expect(new Regex(@"nmidump version \d+\.\d+\.\d+ \(build-id [0-9a-f]{40}\)"));
        Assert.Contains("SMP", banner);
        string cmdline = vm.Expect("Command line: ");
        Assert.EndsWith("Command line: poweroff_after_ms=0 loglevel_test_word=1", cmdline);
        Assert.DoesNotContain("kernel.elf", cmdline);   // the loader's first word (the image path) is skipped
        Assert.Equal(QemuExit.AcpiPowerOff, vm.WaitForExit(Kernel.LineTimeout));
    }

    [Fact]
    public void Boot_LogLinesCarryLinuxStyleMonotonicTimestamps()
    {
        using var vm = Kernel.Boot("poweroff_after_ms=0");
        vm.Expect("reboot: Power down");
        var stamps = vm.Lines.Select(l => Regex.Match(l, @"^\[\s*(\d+)\.(\d{6})\] ")).ToList();
        Assert.All(stamps, m => Assert.True(m.Success, "every console line starts with [seconds.micros]"));
        var values = stamps.Select(m => long.Parse(m.Groups[1].Value) * 1_000_000 + long.Parse(m.Groups[2].Value)).ToList();
        for (int i = 1; i < values.Count; i++) Assert.True(values[i] >= values[i - 1], $"timestamps go backwards at line {i}: {vm.Lines[i]}");
        Assert.True(values[^1] > 0, "the clock advanced during boot");
    }

    [Fact]
    public void Boot_CalibratesTheTscAndReadsTheRtc()
    {
        using var vm = Kernel.Boot("poweroff_after_ms=0");
        string tsc = vm.Expect(new Regex(@"tsc: Detected \d+\.\d{3} MHz processor"));
        Assert.DoesNotContain("a guess", tsc);
        string rtc = vm.Expect(new Regex(@"rtc: boot wall time (\d{4})-\d\d-\d\d \d\d:\d\d:\d\d UTC \((\d+)\)"));
        long epoch = long.Parse(Regex.Match(rtc, @"\((\d+)\)").Groups[1].Value);
        long host = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        Assert.InRange(epoch, host - 300, host + 300);   // QEMU's RTC starts at host time (UTC)
    }

    [Fact]
    public void Boot_ReportsTheMemoryMapAndModules()
    {
        using var vm = QemuMachine.Start(new QemuOptions
        {
            Kernel = Kernel.Image,
            Append = "poweroff_after_ms=0",
            Modules = [Kernel.Image + " capture_args=1"],
            MemoryMiB = 64,
            Timeout = TimeSpan.FromSeconds(60),
        });
        // The top 32K of RAM below 4 GiB is the RAM crashlog's, reserved out of the usable range.
        vm.Expect(new Regex(@"BIOS-e820: \[mem 0x0000000000100000-0x0000000003fd7fff\] usable"));
        vm.Expect(new Regex(@"BIOS-e820: \[mem 0x0000000003fd8000-0x0000000003fdffff\] reserved"));
        string module = vm.Expect("multiboot: module 0 at 0x");
        Assert.Contains("capture_args=1\"", module);
        Assert.Equal(QemuExit.AcpiPowerOff, vm.WaitForExit(Kernel.LineTimeout));
    }

    [Fact]
    public void PoweroffAfterMs_WaitsThenPowersOffCleanly()
    {
        using var vm = Kernel.Boot("poweroff_after_ms=300");
        var announced = vm.WaitForSerialLine("poweroff: powering off in 300 ms", Kernel.LineTimeout);
        var down = vm.WaitForSerialLine("reboot: Power down", Kernel.LineTimeout);
        Assert.True(down.Time - announced.Time >= TimeSpan.FromMilliseconds(250), $"powered off after {(down.Time - announced.Time).TotalMilliseconds} ms");
        Assert.Equal(QemuExit.AcpiPowerOff, vm.WaitForExit(Kernel.LineTimeout));
    }

    [Fact]
    public void PoweroffAtEntry_ExitsBeforePrintingAnything()
    {
        using var vm = Kernel.Boot("poweroff_at_entry");
        Assert.Equal(QemuExit.CleanPowerOff, vm.WaitForExit(Kernel.LineTimeout));
        Assert.DoesNotContain(vm.Lines, l => l.Length > 0);
    }

    [Fact]
    public void WithoutPoweroff_KernelIdlesAndKeepsRunning()
    {
        using var vm = Kernel.Boot("");
        vm.Expect("idle: nothing more to do");
        Thread.Sleep(500);
        Assert.False(vm.HasExited, "the kernel idles forever without a power-off parameter");
        Assert.Equal("running", vm.Qmp.QueryStatus().Status);
    }
}
