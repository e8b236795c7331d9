// The real-hardware path in QEMU: the GRUB ISO booted from a CD-ROM (GRUB drops the path word, the
// dump goes out on COM2, the console is mirrored on the VGA text screen), the crash region
// write-protected, and the RAM crashlog and the BMC's SEL across a reset (no -no-reboot). ISO and
// reboot boots are slow: one of each.
using System.Text;
using System.Text.RegularExpressions;
using Nmidump.Qemu;
using Xunit;

namespace Nmidump.QemuTests;

public class RealMachineTests
{
    static string TempDir(string prefix) => Directory.CreateTempSubdirectory(prefix).FullName;

    /// <summary>The characters of the 80x25 text screen at 0xB8000 (every other byte is the attribute), as lines.</summary>
    static string[] Screen(QemuMachine vm, string dir)
    {
        string file = Path.Combine(dir, "vga.bin");
        vm.Qmp.PmemSave(0xB8000, 80 * 25 * 2, file);
        byte[] b = File.ReadAllBytes(file);
        var chars = new byte[80 * 25];
        for (int i = 0; i < chars.Length; i++) chars[i] = b[2 * i];
        return Enumerable.Range(0, 25).Select(r => Encoding.ASCII.GetString(chars, r * 80, 80).TrimEnd(' ', '\0')).ToArray();
    }

    /// <summary>Makes a test ISO in dir with tests-qemu/iso/CONFIG as its test.cfg and boots it from the CD-ROM up to the idle line.</summary>
    static QemuMachine BootIso(string dir, string config, int smp, int memoryMiB, params string[] extraArgs)
    {
        string iso = Path.Combine(dir, Path.ChangeExtension(config, ".iso"));
        var (status, output) = DumpTests.Tool("dotnet", DumpTests.Driver, "iso", "--no-build", "--out", iso,
            "--test-config", Path.Combine(Kernel.Root, "tests-qemu", "iso", config));
        Assert.True(status == 0, $"iso exited {status}:\n{output}");
        var vm = QemuMachine.Start(new QemuOptions
        {
            Smp = smp,
            MemoryMiB = memoryMiB,
            Timeout = TimeSpan.FromSeconds(300),
            ExtraArgs = ["-cdrom", iso, "-boot", "d", .. extraArgs],
        });
        vm.WaitForLine("idle: nothing more to do", TimeSpan.FromSeconds(90));
        return vm;
    }

    [Fact]
    public void TheIsoFromACdrom_GivesAVerifiedVmcoreOverCom2_AndMirrorsTheConsoleOnTheScreen()
    {
        string dir = TempDir("nmidump-iso-");
        try
        {
            string com2 = Path.Combine(dir, "com2.bin"), vmcore = Path.Combine(dir, "vmcore");
            using var vm = BootIso(dir, "kdump.cfg", smp: 4, memoryMiB: 256, "-serial", $"file:{com2}", "-vga", "std");
            // GRUB gives the arguments without the image's path: nothing of them is lost or taken for a parameter.
            Assert.Contains("Command line: apic_extnmi=all unknown_nmi_panic crashkernel=16M", vm.Messages());
            Assert.Contains(vm.Messages(), m => Regex.IsMatch(m, "^multiboot: module 0 at 0x[0-9a-f]+-0x[0-9a-f]+ \"dump_channels=serial\"$"));
            Assert.Equal(0, vm.Count("unknown boot parameter"));
            // The screen shows the console's last lines, the newest at the bottom.
            var screen = Screen(vm, dir);
            Assert.Contains(screen, l => l.Contains("idle: nothing more to do"));
            Assert.Contains(screen, l => l.Contains("kdump: capture image armed"));

            vm.Qmp.InjectNmi();
            vm.WaitForLine("capture: export done", TimeSpan.FromSeconds(180));
            Assert.Contains(vm.Messages(), m => m.StartsWith("capture: exporting vmcore: ") && m.EndsWith(" to COM2 (115200 baud)"));
            Assert.Equal(QemuExit.CleanPowerOff, vm.WaitForExit(TimeSpan.FromSeconds(60)));   // a finished dump ends through isa-debug-exit

            var (rs, received) = DumpTests.Tool("dotnet", DumpTests.Driver, "receive", com2, vmcore);
            Assert.True(rs == 0, $"receive exited {rs}:\n{received}");
            var dump = VmcoreReader.Read(vmcore);
            Assert.Equal(Enumerable.Range(1, 4), dump.Cpus.Keys.Order());
            Assert.Equal("NMI: Not continuing", dump.Vmcoreinfo["PANIC_MESSAGE"]);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>The menu's second entry (the test config picks it): no module, so no kdump; an NMI's panic says so and ends as panic= says.</summary>
    [Fact]
    public void TheIsosSecondEntry_BootsWithoutKdump()
    {
        string dir = TempDir("nmidump-iso-");
        try
        {
            using var vm = BootIso(dir, "no-kdump.cfg", smp: 2, memoryMiB: 128);
            Assert.Contains("Command line: apic_extnmi=all unknown_nmi_panic", vm.Messages());
            Assert.Equal(0, vm.Count("multiboot: module"));
            vm.Qmp.InjectNmi();
            vm.Expect("---[ end Kernel panic - not syncing: NMI: Not continuing ]---");
            Assert.Equal(0, vm.Count("kexec: jumping"));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>dump_channels=serial on a machine without COM2: one line, the report stands, a clean power-off.</summary>
    [Fact]
    public void SerialDumpWithoutCom2_IsOneLine_NotAFailure()
    {
        using var vm = CaptureBoot.Boot("crashkernel=16M crashtest=PANIC", smp: 1, moduleArgs: "dump_channels=serial");
        vm.Expect("capture: done; powering off");
        Assert.Equal(1, vm.CountStarting("capture: dump_channels=serial but the firmware lists no COM2 (BIOS data area 0x402); no vmcore exported"));
        Assert.Equal(QemuExit.CleanPowerOff, vm.WaitForExit(TimeSpan.FromSeconds(60)));   // a finished dump ends through isa-debug-exit
    }

    /// <summary>
    /// crashtest=WRITE_CRASHKERNEL writes into the crash region, which is mapped read-only once the
    /// image is loaded: a permissions-violation oops, and the dump that follows is complete (the
    /// image's digest still matches, the jump is made, run verifies the vmcore).
    /// </summary>
    [Fact]
    public void WritingTheCrashRegion_Faults_AndTheDumpIsStillComplete()
    {
        var (status, output, dir) = DumpTests.Run("--no-nmi", "--smp", "2", "--mem", "128", "--append", "crashtest=WRITE_CRASHKERNEL");
        try
        {
            Assert.True(status == 0, $"run exited {status}:\n{output}");
            Assert.Contains("run: verified", output);
            string serial = File.ReadAllText(Path.Combine(dir, "serial.log"));
            Assert.Matches(@"kexec: crash region \[mem 0x[0-9a-f]+-0x[0-9a-f]+\] mapped read-only", serial);
            Assert.Contains("#PF: error_code(0x0003) - permissions violation", serial);
            Assert.Contains("kexec: jumping to the capture image", serial);
            Assert.Contains("capture: panic: Oops: 0003 [#1] SMP (CPU 0)", serial);
            var dump = VmcoreReader.Read(Path.Combine(dir, "vmcore"));
            Assert.Equal("Oops: 0003 [#1] SMP", dump.Vmcoreinfo["PANIC_MESSAGE"]);
            Assert.Equal(2, dump.Cpus.Count);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>
    /// Without -no-reboot: the capture kernel fails at once (capture_test=FAIL), the first kernel's
    /// panic=1 reboots the machine, and the next boot prints the previous crash from the RAM crashlog
    /// and the BMC's previous SEL record. The crashlog then reads out of a pmemsave image with
    /// inspect --crashlog, and a flipped byte in it is reported as damaged.
    /// </summary>
    [Fact]
    public void AfterAFailedCaptureAndAReboot_TheNextBootPrintsThePreviousCrashAndSelRecord()
    {
        string dir = TempDir("nmidump-crashlog-");
        try
        {
            using var vm = QemuMachine.Start(new QemuOptions
            {
                Kernel = Kernel.Image,
                Append = "apic_extnmi=all unknown_nmi_panic crashkernel=16M panic=1",
                Modules = [CaptureBoot.CaptureImage + " dump_channels=none capture_test=FAIL"],
                Smp = 2,
                MemoryMiB = 128,
                NoReboot = false,
                Timeout = TimeSpan.FromSeconds(180),
                ExtraArgs = PlatformDevices.Bmc,
            });
            var area = vm.Expect(new Regex(@"crashlog: 32K at (0x[0-9a-f]+) "));
            vm.Expect("idle: nothing more to do");
            Assert.Equal(0, vm.Count("previous crash:"));
            vm.Qmp.InjectNmi();
            vm.Expect("capture: capture_test=FAIL: failing at once");
            vm.Expect("capture: giving up; rebooting in 1 seconds (the first kernel's panic=1)");
            int cpu = vm.PanickingCpu();
            var previous = vm.WaitForLine(new Regex(@"previous crash: NMI: Not continuing \(CPU \d\) at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC, \d+ ms after boot, this build"), TimeSpan.FromSeconds(60));
            Assert.Contains($"(CPU {cpu})", previous);
            vm.Expect("crashlog: record marked reported");
            vm.Expect($"ipmi: previous SEL record: record 0x0000: nmidump crash on CPU {cpu}: \"NMI: Not c\"");
            int second = vm.Lines.ToList().FindLastIndex(l => l.Contains("Command line: "));
            vm.WaitForLine("idle: nothing more to do", Kernel.LineTimeout, second);

            string mem = Path.Combine(dir, "mem.bin");
            vm.Qmp.PmemSave(0, 128UL << 20, mem);
            var (status, output) = DumpTests.Tool("dotnet", DumpTests.Driver, "inspect", "--crashlog", mem, "--kernel", Kernel.Image);
            Assert.True(status == 0, $"inspect --crashlog exited {status}:\n{output}");
            ulong at = Convert.ToUInt64(Regex.Match(area, @"at 0x([0-9a-f]+)").Groups[1].Value, 16);
            // Marking it reported wrote the other header slot: a later generation.
            Assert.Matches($@"crashlog   at 0x{at:x}, generation \d+, reported by a later boot", output);
            Assert.Contains($"panic      NMI: Not continuing (CPU {cpu})", output);
            Assert.Contains("Kernel panic - not syncing: NMI: Not continuing", output);

            byte[] image = File.ReadAllBytes(mem);
            image[at + RamCrashlog.PayloadOffset + 40] ^= 0x20;
            File.WriteAllBytes(mem, image);
            (status, output) = DumpTests.Tool("dotnet", DumpTests.Driver, "inspect", "--crashlog", mem);
            Assert.NotEqual(0, status);
            Assert.Matches($@"the crashlog at 0x{at:x} is damaged \(payload CRC 0x[0-9a-f]{{8}}, the header says 0x[0-9a-f]{{8}}\); not trusted", output);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
