// The exit status decoding that every QEMU test's verdict rests on.
namespace Nmidump.Qemu.Tests;

public sealed class QemuExitTests
{
    [Theory]
    [InlineData(0, true)]
    [InlineData(1, true)]
    [InlineData(3, false)]
    [InlineData(2, false)]
    [InlineData(137, false)]
    [InlineData(-1, false)]
    public void IsClean_OnlyForAcpiPowerOffAndDebugExitZero(int status, bool clean) =>
        Assert.Equal(clean, QemuExit.IsClean(status));

    [Theory]
    [InlineData(0, "ACPI power-off")]
    [InlineData(1, "clean power-off (isa-debug-exit 0, status 1)")]
    [InlineData(3, "kernel-detected failure (isa-debug-exit 1, status 3)")]
    [InlineData(137, "killed by signal 9 (status 137)")]
    [InlineData(7, "killed/other status 7")]
    public void Describe_NamesHowTheGuestStopped(int status, string expected) =>
        Assert.StartsWith(expected, QemuExit.Describe(status));

    [Fact]
    public void Constants_FollowIsaDebugExitsEncoding()
    {
        // isa-debug-exit makes QEMU exit with (value << 1) | 1.
        Assert.Equal((0 << 1) | 1, QemuExit.CleanPowerOff);
        Assert.Equal((1 << 1) | 1, QemuExit.KernelFailure);
    }
}
