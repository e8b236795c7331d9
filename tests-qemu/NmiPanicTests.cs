// The heart of the project, in QEMU: Linux's panic / NMI semantics after the Kawai series. One
// test per seed behaviour; each checks that exactly one CPU panics and whose registers were saved.
using System.Text.RegularExpressions;
using Nmidump.Qemu;
using Xunit;

namespace Nmidump.QemuTests;

public class NmiPanicTests
{
    const string PanicLine = "Kernel panic - not syncing";
    static readonly Regex Uhhuh = new(@"Uhhuh\. NMI received for unknown reason [0-9a-f]{2} on CPU (\d+)\.$");

    static QemuMachine BootAndWaitIdle(string append, int smp)
    {
        var vm = Kernel.Boot(append, smp: smp, timeoutSeconds: 90);
        vm.Expect($"smp: Brought up 1 node, {smp} CPU");
        vm.Expect("idle: nothing more to do");
        return vm;
    }

    [Fact]
    public void UnknownNmiBroadcast_SavesEveryCpusRegisters()
    {
        using var vm = BootAndWaitIdle("apic_extnmi=all unknown_nmi_panic", smp: 4);
        vm.Qmp.InjectNmi();
        vm.Expect($"{PanicLine}: NMI: Not continuing");
        var notes = CrashSummary.WaitForAll(vm, 4);
        vm.Expect("---[ end Kernel panic");
        Assert.Equal(1, vm.CountStarting(PanicLine));
        // The CPUs that lost the race were looping in NMI context; the winner's own note holds the
        // interrupted registers too, not its panic path.
        for (int cpu = 0; cpu < 4; cpu++) CrashSummary.AssertIdle(vm, notes[cpu]);
        // The panicking CPU said why before it claimed the panic; no CPU said it twice; and once
        // the panic was claimed, no other CPU's line reached the log (they are dropped and counted):
        // every other CPU's line was begun (its timestamp) before the panic line.
        int panicker = vm.PanickingCpu();
        double Time(string line) => double.Parse(Regex.Match(line, @"^\[\s*(\d+\.\d+)\]").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        double panicAt = Time(vm.Lines.First(l => l.Contains(PanicLine)));
        var uhhuh = vm.Lines.Select(l => (Match: Uhhuh.Match(l), Line: l)).Where(x => x.Match.Success)
            .Select(x => (Cpu: int.Parse(x.Match.Groups[1].Value), At: Time(x.Line))).ToList();
        Assert.Contains(uhhuh, u => u.Cpu == panicker && u.At < panicAt);
        Assert.Equal(uhhuh.Count, uhhuh.Select(u => u.Cpu).Distinct().Count());
        Assert.All(uhhuh, u => Assert.True(u.At < panicAt, $"CPU {u.Cpu}'s line was begun after CPU {panicker}'s panic"));
        var dropped = vm.Messages().Select(m => Regex.Match(m, @"^printk: (\d+) messages from other CPUs dropped during the panic$")).Where(m => m.Success).ToList();
        Assert.All(dropped, d => Assert.InRange(int.Parse(d.Groups[1].Value), 1, 1000));
    }

    /// <summary>
    /// Whether the kernel is still alive after an NMI it should survive: poweroff_after_ms makes it
    /// power off a few seconds after boot, which only a kernel still running can do.
    /// </summary>
    static QemuMachine BootCountingDownToPowerOff(string append, int smp)
    {
        var vm = Kernel.Boot(append + " poweroff_after_ms=4000", smp: smp, timeoutSeconds: 90);
        vm.Expect($"smp: Brought up 1 node, {smp} CPU");
        vm.Expect("poweroff: powering off in 4000 ms");
        return vm;
    }

    static void ExpectAliveToPowerOff(QemuMachine vm)
    {
        Assert.Equal(QemuExit.AcpiPowerOff, vm.WaitForExit(TimeSpan.FromSeconds(60)));
        vm.Expect("reboot: Power down");
    }

    [Fact]
    public void ApicExtnmiBsp_OnlyCpu0SeesTheNmi_AndWithoutUnknownNmiPanicTheKernelContinues()
    {
        using var vm = BootCountingDownToPowerOff("apic_extnmi=bsp", smp: 4);
        vm.Qmp.InjectNmi();
        vm.Expect("Dazed and confused, but trying to continue");
        ExpectAliveToPowerOff(vm);
        var cpus = vm.Messages().Select(m => Uhhuh.Match(m)).Where(m => m.Success).Select(m => m.Groups[1].Value).ToList();
        Assert.Equal(["0"], cpus);
        Assert.Equal(0, vm.CountStarting(PanicLine));
    }

    [Fact]
    public void ApicExtnmiBspWithUnknownNmiPanic_PanicsOnCpu0AndStopsTheOthersInIdle()
    {
        using var vm = BootAndWaitIdle("apic_extnmi=bsp unknown_nmi_panic", smp: 4);
        vm.Qmp.InjectNmi();
        vm.Expect($"{PanicLine}: NMI: Not continuing");
        var notes = CrashSummary.WaitForAll(vm, 4);
        Assert.Equal(0, vm.PanickingCpu());
        for (int cpu = 0; cpu < 4; cpu++) CrashSummary.AssertIdle(vm, notes[cpu]);
    }

    [Fact]
    public void ApicExtnmiNone_NoCpuSeesTheNmi_AndTheKernelRunsOn()
    {
        using var vm = BootCountingDownToPowerOff("apic_extnmi=none unknown_nmi_panic", smp: 2);
        vm.Qmp.InjectNmi();
        ExpectAliveToPowerOff(vm);
        Assert.DoesNotContain(vm.Messages(), m => m.Contains("NMI received"));
        Assert.Equal(0, vm.CountStarting(PanicLine));
    }

    /// <summary>
    /// The broadcast scenario without unknown_nmi_panic: every CPU is dazed and the kernel runs on,
    /// as Linux does. It used to exit with the failure status instead (torture 1:81, 1:103, 1:130,
    /// 1:144, 1:170, 1:199 judged that a silent end of a machine that had not crashed).
    /// </summary>
    [Fact]
    public void UnknownNmiBroadcastWithoutUnknownNmiPanic_EveryCpuIsDazed_AndTheKernelRunsOn()
    {
        using var vm = BootCountingDownToPowerOff("crashtest=UNKNOWN_NMI_BROADCAST crashtest_cpu=1 crashtest_delay_ms=100", smp: 3);
        vm.Expect("crashtest: UNKNOWN_NMI_BROADCAST: no unknown_nmi_panic, so no CPU panicked; running on");
        ExpectAliveToPowerOff(vm);
        var cpus = vm.Messages().Select(m => Uhhuh.Match(m)).Where(m => m.Success).Select(m => int.Parse(m.Groups[1].Value)).Order();
        Assert.Equal([0, 1, 2], cpus);
        Assert.Equal(0, vm.CountStarting(PanicLine));
    }

    [Fact]
    public void IochkWithPanicOnIoNmi_Panics()
    {
        using var vm = BootAndWaitIdle("panic_on_io_nmi nmi_reason=iochk", smp: 2);
        vm.Qmp.InjectNmi();
        vm.Expect(new Regex(@"NMI: IOCK error \(debug interrupt\?\) for reason [0-9a-f]{2} on CPU 0\."));
        vm.Expect($"{PanicLine}: NMI IOCK error: Not continuing");
        CrashSummary.WaitForAll(vm, 2);
    }

    [Fact]
    public void IochkWithoutPanicOnIoNmi_TheKernelContinues()
    {
        using var vm = BootAndWaitIdle("nmi_reason=iochk", smp: 2);
        vm.Qmp.InjectNmi();
        vm.Expect("NMI: IOCK error (debug interrupt?)");
        Thread.Sleep(3000);   // the IOCHK line is re-enabled after about two seconds
        Assert.Equal(0, vm.CountStarting(PanicLine));
        Assert.Equal("running", vm.Qmp.QueryStatus().Status);
        vm.Qmp.InjectNmi();   // the one-shot override is spent: the next NMI is an unknown one
        vm.Expect(Uhhuh);
    }

    [Fact]
    public void SerrWithPanicOnUnrecoveredNmi_Panics()
    {
        using var vm = BootAndWaitIdle("panic_on_unrecovered_nmi nmi_reason=serr", smp: 1);
        vm.Qmp.InjectNmi();
        vm.Expect(new Regex(@"NMI: PCI system error \(SERR\) for reason [0-9a-f]{2} on CPU 0\."));
        vm.Expect($"{PanicLine}: NMI: Not continuing");
    }

    /// <summary>
    /// The seed fix "save registers for crash dump on external NMI broadcast": the CPU that read
    /// IOCHK panics while holding the reason lock; the others spin on that lock in NMI context and
    /// must still save their registers.
    /// </summary>
    [Fact]
    public void ReasonLockSpinners_StillSaveTheirRegisters()
    {
        using var vm = BootAndWaitIdle("apic_extnmi=all panic_on_io_nmi nmi_reason=iochk", smp: 4);
        vm.Qmp.InjectNmi();
        vm.Expect($"{PanicLine}: NMI IOCK error: Not continuing");
        var notes = CrashSummary.WaitForAll(vm, 4);
        Assert.Equal(1, vm.CountStarting(PanicLine));
        Assert.Empty(CrashSummary.MissingCpus(vm));
        for (int cpu = 0; cpu < 4; cpu++) CrashSummary.AssertIdle(vm, notes[cpu]);
    }

    [Theory]
    [InlineData("OOPS_PANIC_RACE")]
    [InlineData("DOUBLE_PANIC")]
    [InlineData("NESTED_NMI_PANIC")]
    public void RacingPanics_ExactlyOnePanicAndEveryNote(string scenario)
    {
        using var vm = Kernel.Boot($"crashtest={scenario} crashtest_cpu=1", smp: 4, timeoutSeconds: 90);
        vm.Expect(PanicLine);
        var notes = CrashSummary.WaitForAll(vm, 4);
        vm.Expect("---[ end Kernel panic");
        Thread.Sleep(300);
        Assert.Equal(1, vm.CountStarting(PanicLine));
        Assert.Empty(CrashSummary.MissingCpus(vm));
        Assert.Equal(4, notes.Count);
        foreach (int idle in new[] { 2, 3 }) CrashSummary.AssertIdle(vm, notes[idle]);
        if (scenario == "NESTED_NMI_PANIC")
        {
            vm.Expect("crashtest: nested nmi_panic returned on the panicking CPU; the panic goes on");
            Assert.Equal(1, vm.PanickingCpu());
        }
    }

    /// <summary>
    /// crash_kexec_post_notifiers with a capture image armed: the others are stopped (and
    /// summarised) by panic(), then the notifiers and kmsg_dump run, then crash_kexec, whose
    /// machine_crash_shutdown reaches crash_smp_send_stop a second time and must not stop them again.
    /// </summary>
    [Fact]
    public void PostNotifiers_RunNotifiersAndKmsgDumpBeforeCrashKexec_AndStopOthersOnce()
    {
        using var vm = CaptureBoot.Boot("apic_extnmi=all unknown_nmi_panic crash_kexec_post_notifiers crashkernel=16M", smp: 4);
        vm.Expect("kdump: capture image armed");
        vm.Expect("idle: nothing more to do");
        vm.Qmp.InjectNmi();
        vm.Expect("capture: done; powering off");
        var msgs = vm.Messages().ToList();
        int firstNote = msgs.FindIndex(m => m.StartsWith("crash: CPU")), notifier = msgs.FindIndex(m => m.StartsWith("panic: notifier"));
        int dump = msgs.FindIndex(m => m.StartsWith("kmsg_dump:")), kexec = msgs.FindIndex(m => m.StartsWith("kexec: jumping to the capture image"));
        Assert.True(firstNote >= 0 && notifier > firstNote && dump > notifier && kexec > dump,
            $"order: notes {firstNote}, notifier {notifier}, kmsg_dump {dump}, crash_kexec's jump {kexec}");
        // Read() fails on a CPU summarised twice: the second crash_smp_send_stop did nothing.
        var notes = CrashSummary.Read(vm);
        Assert.Equal(4, notes.Count);
        Assert.Single(msgs, m => m.StartsWith("crash: shootdown of 3 CPUs took"));
        for (int cpu = 0; cpu < 4; cpu++) CrashSummary.AssertIdle(vm, notes[cpu]);
        Assert.Equal(4, CaptureBoot.CpuLines(vm).Count);
    }

    [Theory]
    [InlineData("PANIC_STOP_IRQOFF", "Crashtest__SpinWithInterruptsOff")]
    [InlineData("HARDLOCKUP", "Crashtest__HardLockup")]
    public void VictimWithInterruptsOff_IsStillReachedByTheNmi(string scenario, string function)
    {
        using var vm = Kernel.Boot($"crashtest={scenario} crashtest_cpu=2", smp: 4, timeoutSeconds: 90);
        vm.Expect($"{PanicLine}: crashtest: {scenario}");
        var notes = CrashSummary.WaitForAll(vm, 4);
        Assert.Empty(CrashSummary.MissingCpus(vm));
        Assert.EndsWith(function, notes[2].Function);
        CrashSummary.AssertIdle(vm, notes[1]);
        CrashSummary.AssertIdle(vm, notes[3]);
    }

    [Fact]
    public void NmiHangVictim_IsNamedMissingAfterTheBound_AndThePanicCompletes()
    {
        using var vm = Kernel.Boot("crashtest=NMI_HANG crashtest_cpu=2", smp: 4, timeoutSeconds: 90);
        vm.Expect($"{PanicLine}: crashtest: NMI_HANG");
        vm.Expect("crash: CPU 2 did not respond to the shootdown NMI; its registers are missing");
        CrashSummary.WaitForSummary(vm, 4);
        vm.Expect("---[ end Kernel panic - not syncing: crashtest: NMI_HANG ]---");
        Assert.Equal([2], CrashSummary.MissingCpus(vm));
    }
}
