// The kexec path in QEMU: a capture image armed at boot (crashkernel= and a multiboot module), a
// panic that ends in the capture kernel's report, and the refusals: a damaged image, no module, a
// region that does not fit, a module that is not a capture image.
using System.Text.RegularExpressions;
using Nmidump.Qemu;
using Xunit;

namespace Nmidump.QemuTests;

public static class CaptureBoot
{
    public static string CaptureImage => Path.Combine(Kernel.Root, "out", "capture.elf");

    /// <summary>Boots with the capture image as module; by default the capture kernel only reports (dump_channels=none).</summary>
    public static QemuMachine Boot(string append, int smp, int memoryMiB = 128, string? module = null, string moduleArgs = "dump_channels=none", IReadOnlyList<string>? extraArgs = null)
    {
        Assert.True(File.Exists(CaptureImage), $"{CaptureImage} is missing: run ./build.sh build");
        return QemuMachine.Start(new QemuOptions
        {
            Kernel = Kernel.Image,
            Append = append,
            Smp = smp,
            MemoryMiB = memoryMiB,
            Modules = [(module ?? CaptureImage) + (moduleArgs.Length > 0 ? " " + moduleArgs : "")],
            Timeout = TimeSpan.FromSeconds(120),
            ExtraArgs = extraArgs ?? [],
        });
    }

    /// <summary>The capture report's CPU lines, keyed by CPU.</summary>
    public static Dictionary<int, CpuSummary> CpuLines(QemuMachine vm) => CrashSummary.Read(vm, "capture");
}

public class CaptureTests
{
    static QemuMachine ArmedAndIdle(string append, int smp, int memoryMiB = 128)
    {
        var vm = CaptureBoot.Boot(append, smp, memoryMiB);
        vm.Expect(new Regex(@"kdump: capture image armed \(crashkernel 16M at 0x[0-9a-f]+, sha256 [0-9a-f]{64}\)"));
        vm.Expect("idle: nothing more to do");
        return vm;
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(4)]
    [InlineData(8)]
    public void UnknownNmiBroadcast_EndsInTheCaptureReport(int smp)
    {
        using var vm = ArmedAndIdle("apic_extnmi=all unknown_nmi_panic crashkernel=16M", smp);
        vm.Qmp.InjectNmi();
        vm.Expect("capture: panic: NMI: Not continuing");
        vm.Expect(new Regex(@"capture: crashtime \d{10}"));
        vm.Expect("capture: done; powering off");
        var cpus = CaptureBoot.CpuLines(vm);
        Assert.Equal(Enumerable.Range(0, smp), cpus.Keys.Order());
        foreach (var c in cpus.Values) CrashSummary.AssertIdle(c);
        Assert.Contains(vm.Lines, l => l.Contains("capture: log: [") && l.Contains("Kernel panic - not syncing: NMI: Not continuing"));
        Assert.True(vm.Lines.Count(l => l.Contains("capture: log: ")) <= 20);
        Assert.Equal(QemuExit.AcpiPowerOff, vm.WaitForExit(TimeSpan.FromSeconds(60)));
    }

    [Theory]
    [InlineData("OOPS_PANIC_RACE")]
    [InlineData("DOUBLE_PANIC")]
    [InlineData("NESTED_NMI_PANIC")]
    [InlineData("PANIC_STOP_IRQOFF")]
    public void SeedScenarios_EndInExactlyOneCaptureReport(string scenario)
    {
        using var vm = CaptureBoot.Boot($"crashkernel=16M crashtest={scenario} crashtest_cpu=1", smp: 4);
        vm.Expect("capture: done; powering off");
        Assert.Equal(QemuExit.AcpiPowerOff, vm.WaitForExit(TimeSpan.FromSeconds(60)));
        Assert.Equal(1, vm.Lines.Count(l => l.Contains("capture: panic: ")));
        Assert.True(vm.Messages().Count(m => m.StartsWith("Kernel panic - not syncing")) <= 1);
        Assert.Equal(4, CaptureBoot.CpuLines(vm).Count);
        Assert.DoesNotContain(vm.Lines, l => l.Contains("capture: CPU") && l.Contains(" missing"));
    }

    [Fact]
    public void CorruptedImage_IsRefusedWithBothDigests_AndPanicIsHonoured()
    {
        using var vm = CaptureBoot.Boot("apic_extnmi=all unknown_nmi_panic crashkernel=16M kexec_corrupt_test panic=-1", smp: 2);
        vm.Expect("kdump: capture image armed");
        vm.Expect("idle: nothing more to do");
        vm.Qmp.InjectNmi();
        vm.Expect(new Regex(@"kexec: capture image digest mismatch: expected [0-9a-f]{64} got [0-9a-f]{64}"));
        Assert.Equal(0, vm.WaitForExit(TimeSpan.FromSeconds(60)));   // panic=-1: reboot, which -no-reboot turns into an exit
        Assert.DoesNotContain(vm.Lines, l => l.Contains("capture: "));
        var m = Regex.Match(vm.Lines.First(l => l.Contains("digest mismatch")), @"expected ([0-9a-f]{64}) got ([0-9a-f]{64})");
        Assert.NotEqual(m.Groups[1].Value, m.Groups[2].Value);
    }

    [Fact]
    public void NoModule_KdumpIsDisabledAndThePanicGoesOn()
    {
        using var vm = Kernel.Boot("crashkernel=16M crashtest=PANIC", smp: 2);
        vm.Expect("kexec: no capture image, kdump disabled");
        vm.Expect("---[ end Kernel panic - not syncing: crashtest: PANIC ]---");
    }

    [Fact]
    public void CrashkernelTooLarge_IsRefusedNamingSizesAndBootGoesOn()
    {
        using var vm = CaptureBoot.Boot("crashkernel=512M poweroff_after_ms=0", smp: 1, memoryMiB: 128);
        vm.Expect(new Regex(@"crashkernel: cannot reserve 512M"));
        Assert.DoesNotContain(vm.Lines, l => l.Contains("capture image armed"));
        Assert.Equal(QemuExit.AcpiPowerOff, vm.WaitForExit(Kernel.LineTimeout));
    }

    [Fact]
    public void ModuleThatIsNotACapturePie_IsRejected()
    {
        using var vm = CaptureBoot.Boot("crashkernel=16M poweroff_after_ms=0", smp: 1, module: Kernel.Image);
        vm.Expect(new Regex(@"kexec: capture image rejected: .*\(e_type 2\)"));
        Assert.DoesNotContain(vm.Lines, l => l.Contains("capture image armed"));
        Assert.Equal(QemuExit.AcpiPowerOff, vm.WaitForExit(Kernel.LineTimeout));
    }
}
