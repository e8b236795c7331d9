// NMIs at any moment after the kernel's entry: QEMU starts paused with its gdb stub, gdb stops the
// boot CPU at a chosen instruction (in 32-bit code with the early IDT, in long mode before the
// kernel's IDT, during SMP bring-up, during the kexec load), the test injects an NMI there over QMP
// and lets the CPU go on. Each ends either recorded and reported once the console is up, or
// handled (a panic without a dump). And the window no kernel can own: an NMI inside the firmware.
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using Nmidump.Qemu;
using Xunit;

namespace Nmidump.QemuTests;

public class EarlyNmiTests
{
    static ulong Address(string symbol) => ElfFile.Read(Kernel.Image).Symbols.First(s => s.Name == symbol).Address;

    /// <summary>Boots paused, stops the boot CPU at <paramref name="symbol"/>, injects an NMI there, and lets the boot go on.</summary>
    static QemuMachine NmiAt(string symbol, string append, int smp, string? module = null)
    {
        int port = FreePort();
        string[] gdbStub = ["-S", "-gdb", $"tcp:127.0.0.1:{port}"];
        var vm = module == null
            ? Kernel.Boot(append, smp: smp, timeoutSeconds: 120, extraArgs: gdbStub)
            : CaptureBoot.Boot(append, smp, module: null, moduleArgs: module, extraArgs: gdbStub);
        using (var gdb = GdbStop.At(port, Address(symbol)))
        {
            vm.Qmp.InjectNmi();
            gdb.Release();
        }
        return vm;
    }

    static int FreePort()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        int port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }

    /// <summary>The multiboot entry has loaded our GDT and the 32-bit IDT: the NMI is counted, and reported once the console is up.</summary>
    [Fact]
    public void NmiInThe32BitEntryCode_IsRecordedAndReported_AndTheBootGoesOn()
    {
        using var vm = NmiAt("build_identity_map", "", smp: 1);
        vm.Expect("NMI: 1 received during early boot, before the IDT was loaded; recorded and ignored");
        vm.Expect("idle: nothing more to do");
    }

    /// <summary>In long mode, before the kernel's IDT: the early 64-bit IDT counts it.</summary>
    [Fact]
    public void NmiInLongModeBeforeTheKernelsIdt_IsRecordedAndReported_AndTheBootGoesOn()
    {
        using var vm = NmiAt("long_mode_entry", "", smp: 2);
        vm.Expect("NMI: 1 received during early boot, before the IDT was loaded; recorded and ignored");
        vm.Expect("smp: Brought up 1 node, 2 CPUs");
        vm.Expect("idle: nothing more to do");
    }

    /// <summary>
    /// SMP bring-up: the boot CPU (its IDT loaded) panics while the APs are starting; the shootdown
    /// sends NMI IPIs only to CPUs whose IDT is installed (the online ones), an AP that comes online
    /// after it stops itself, and the panic ends without a dump, every CPU halted. No triple fault, no reset.
    /// </summary>
    [Fact]
    public void NmiDuringSmpBringUp_IsHandled_AndThePanicEndsWithoutADump()
    {
        using var vm = NmiAt("Kernel_SmpBoot__WaitForCallins", "apic_extnmi=bsp unknown_nmi_panic", smp: 4);
        vm.Expect("Kernel panic - not syncing: NMI: Not continuing");
        vm.Expect("kdump: no capture image armed; the panic goes on without a dump");
        vm.Expect("---[ end Kernel panic - not syncing: NMI: Not continuing ]---");
        Assert.Equal(0, vm.PanickingCpu());
        Assert.False(vm.HasExited, $"QEMU exited (status {vm.ExitCode}): a CPU reset during bring-up");
        Assert.DoesNotContain(vm.Lines, l => l.Contains("idle: nothing more to do"));
        // An AP the boot CPU had started comes online after the shootdown counted the online CPUs
        // (no NMI for it): it stops itself instead of idling with interrupts on (torture 1:23).
        vm.ExpectAllCpusHaltedForGood(TimeSpan.FromSeconds(10));
    }

    /// <summary>
    /// The race the torture found (1:23, 1:100): the boot CPU panics while an AP it started is between
    /// its start and coming online. gdb holds the AP at ap_main and runs the boot CPU alone through
    /// the whole panic; then the AP goes on and comes online after the shootdown, which never sent it
    /// an NMI: it must stop itself, not idle with interrupts on under the halted panic.
    /// </summary>
    [Fact]
    public void AnApComingOnlineAfterThePanicsShootdown_StopsItself()
    {
        int port = FreePort();
        using var vm = Kernel.Boot("apic_extnmi=bsp unknown_nmi_panic", smp: 2, timeoutSeconds: 120, extraArgs: ["-S", "-gdb", $"tcp:127.0.0.1:{port}"]);
        using (var gdb = GdbStop.At(port, Address("ap_main"), symbols: false))
        {
            vm.Qmp.InjectNmi();
            gdb.RunOnlyTheBootCpuTo(Address("halt_forever"), "CPU 0 to panic alone and halt, CPU 1 held at ap_main");
            vm.Expect("---[ end Kernel panic - not syncing: NMI: Not continuing ]---");
        }
        vm.ExpectAllCpusHaltedForGood(TimeSpan.FromSeconds(10));
        Assert.Equal(1, vm.CountStarting("Kernel panic - not syncing"));
        Assert.DoesNotContain(vm.Lines, l => l.Contains("idle: nothing more to do"));
    }

    /// <summary>
    /// An NMI the panicking CPU survives, taken in the middle of the panic's own console line
    /// (torture 1:119: the line was printed again from inside the NMI, then its rest, so no line
    /// started with the panic). gdb stops CPU 0 in the panic's first console write; the NMI lands
    /// there. The panic line stays whole and once, and the NMI's lines follow it, each once.
    /// </summary>
    [Fact]
    public void AnNmiInsideThePanicsOwnConsoleLine_LeavesItWhole()
    {
        int port = FreePort();
        using var vm = Kernel.Boot("apic_extnmi=bsp crashtest=PANIC crashtest_cpu=0 crashtest_delay_ms=0", smp: 1, timeoutSeconds: 120,
            extraArgs: ["-S", "-gdb", $"tcp:127.0.0.1:{port}"]);
        using (var gdb = GdbStop.At(port, Address("Kernel_Panic__KernelPanic_2"), symbols: false))
        {
            gdb.RunOnlyTheBootCpuTo(Address("Kernel_Log__WriteLine"), "the panic's first console line");
            vm.Qmp.InjectNmi();
        }
        vm.Expect("---[ end Kernel panic - not syncing: crashtest: PANIC ]---");
        var m = vm.Messages().ToList();
        Assert.Equal(1, m.Count(x => x == "Kernel panic - not syncing: crashtest: PANIC"));
        Assert.DoesNotContain(vm.Lines, l => l.IndexOf("Kernel panic", StringComparison.Ordinal) != l.LastIndexOf("Kernel panic", StringComparison.Ordinal));
        Assert.Equal(1, m.Count(x => x == "Dazed and confused, but trying to continue"));
        Assert.True(m.IndexOf("Kernel panic - not syncing: crashtest: PANIC") < m.FindIndex(x => x.StartsWith("Uhhuh. NMI received")), string.Join("\n", vm.Lines));
    }

    /// <summary>The kexec load: the image is not armed yet, so the panic says so and goes on without a dump.</summary>
    [Fact]
    public void NmiDuringTheKexecLoad_IsHandled_AsAPanicWithoutADump()
    {
        using var vm = NmiAt("Kernel_Kexec__LoadAtBoot", "apic_extnmi=all unknown_nmi_panic crashkernel=16M", smp: 2, module: "dump_channels=none");
        vm.Expect("Kernel panic - not syncing: NMI: Not continuing");
        vm.Expect("kdump: no capture image armed; the panic goes on without a dump");
        vm.Expect("---[ end Kernel panic - not syncing: NMI: Not continuing ]---");
        Assert.DoesNotContain(vm.Lines, l => l.Contains("capture: "));
        Assert.False(vm.HasExited);
    }

    /// <summary>
    /// The firmware's window, before the kernel's entry, is outside the product: QEMU is started
    /// paused, the NMI injected before the first instruction, and what the user sees is the
    /// firmware's doing (SeaBIOS returns from it); the kernel then boots as usual, with nothing to report.
    /// </summary>
    [Fact]
    public void NmiInsideTheFirmware_IsTheFirmwares_AndTheKernelBootsAsUsual()
    {
        using var vm = Kernel.Boot("", smp: 1, timeoutSeconds: 120, extraArgs: ["-S"]);
        vm.Qmp.InjectNmi();
        vm.Qmp.Execute("cont");
        vm.Expect("idle: nothing more to do");
        Assert.DoesNotContain(vm.Lines, l => l.Contains("NMI: ") || l.Contains("NMI received"));
    }
}

/// <summary>gdb attached to QEMU's stub, stopped at one address until released (then it detaches and the guest runs on).</summary>
sealed class GdbStop : IDisposable
{
    readonly Process _gdb;
    readonly StringBuilder _output = new();
    bool _released;

    GdbStop(Process gdb)
    {
        _gdb = gdb;
        gdb.OutputDataReceived += (_, e) => { lock (_output) _output.AppendLine(e.Data); };
        gdb.ErrorDataReceived += (_, e) => { lock (_output) _output.AppendLine(e.Data); };
        gdb.BeginOutputReadLine();
        gdb.BeginErrorReadLine();
    }

    /// <param name="symbols">Without the image's symbols gdb knows no inline frames: switching vCPUs under scheduler-locking then cannot trip gdb 13's inline-frame assertion.</param>
    public static GdbStop At(int port, ulong address, bool symbols = true)
    {
        var psi = new ProcessStartInfo("gdb", symbols ? ["-nx", "-q", Kernel.Image] : ["-nx", "-q"])
        { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        var stop = new GdbStop(Process.Start(psi)!);
        stop.Send("set pagination off", "set confirm off", $"target remote 127.0.0.1:{port}", $"hbreak *0x{address:x}", "continue");
        stop.WaitFor(new Regex(@"Breakpoint 1, "), TimeSpan.FromSeconds(90), $"the boot CPU to reach 0x{address:x}");
        return stop;
    }

    void Send(params string[] commands)
    {
        foreach (var c in commands) _gdb.StandardInput.WriteLine(c);
        _gdb.StandardInput.Flush();
    }

    void WaitFor(Regex pattern, TimeSpan bound, string what)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < bound)
        {
            lock (_output) if (pattern.IsMatch(_output.ToString())) return;
            if (_gdb.HasExited) break;
            Thread.Sleep(100);
        }
        string text;
        lock (_output) text = _output.ToString();
        Assert.Fail($"gdb: waited {clock.Elapsed.TotalSeconds:F0} s for {what}; gdb said:\n{text}");
    }

    /// <summary>
    /// Runs only CPU 0 (gdb's thread 1; every other vCPU stays where it stopped) until it reaches
    /// <paramref name="address"/>, then leaves it there with scheduler-locking off, so that the release resumes every vCPU.
    /// </summary>
    public void RunOnlyTheBootCpuTo(ulong address, string what)
    {
        lock (_output) _output.Clear();
        Send("delete", "thread 1", "set scheduler-locking on", $"hbreak *0x{address:x}", "continue");
        WaitFor(new Regex(@"Breakpoint 2, "), TimeSpan.FromSeconds(90), what);
        Send("set scheduler-locking off");
    }

    /// <summary>Removes the breakpoint and detaches: the guest runs on from where it stood.</summary>
    public void Release()
    {
        _released = true;
        if (_gdb.HasExited) return;     // a failure already said what gdb printed
        Send("delete", "detach", "quit");
        if (!_gdb.WaitForExit(TimeSpan.FromSeconds(30))) _gdb.Kill(true);
    }

    public void Dispose()
    {
        if (!_released) Release();
        _gdb.Dispose();
    }
}
