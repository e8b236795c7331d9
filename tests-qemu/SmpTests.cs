// SMP in QEMU: every CPU the machine has comes online (parallel INIT-SIPI-SIPI), nr_cpus= caps
// them, apic_extnmi= decides which CPUs an injected NMI reaches, IPIs reach every other CPU, and
// power-off goes through ACPI S5.
using System.Text.RegularExpressions;
using Nmidump.Qemu;
using Xunit;

namespace Nmidump.QemuTests;

public class SmpTests
{
    static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(1500);

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(4)]
    [InlineData(8)]
    [InlineData(16)]
    [InlineData(64)]
    [InlineData(128)]
    public void EveryCpuOfTheMachineComesOnline(int smp)
    {
        using var vm = Kernel.Boot("poweroff_after_ms=0", smp: smp, timeoutSeconds: 120);
        vm.Expect("smp: Bringing up secondary CPUs ...");
        string up = vm.WaitForLine("smp: Brought up", TimeSpan.FromSeconds(90));
        Assert.EndsWith(smp == 1 ? "smp: Brought up 1 node, 1 CPU" : $"smp: Brought up 1 node, {smp} CPUs", up);
        Assert.Equal(0, vm.Count("do_boot_cpu failed"));
        Assert.Equal(QemuExit.AcpiPowerOff, vm.WaitForExit(TimeSpan.FromSeconds(60)));
    }

    [Fact]
    public void NrCpus_CapsTheCpusBroughtUp()
    {
        using var vm = Kernel.Boot("nr_cpus=2 poweroff_after_ms=0", smp: 8);
        vm.Expect("smp: Brought up 1 node, 2 CPUs");
        vm.Expect("smp: 6 CPUs present but not online (nr_cpus=2), APIC IDs 2-7; they get no broadcast IPI or NMI");
        Assert.Equal(0, vm.Count("do_boot_cpu failed"));
        Assert.Equal(QemuExit.AcpiPowerOff, vm.WaitForExit(Kernel.LineTimeout));
    }

    [Theory]
    [InlineData("bsp", new[] { 0 })]
    [InlineData("all", new[] { 0, 1, 2, 3 })]
    [InlineData("none", new int[0])]
    public void InjectedNmi_ReachesTheCpusApicExtnmiUnmasks(string mode, int[] expected)
    {
        using var vm = Kernel.Boot($"apic_extnmi={mode}", smp: 4);
        vm.Expect("smp: Brought up 1 node, 4 CPUs");
        vm.Expect("idle: nothing more to do");
        vm.Qmp.InjectNmi();
        foreach (int cpu in expected) vm.Expect(new Regex($@"NMI received for unknown reason [0-9a-f]{{2}} on CPU {cpu}\."));
        Thread.Sleep(Quiet);
        var received = vm.Messages().Select(m => Regex.Match(m, @"^Uhhuh\. NMI received for unknown reason [0-9a-f]{2} on CPU (\d+)\.$")).Where(m => m.Success)
            .Select(m => int.Parse(m.Groups[1].Value)).Order().ToArray();
        Assert.Equal(expected, received);
    }

    [Fact]
    public void SelftestIpi_FixedAndNmiIpisReachEveryOtherCpu()
    {
        using var vm = Kernel.Boot("selftest=ipi poweroff_after_ms=0", smp: 4);
        for (int cpu = 1; cpu < 4; cpu++)
        {
            vm.Expect($"IPI received on CPU {cpu}");
            vm.Expect(new Regex($@"NMI received for unknown reason [0-9a-f]{{2}} on CPU {cpu}\."));
        }
        vm.Expect("selftest: ipi: 3 of 3 CPUs took the fixed IPI, 3 of 3 the NMI IPI");
        Assert.Equal(0, vm.Count("IPI received on CPU 0"));
        Assert.Equal(QemuExit.AcpiPowerOff, vm.WaitForExit(Kernel.LineTimeout));
    }

    [Fact]
    public void Poweroff_GoesThroughAcpiS5()
    {
        using var vm = Kernel.Boot("poweroff_after_ms=0", smp: 2);
        vm.Expect("reboot: Power down");
        Assert.Equal(QemuExit.AcpiPowerOff, vm.WaitForExit(Kernel.LineTimeout));
    }

    [Fact]
    public void CpuInitUdelay_RestoresTheLongInitWait_AndStillBringsEveryCpuUp()
    {
        using var vm = Kernel.Boot("cpu_init_udelay=10000 poweroff_after_ms=0", smp: 4);
        string took = vm.Expect(new Regex(@"smp: bring-up took (\d+) us"));
        vm.Expect("smp: Brought up 1 node, 4 CPUs");
        // Three APs, each with a 10 ms wait between INIT and the SIPIs.
        Assert.True(long.Parse(Regex.Match(took, @"took (\d+) us").Groups[1].Value) >= 30_000, took);
        Assert.Equal(QemuExit.AcpiPowerOff, vm.WaitForExit(Kernel.LineTimeout));
    }

    [Fact]
    public void AcpiOff_RunsOnTheBootCpuAndPowersOffThroughDebugExit()
    {
        using var vm = Kernel.Boot("acpi=off poweroff_after_ms=0", smp: 4);
        vm.Expect("smp: Brought up 1 node, 1 CPU");
        Assert.Equal(QemuExit.CleanPowerOff, vm.WaitForExit(Kernel.LineTimeout));
    }
}
