// Boot parameters as a user meets them on the console: unknown names listed on one line, a
// malformed value reported with what was expected and the default used, and boot going on.
using Nmidump.Qemu;
using Xunit;

namespace Nmidump.QemuTests;

public class BootParamsTests
{
    [Fact]
    public void MalformedValue_IsReportedExactlyAndBootContinues()
    {
        using var vm = Kernel.Boot("panic=abc poweroff_after_ms=0");
        vm.Expect("Malformed boot parameter panic=abc: expected an integer; using 0");
        vm.Expect("reboot: Power down");
        Assert.Equal(QemuExit.AcpiPowerOff, vm.WaitForExit(Kernel.LineTimeout));
    }

    [Fact]
    public void MalformedEnum_NamesTheAllowedWords()
    {
        using var vm = Kernel.Boot("apic_extnmi=sometimes poweroff_after_ms=0");
        vm.Expect("Malformed boot parameter apic_extnmi=sometimes: expected bsp, all or none; using bsp");
        Assert.Equal(QemuExit.AcpiPowerOff, vm.WaitForExit(Kernel.LineTimeout));
    }

    [Fact]
    public void UnknownParameters_AreListedOnOneLine()
    {
        using var vm = Kernel.Boot("foo unknown_nmi_panic bar=1 poweroff_after_ms=0");
        vm.Expect("Unknown kernel command line parameters \"foo bar=1\", ignored");
        vm.Expect("reboot: Power down");
        Assert.Equal(1, vm.Count("Unknown kernel command line parameters"));
    }

    [Fact]
    public void QuotedValuesAndDoubleDash_FollowLinuxSyntax()
    {
        using var vm = Kernel.Boot("crashkernel=\"16M\" poweroff_after_ms=0 -- not_a_kernel_param=1");
        vm.Expect("reboot: Power down");
        Assert.Equal(0, vm.Count("Unknown kernel command line parameters"));
        Assert.Equal(0, vm.Count("Malformed boot parameter"));
    }
}
