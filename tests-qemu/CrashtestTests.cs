// Each crash trigger gives Linux's oops text, names the faulting function from the kernel's own
// symbol table, and ends in the right panic; panic= decides what happens after.
using System.Text.RegularExpressions;
using Nmidump.Qemu;
using Xunit;

namespace Nmidump.QemuTests;

public class CrashtestTests
{
    static readonly Regex RipLine = new(@"RIP: 0010:(\S+)\+0x([0-9a-f]+)/0x([0-9a-f]+)");

    [Fact]
    public void Panic_PrintsTheMessageAndTheEndLine()
    {
        using var vm = Kernel.Boot("crashtest=PANIC");
        vm.Expect("crashtest: performing PANIC");
        vm.Expect("Kernel panic - not syncing: crashtest: PANIC");
        vm.Expect("---[ end Kernel panic - not syncing: crashtest: PANIC ]---");
        Assert.Equal(1, vm.CountStarting("Kernel panic - not syncing"));
        Assert.Equal(0, vm.PanickingCpu());
        // panic=0 halts, it does not reboot: every CPU ends halted with interrupts off and QEMU stays up.
        vm.ExpectAllCpusHaltedForGood(TimeSpan.FromSeconds(20));
        Assert.False(vm.HasExited);
    }

    [Fact]
    public void Bug_IsAnInvalidOpcodeOopsNamingTheFunction()
    {
        using var vm = Kernel.Boot("crashtest=BUG");
        vm.Expect("invalid opcode: 0000 [#1] SMP");
        var rip = RipLine.Match(vm.Expect(RipLine));
        Assert.Equal("crashtest_ud2", rip.Groups[1].Value);
        Assert.Equal("0", rip.Groups[2].Value);
        vm.Expect(new Regex(@"RAX: [0-9a-f]{16} RBX: [0-9a-f]{16} RCX: [0-9a-f]{16}"));
        vm.Expect("Kernel panic - not syncing: Fatal exception");
        Assert.Equal(0, vm.Count("Fatal exception in interrupt"));
    }

    [Fact]
    public void Exception_IsANullPointerDereferenceOops()
    {
        using var vm = Kernel.Boot("crashtest=EXCEPTION");
        vm.Expect("BUG: kernel NULL pointer dereference, address: 0000000000000000");
        vm.Expect("#PF: supervisor write access in kernel mode");
        vm.Expect("Oops: 0002 [#1] SMP");
        Assert.Equal("crashtest_null_write", RipLine.Match(vm.Expect(RipLine)).Groups[1].Value);
        vm.Expect(new Regex(@"CR2: 0000000000000000"));
        vm.Expect("Kernel panic - not syncing: Fatal exception");
    }

    [Fact]
    public void DoubleFault_IsReportedAndPanicsInInterruptContext()
    {
        using var vm = Kernel.Boot("crashtest=DOUBLE_FAULT");
        vm.Expect("PANIC: double fault, error_code: 0x0");
        vm.Expect("double fault: 0000 [#1] SMP");
        Assert.Equal("crashtest_gp", RipLine.Match(vm.Expect(RipLine)).Groups[1].Value);
        vm.Expect("Kernel panic - not syncing: Fatal exception in interrupt");
    }

    [Fact]
    public void StackOverflow_HitsTheGuardPageAndIsCaughtOnTheDoubleFaultStack()
    {
        using var vm = Kernel.Boot("crashtest=STACK_OVERFLOW");
        string bug = vm.Expect(new Regex(@"BUG: stack guard page was hit at ([0-9a-f]{16}) \(stack is ([0-9a-f]{16})\.\.([0-9a-f]{16})\)"));
        var m = Regex.Match(bug, @"at ([0-9a-f]{16}) \(stack is ([0-9a-f]{16})\.\.([0-9a-f]{16})\)");
        ulong hit = Convert.ToUInt64(m.Groups[1].Value, 16), lo = Convert.ToUInt64(m.Groups[2].Value, 16);
        Assert.InRange(hit, lo - 4096, lo - 1);   // inside the page just below the stack
        Assert.Contains("Crashtest__Recurse", RipLine.Match(vm.Expect(RipLine)).Groups[1].Value);
        vm.Expect("Kernel panic - not syncing: Fatal exception in interrupt");
    }

    [Fact]
    public void CrashtestDelay_WaitsThatLongAfterEveryCpuIsOnline()
    {
        using var vm = Kernel.Boot("crashtest=PANIC crashtest_delay_ms=600", smp: 2);
        var online = vm.WaitForSerialLine("smp: Brought up 1 node, 2 CPUs", Kernel.LineTimeout);
        var panic = vm.WaitForSerialLine("Kernel panic - not syncing: crashtest: PANIC", Kernel.LineTimeout);
        double ms(SerialLine l) => double.Parse(Regex.Match(l.Text, @"^\[\s*(\d+\.\d+)\]").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) * 1000;
        Assert.True(ms(panic) - ms(online) >= 580, $"the panic came {ms(panic) - ms(online):F0} ms after bring-up");
    }

    [Fact]
    public void PanicTimeoutNegative_RebootsAtOnce()
    {
        using var vm = Kernel.Boot("crashtest=PANIC panic=-1");
        vm.Expect("Kernel panic - not syncing: crashtest: PANIC");
        // -no-reboot turns the guest's reset into a QEMU exit with status 0.
        Assert.Equal(0, vm.WaitForExit(Kernel.LineTimeout));
        Assert.Equal(0, vm.Count("---[ end Kernel panic"));
    }

    [Fact]
    public void PanicTimeoutPositive_WaitsThenReboots()
    {
        using var vm = Kernel.Boot("crashtest=PANIC panic=1");
        var panicLine = vm.WaitForSerialLine("Kernel panic - not syncing: crashtest: PANIC", Kernel.LineTimeout);
        vm.Expect("Rebooting in 1 seconds..");
        Assert.Equal(0, vm.WaitForExit(Kernel.LineTimeout));
        Assert.True(vm.Elapsed - panicLine.Time >= TimeSpan.FromMilliseconds(900), "the reboot waited about a second");
    }
}
