// One smoke test with the real qemu-system-x86_64: no kernel, so SeaBIOS finds no boot device and
// waits; enough to prove the command line is one QEMU 7.2 accepts and that QMP works end to end.
namespace Nmidump.Qemu.Tests;

public sealed class RealQemuTests
{
    [Fact]
    public void RealQemu_StartsWithTheFixedArguments_AnswersQmp_AndQuitsWithStatus0()
    {
        using var machine = QemuMachine.Start(new QemuOptions { Smp = 2, Timeout = TimeSpan.FromSeconds(30) });

        var status = machine.Qmp.QueryStatus();
        var cpus = machine.Qmp.QueryCpusFast();
        machine.Qmp.InjectNmi();
        machine.Qmp.Quit();
        var exit = machine.WaitForExit(TimeSpan.FromSeconds(15));

        Assert.Equal(new QmpStatus("running", true), status);
        Assert.Equal([0, 1], cpus.Select(c => c.CpuIndex));
        Assert.Equal(QemuExit.AcpiPowerOff, exit);
        Assert.Equal("", machine.Stderr);
        Assert.False(machine.HardTimeoutExpired);
    }
}
