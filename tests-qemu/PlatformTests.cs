// Telling the platform, in QEMU: the pvpanic device (found through fw_cfg) says "crash loaded" when a
// dump follows and "panicked" when none will, seen as QMP events; the BMC (QEMU's ipmi-bmc-sim behind
// isa-ipmi-kcs, found through SMBIOS type 38) gets the crash's SEL record in the hand-over stage or
// from panic(), arms its watchdog before the jump (crash_watchdog=), which the capture kernel pets and
// stops, or which resets a capture kernel that hangs. Machines without them get one line each.
// QEMU's default reaction to "panicked" is to power the guest off with exit status 0, which the
// exit-status mapping reads as a clean power-off: the tests pick -action panic=none (the host hears
// it, the guest finishes its panic) on purpose.
using System.Text.Json;
using System.Text.RegularExpressions;
using Nmidump.Qemu;
using Xunit;

namespace Nmidump.QemuTests;

public static class PlatformDevices
{
    public static readonly string[] PvPanic = ["-device", "pvpanic"];
    public static readonly string[] Bmc = ["-device", "ipmi-bmc-sim,id=bmc0", "-device", "isa-ipmi-kcs,bmc=bmc0"];
    /// <summary>"panicked" lets the guest run on: the test reads the event, the guest's panic= decides the rest.</summary>
    public static readonly string[] PanicActionNone = ["-action", "panic=none"];

    public static string[] All(params string[][] parts) => parts.SelectMany(p => p).ToArray();

    /// <summary>The QMP events seen so far, by name.</summary>
    public static List<string> EventNames(QemuMachine vm) => vm.Qmp.Events.Select(e => e.GetProperty("event").GetString()!).ToList();

    public static string Action(JsonElement e) => e.GetProperty("data").GetProperty("action").GetString()!;
}

public class PlatformTests
{
    [Fact]
    public void WithoutPvPanicOrBmc_EachIsOneLine_AndTheBootGoesOn_EvenWithCrashWatchdog()
    {
        using var vm = Kernel.Boot("crash_watchdog=5");
        vm.Expect("idle: nothing more to do");
        Assert.Equal(1, vm.CountStarting("ipmi: crash_watchdog=5 but no BMC to arm it on; a hung capture kernel stays hung"));
        Assert.Equal(1, vm.CountStarting("pvpanic: no device (fw_cfg has no etc/pvpanic-port); skipped"));
        Assert.Equal(1, vm.CountStarting("ipmi: SMBIOS 2.8 lists no BMC (no type 38 record); skipped"));
        Assert.Equal(0, vm.Count("pvpanic: device"));
        Assert.Equal(0, vm.Count("ipmi: BMC at"));
    }

    /// <summary>
    /// No capture image: panic() writes the SEL record itself, then the pvpanic notifier says
    /// "panicked" (QMP GUEST_PANICKED) after the record, and the guest, left running by
    /// -action panic=none, ends its panic as usual.
    /// </summary>
    [Fact]
    public void PanicWithoutACaptureImage_WritesTheSelRecord_ThenTellsTheHostPanicked()
    {
        using var vm = Kernel.Boot("apic_extnmi=all unknown_nmi_panic", smp: 2,
            extraArgs: PlatformDevices.All(PlatformDevices.PvPanic, PlatformDevices.Bmc, PlatformDevices.PanicActionNone));
        vm.Expect("pvpanic: device at port 0x505 (fw_cfg etc/pvpanic-port), events 0x3: panicked crash-loaded");
        vm.Expect(new Regex(@"ipmi: BMC at KCS 0xca2/0xca3 \(SMBIOS type 38, IPMI 2\.0\): device 0x20, .*keeps a SEL$"));
        vm.Expect("ipmi: the SEL is empty");
        vm.Expect("idle: nothing more to do");
        vm.Qmp.InjectNmi();
        vm.Expect("---[ end Kernel panic - not syncing: NMI: Not continuing ]---");
        var panicked = vm.Qmp.WaitForEvent("GUEST_PANICKED", TimeSpan.FromSeconds(10));
        Assert.Equal("run", PlatformDevices.Action(panicked));
        Assert.DoesNotContain("GUEST_CRASHLOADED", PlatformDevices.EventNames(vm));
        var messages = vm.Messages().ToList();
        int sel = messages.FindIndex(m => m == $"ipmi: SEL record 0x0000 added: the crash's reason and CPU {vm.PanickingCpu()}");
        int told = messages.IndexOf("pvpanic: telling the host: panicked");
        Assert.True(sel >= 0 && told > sel, $"the SEL record must come before pvpanic's \"panicked\":\n{vm.SerialText}");
    }

    /// <summary>
    /// A capture image armed and crash_kexec_post_notifiers: the notifier says "crash loaded"
    /// (GUEST_CRASHLOADED, the guest keeps running, never GUEST_PANICKED); purgatory writes the SEL
    /// record and arms a 3 s watchdog; the capture kernel reads the record back, pets the watchdog
    /// through an export stalled for 8 s (capture_nmi_test waits for two NMIs) and stops it: the
    /// dump ends in a clean power-off, no reset.
    /// </summary>
    [Fact]
    public void WithADumpComing_CrashLoaded_TheSelRecordIsReadBack_AndTheWatchdogIsPettedAndStopped()
    {
        using var vm = CaptureBoot.Boot("apic_extnmi=all unknown_nmi_panic crashkernel=16M crash_kexec_post_notifiers crash_watchdog=3", smp: 2,
            moduleArgs: "dump_channels=debugcon capture_nmi_test",
            extraArgs: PlatformDevices.All(PlatformDevices.PvPanic, PlatformDevices.Bmc));
        vm.Expect("idle: nothing more to do");
        vm.Qmp.InjectNmi();
        vm.Expect("capture: capture_nmi_test: waiting up to 30 s for two NMIs");
        int cpu = vm.PanickingCpu();
        Assert.Equal("run", PlatformDevices.Action(vm.Qmp.WaitForEvent("GUEST_CRASHLOADED", TimeSpan.FromSeconds(10))));
        Assert.Equal("running", vm.Qmp.QueryStatus().Status);
        // Well over the watchdog's time: only the pets (every 0.5 s) keep the machine from being reset.
        Thread.Sleep(TimeSpan.FromSeconds(8));
        vm.Qmp.InjectNmi();
        Thread.Sleep(200);
        vm.Qmp.InjectNmi();
        vm.Expect(new Regex(@"capture: BMC watchdog stopped \(([1-9]\d*) pets during the export\)"));
        vm.Expect("capture: done; powering off");
        Assert.Equal(QemuExit.CleanPowerOff, vm.WaitForExit(TimeSpan.FromSeconds(60)));   // a finished dump ends through isa-debug-exit
        var events = PlatformDevices.EventNames(vm);
        Assert.DoesNotContain("GUEST_PANICKED", events);
        Assert.DoesNotContain("RESET", events);
        Assert.Contains("pvpanic: telling the host: crash loaded (a dump follows)", vm.Messages());
        Assert.Contains("capture: BMC watchdog (3 s, armed before the jump) petted while the export runs", vm.Messages());
        Assert.Contains($"capture: BMC SEL: record 0x0000: nmidump crash on CPU {cpu}: \"NMI: Not c\"", vm.Messages());
        // Purgatory's lines reach the console through the capture kernel's copy of the log.
        Assert.Contains(vm.Messages(), m => m.EndsWith($"ipmi: SEL record 0x0000 added: the crash's reason and CPU {cpu}"));
        Assert.Contains(vm.Messages(), m => m.EndsWith("purgatory: BMC watchdog armed: a hard reset in 3 s unless the capture kernel pets it"));
    }

    /// <summary>capture_test=HANG with crash_watchdog=5: the BMC's watchdog resets the machine (-no-reboot: QMP SHUTDOWN, reason guest-reset) within 10 s.</summary>
    [Fact]
    public void AHungCaptureKernel_IsResetByTheWatchdog()
    {
        using var vm = CaptureBoot.Boot("apic_extnmi=all unknown_nmi_panic crashkernel=16M crash_watchdog=5", smp: 2,
            moduleArgs: "dump_channels=none capture_test=HANG", extraArgs: PlatformDevices.Bmc);
        vm.Expect("idle: nothing more to do");
        _ = vm.Qmp.Events;
        vm.Qmp.InjectNmi();
        vm.Expect("capture: capture_test=HANG: hanging with interrupts off");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var shutdown = vm.Qmp.WaitForEvent("SHUTDOWN", TimeSpan.FromSeconds(10));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"the watchdog took {clock.Elapsed.TotalSeconds:F1} s");
        Assert.Equal("guest-reset", shutdown.GetProperty("data").GetProperty("reason").GetString());
        Assert.Equal(QemuExit.AcpiPowerOff, vm.WaitForExit(TimeSpan.FromSeconds(30)));
        Assert.DoesNotContain("capture: done; powering off", vm.Messages());
    }
}
