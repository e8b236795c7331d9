// The kexec path in QEMU: a capture image armed at boot (crashkernel= and a multiboot module), a
// panic or an oops that ends in the capture kernel's report (the reason, the crashing CPU, every
// CPU's registers, the log from the crash on), and the refusals: damage to anything the jump runs
// (image, hand-over code, page tables), a damaged core header, no module, a region that does not
// fit, a module that is not a capture image.
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
        vm.Expect(new Regex(@"capture: panic: NMI: Not continuing \(CPU \d+\)$"));
        vm.Expect(new Regex(@"capture: crashtime \d{10}"));
        vm.Expect("capture: done; powering off");
        Assert.Contains($"capture: panic: NMI: Not continuing (CPU {vm.PanickingCpu()})", vm.Lines.First(l => l.Contains("capture: panic: ")));
        var cpus = CaptureBoot.CpuLines(vm);
        Assert.Equal(Enumerable.Range(0, smp), cpus.Keys.Order());
        foreach (var c in cpus.Values) CrashSummary.AssertIdle(c);
        // The first kernel's log from its panic line on: that line first, then the crash summary.
        var log = vm.Lines.Where(l => l.Contains("capture: log: ")).ToList();
        Assert.Contains("Kernel panic - not syncing: NMI: Not continuing", log[0]);
        Assert.Contains(log, l => l.Contains($"crash: CPU {smp - 1} apic"));
        Assert.Contains(log, l => l.Contains("kexec: jumping to the capture image"));
        Assert.Equal(QemuExit.CleanPowerOff, vm.WaitForExit(TimeSpan.FromSeconds(60)));
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
        Assert.Equal(QemuExit.CleanPowerOff, vm.WaitForExit(TimeSpan.FromSeconds(60)));
        Assert.Equal(1, vm.Lines.Count(l => l.Contains("capture: panic: ")));
        Assert.True(vm.Messages().Count(m => m.StartsWith("Kernel panic - not syncing")) <= 1);
        Assert.Equal(4, CaptureBoot.CpuLines(vm).Count);
        Assert.DoesNotContain(vm.Lines, l => l.Contains("capture: CPU") && l.Contains(" missing"));
        // Who crashed, and why: the scenario decides (the race ones, between two known answers).
        string report = vm.Lines.First(l => l.Contains("capture: panic: "));
        string[] expected = scenario switch
        {
            "OOPS_PANIC_RACE" => ["capture: panic: invalid opcode: 0000 [#1] SMP (CPU 1)", "capture: panic: crashtest: OOPS_PANIC_RACE (CPU 0)"],
            "DOUBLE_PANIC" => ["capture: panic: crashtest: DOUBLE_PANIC (CPU 1)", "capture: panic: crashtest: DOUBLE_PANIC (CPU 0)"],
            "NESTED_NMI_PANIC" => ["capture: panic: crashtest: NESTED_NMI_PANIC (CPU 1)"],
            _ => ["capture: panic: crashtest: PANIC_STOP_IRQOFF (CPU 0)"],
        };
        Assert.True(expected.Any(e => report.EndsWith(e)), $"'{report}' is none of: {string.Join(" | ", expected)}");
    }

    /// <summary>
    /// An oops with kdump armed goes to crash_kexec before any panic message exists: the dump names
    /// the oops headline and the CPU that oopsed, and its log starts at the oops's first line.
    /// </summary>
    [Theory]
    [InlineData("BUG", "invalid opcode: 0000 [#1] SMP", "invalid opcode: 0000 [#1] SMP")]
    [InlineData("EXCEPTION", "Oops: 0002 [#1] SMP", "BUG: kernel NULL pointer dereference, address: 0000000000000000")]
    [InlineData("DOUBLE_FAULT", "double fault: 0000 [#1] SMP", "PANIC: double fault, error_code: 0x0")]
    public void OopsWithKdumpArmed_TheReportNamesTheOopsAndItsCpu(string scenario, string headline, string firstLine)
    {
        using var vm = CaptureBoot.Boot($"crashkernel=16M crashtest={scenario} crashtest_cpu=1", smp: 2);
        vm.Expect("capture: done; powering off");
        Assert.Equal(QemuExit.CleanPowerOff, vm.WaitForExit(TimeSpan.FromSeconds(60)));
        Assert.EndsWith($"capture: panic: {headline} (CPU 1)", vm.Lines.Single(l => l.Contains("capture: panic: ")));
        var log = vm.Lines.Where(l => l.Contains("capture: log: ")).ToList();
        Assert.EndsWith(firstLine, log[0]);
        Assert.Contains(log, l => l.EndsWith(headline));
        Assert.Equal(0, vm.CountStarting("Kernel panic - not syncing"));     // the dump came first
        Assert.Equal(2, CaptureBoot.CpuLines(vm).Count);
    }

    /// <summary>
    /// kexec_corrupt_test flips a byte of what the jump would run, after its digest was taken: the
    /// jump is refused naming the part and both digests, and the panic goes on (panic=-1 reboots).
    /// </summary>
    [Theory]
    [InlineData("kexec_corrupt_test", "kexec: kexec_corrupt_test: flipped one byte of the loaded capture image", "capture image")]
    [InlineData("kexec_corrupt_test=handover", "kexec: kexec_corrupt_test=handover: flipped one byte of the hand-over code", "hand-over code")]
    [InlineData("kexec_corrupt_test=pagetable", "kexec: kexec_corrupt_test=pagetable: flipped one byte of the page tables", "page tables")]
    public void CorruptedJump_IsRefusedWithBothDigests_AndPanicIsHonoured(string parameter, string corrupted, string what)
    {
        using var vm = CaptureBoot.Boot($"apic_extnmi=all unknown_nmi_panic crashkernel=16M {parameter} panic=-1", smp: 2);
        vm.Expect(corrupted);
        vm.Expect("kdump: capture image armed");
        vm.Expect("idle: nothing more to do");
        vm.Qmp.InjectNmi();
        string line = vm.Expect(new Regex($@"kexec: {what} digest mismatch: expected ([0-9a-f]{{64}}) got ([0-9a-f]{{64}})"));
        Assert.Equal(0, vm.WaitForExit(TimeSpan.FromSeconds(60)));   // panic=-1: reboot, which -no-reboot turns into an exit
        Assert.DoesNotContain(vm.Lines, l => l.Contains("capture: "));
        Assert.DoesNotContain(vm.Lines, l => l.Contains("kexec: jumping"));
        var m = Regex.Match(line, @"expected ([0-9a-f]{64}) got ([0-9a-f]{64})");
        Assert.NotEqual(m.Groups[1].Value, m.Groups[2].Value);
        Assert.Single(vm.Lines, l => l.Contains("digest mismatch"));           // the parts before it passed
    }

    /// <summary>
    /// The core header is not digested (Linux leaves elfcorehdr out too): the capture kernel checks
    /// it, names what is wrong, and ends with the failure status 3.
    /// </summary>
    [Fact]
    public void ZeroedCoreHeaderPhnum_TheCaptureKernelNamesItAndExitsWithStatus3()
    {
        using var vm = CaptureBoot.Boot("crashkernel=16M crashtest=PANIC kexec_corrupt_test=elfcorehdr", smp: 2);
        vm.Expect("kexec: kexec_corrupt_test=elfcorehdr: zeroed the ELF core header's e_phnum");
        vm.Expect("kexec: jumping to the capture image");
        vm.Expect(new Regex(@"capture: bad ELF core header: no program headers \(e_phnum 0\)"));
        Assert.Equal(QemuExit.KernelFailure, vm.WaitForExit(TimeSpan.FromSeconds(60)));
        Assert.DoesNotContain(vm.Lines, l => l.Contains("capture: panic: "));
    }

    /// <summary>
    /// The capture kernel relies on no NMI block it inherits: with capture_nmi_test (LINT1 unmasked
    /// on its module line), two NMIs injected during the export are each logged once, and the
    /// vmcore still verifies.
    /// </summary>
    [Fact]
    public void NmisDuringTheExport_AreEachLoggedOnce_AndTheVmcoreStillVerifies()
    {
        string dir = Directory.CreateTempSubdirectory("nmidump-capture-nmi-").FullName;
        try
        {
            string window = Path.Combine(dir, "window");
            using var vm = CaptureBoot.Boot("apic_extnmi=all unknown_nmi_panic crashkernel=16M", smp: 2, memoryMiB: 64,
                moduleArgs: "dump_channels=window capture_nmi_test",
                extraArgs: ["-object", $"memory-backend-file,id=dumpwin,share=on,mem-path={window},size={64 << 20}", "-device", "ivshmem-plain,memdev=dumpwin"]);
            vm.Expect("idle: nothing more to do");
            vm.Qmp.InjectNmi();                       // the first kernel panics in NMI context: NMIs blocked at the jump
            var wait = vm.WaitForSerialLine("capture: capture_nmi_test: waiting up to 30 s for two NMIs", Kernel.LineTimeout);
            vm.Qmp.InjectNmi();
            var first = vm.WaitForSerialLine(Uhhuh, Kernel.LineTimeout, wait.Index + 1);
            vm.Qmp.InjectNmi();
            vm.WaitForSerialLine(Uhhuh, Kernel.LineTimeout, first.Index + 1);
            vm.Expect("capture: capture_nmi_test: 2 NMIs handled; the export goes on");
            vm.Expect("capture: export done");
            Assert.Equal(QemuExit.CleanPowerOff, vm.WaitForExit(TimeSpan.FromSeconds(60)));
            Assert.Equal(2, vm.TimedLines.Skip(wait.Index).Count(l => Uhhuh.IsMatch(l.Text)));
            byte[] stream = File.ReadAllBytes(window);
            var vmcore = new byte[stream.Length];
            var r = DumpStream.Decode(stream, vmcore);
            Assert.True(r.Ok, $"the transfer does not verify: {r.Problem} (chunk {r.ChunkIndex})");
        }
        finally { Directory.Delete(dir, true); }
    }

    static readonly Regex Uhhuh = new(@"Uhhuh\. NMI received for unknown reason [0-9a-f]{2} on CPU 0\.$");

    [Fact]
    public void NoModule_KdumpIsDisabledAndThePanicGoesOn()
    {
        using var vm = Kernel.Boot("crashkernel=16M crashtest=PANIC", smp: 2);
        vm.Expect("kexec: no capture image, kdump disabled");
        vm.Expect("---[ end Kernel panic - not syncing: crashtest: PANIC ]---");
    }

    /// <summary>
    /// NMIs injected over QMP while the capture kernel reports and powers off (the torture's
    /// capture-export moment): QEMU still ends at once, cleanly. With an ACPI power-off, QEMU 7.2
    /// could wait forever in its monitor cleanup when an inject-nmi arrived as its shutdown began
    /// (torture runs 1:98, 1:184, 2:65): the capture kernel ends through isa-debug-exit.
    /// </summary>
    [Fact]
    public void NmisRacingTheCapturePowerOff_QemuStillEndsCleanly()
    {
        using var vm = CaptureBoot.Boot("apic_extnmi=all unknown_nmi_panic crashkernel=16M", smp: 2);
        vm.Expect("idle: nothing more to do");
        vm.Qmp.InjectNmi();
        vm.Expect("kexec: jumping to the capture image");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        int sent = 0;
        while (!vm.HasExited && clock.Elapsed < TimeSpan.FromSeconds(30))
        {
            try { vm.Qmp.InjectNmi(); sent++; }
            catch (Exception e) when (QemuMachine.IsGone(e)) { break; }
        }
        Assert.True(sent > 0, "no NMI went in while the capture kernel ran");
        Assert.Equal(QemuExit.CleanPowerOff, vm.WaitForExit(TimeSpan.FromSeconds(20)));
        vm.Expect("reboot: Power down");
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
