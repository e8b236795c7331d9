// One torture run on a real QEMU: boots the draw with the capture image armed and the window
// attached, follows the window from the start, injects each NMI when its anchor line has been on
// the console for its delay, and watches until the run has an end it can be judged by: QEMU's
// exit, a panic that halted, or a machine that settled without a crash. Every wait is bounded; a
// run that passes its bound ends as TimedOut, naming what it waited for.
using System.Diagnostics;
using System.Text.RegularExpressions;
using Nmidump.Inspector;
using Nmidump.Qemu;

namespace Nmidump.Build;

public static class TortureMachine
{
    /// <summary>How long a run may take from QEMU's start to an end the judge can use.</summary>
    public static readonly TimeSpan RunBound = TimeSpan.FromSeconds(90);
    /// <summary>Quiet time after the idle line and the last NMI before a run counts as settled without a crash: past the 1 s shootdown bound.</summary>
    static readonly TimeSpan Settle = TimeSpan.FromSeconds(1.5);
    /// <summary>The same when the scenario must crash: its steps are bounded by 2 s each (CrashtestHoles.RaceStepBoundUs).</summary>
    static readonly TimeSpan SettleForScenario = TimeSpan.FromSeconds(6);
    /// <summary>How long the CPUs have to halt after a panic's end line.</summary>
    static readonly TimeSpan HaltBound = TimeSpan.FromSeconds(10);

    static readonly Regex PanicOrOops = new(@"^(Kernel panic - not syncing: |.* \[#\d+\] SMP$)");

    /// <summary>Runs the draw; its serial log and (for a dump) its vmcore are left in <paramref name="workDir"/>.</summary>
    public static TortureObservation Run(TortureDraw d, string workDir, TortureImages images)
    {
        Directory.CreateDirectory(workDir);
        string serial = Path.Combine(workDir, "serial.log"), vmcore = Path.Combine(workDir, "vmcore");
        long windowBytes = RunCommand.WindowBytes(d.MemoryMiB);
        string window = RunCommand.WindowFile(workDir, windowBytes);
        PrivateFile.Prepare(window, windowBytes);
        var vm = QemuMachine.Start(new QemuOptions
        {
            Kernel = images.Kernel,
            Append = d.Append,
            Modules = [$"{images.Capture} dump_channels=window"],
            Smp = d.Smp,
            MemoryMiB = d.MemoryMiB,
            SerialLogPath = serial,
            Timeout = RunBound + TimeSpan.FromSeconds(30),
            ExtraArgs = RunCommand.WindowDevice(window, windowBytes),
        });
        using var stop = new CancellationTokenSource();
        try
        {
            // Followed from the start: the header appears only once the capture kernel exports.
            var receive = Task.Run(() => DumpReceiver.Follow(window, vmcore, () => !vm.HasExited, null, stop.Token));
            var (end, waitedFor, halted, injected) = Watch(d, vm);
            if (end == RunEnd.TimedOut) SaveMonitorState(vm, Path.Combine(workDir, "monitor.txt"));
            vm.Kill();
            vm.WaitForExit(TimeSpan.FromSeconds(30));
            ReceiveResult? r = receive.Wait(TimeSpan.FromSeconds(30)) ? receive.Result : null;
            stop.Cancel();
            int? status = end == RunEnd.Exited ? vm.ExitCode : null;
            return new TortureObservation(vm.Lines, injected, end, status, waitedFor, halted, r, r is { Ok: true } ? vmcore : null, vm.Elapsed);
        }
        finally
        {
            stop.Cancel();
            vm.Dispose();
            File.Delete(window);
        }
    }

    sealed class Pending(NmiMoment moment)
    {
        public NmiMoment Moment { get; } = moment;
        public bool Done { get; set; }
    }

    static (RunEnd End, string? WaitedFor, bool Halted, List<int> Injected) Watch(TortureDraw d, QemuMachine vm)
    {
        var pending = d.Nmis.Select(m => new Pending(m)).ToList();
        var anchors = new Dictionary<NmiAnchor, TimeSpan>();
        var injected = new List<int>();
        TimeSpan lastEvent = TimeSpan.Zero;
        int seen = 0;
        bool idle = false, crash = false, jumped = false, ended = false;
        bool mustCrash = CrashtestScenario.Crashes(d.Scenario, d.Smp, d.UnknownNmiPanic);
        while (true)
        {
            var lines = vm.TimedLines;
            for (; seen < lines.Count; seen++)
            {
                var line = lines[seen];
                string m = TortureJudge.Message(line.Text);
                if (seen == 0) anchors[NmiAnchor.FirstLine] = line.Time;
                foreach (var a in Enum.GetValues<NmiAnchor>())
                    if (a != NmiAnchor.FirstLine && !anchors.ContainsKey(a) && m.StartsWith(TortureDraw.AnchorText(a), StringComparison.Ordinal))
                        anchors[a] = line.Time;
                if (jumped) continue;
                if (m.StartsWith("idle: nothing more to do", StringComparison.Ordinal)) { idle = true; lastEvent = Max(lastEvent, line.Time); }
                if (PanicOrOops.IsMatch(m)) crash = true;
                if (m.StartsWith("kexec: jumping to the capture image", StringComparison.Ordinal)) jumped = true;
                if (m.StartsWith("---[ end Kernel panic - not syncing: ", StringComparison.Ordinal)) ended = true;
            }
            var now = vm.Elapsed;
            foreach (var p in pending.Where(p => !p.Done && anchors.TryGetValue(p.Moment.Anchor, out var at) && now >= at + TimeSpan.FromMilliseconds(p.Moment.DelayMs)))
            {
                p.Done = true;
                if (vm.HasExited) continue;
                try
                {
                    vm.Qmp.InjectNmi();
                    injected.Add(vm.LineCount);
                    lastEvent = vm.Elapsed;
                }
                catch (Exception e) when (QemuMachine.IsGone(e))
                {
                    // QEMU went away under the command (the capture kernel powered off): nothing was injected.
                }
            }
            if (vm.HasExited) return (RunEnd.Exited, null, false, injected);
            if (ended)
                return vm.AllCpusHalted(HaltBound, out _)
                    ? (RunEnd.HaltedAfterPanic, null, true, injected)
                    : (RunEnd.TimedOut, "every CPU to halt with interrupts off after the panic's end line", false, injected);
            // Settled without a crash: the boot is idle, every NMI whose anchor came is in, and the
            // machine stayed quiet past the shootdown bound (longer when the scenario must crash).
            var settle = mustCrash ? SettleForScenario : Settle;
            if (!crash && idle && pending.All(p => p.Done || !anchors.ContainsKey(p.Moment.Anchor)) && now - lastEvent > settle)
                return (RunEnd.Running, null, vm.AllCpusHalted(TimeSpan.Zero, out _), injected);
            if (now > RunBound)
            {
                string what = seen == 0 ? "the kernel's first console line"
                    : jumped ? "the capture kernel to export the vmcore and power off"
                    : crash ? "the panic to jump to the capture kernel or end"
                    : !idle ? "the boot to reach its idle line"
                    : "the machine to settle after its NMIs";
                return (RunEnd.TimedOut, what, false, injected);
            }
            Thread.Sleep(5);
        }
    }

    /// <summary>Where a timed-out machine stands (run state, each vCPU's registers), kept beside its serial log.</summary>
    static void SaveMonitorState(QemuMachine vm, string path)
    {
        var text = new System.Text.StringBuilder();
        foreach (string command in new[] { "info status", "info registers -a" })
        {
            text.AppendLine($"(qemu) {command}");
            try
            {
                text.AppendLine(vm.Qmp.HumanMonitor(command));
            }
            catch (Exception e) when (QemuMachine.IsGone(e))
            {
                text.AppendLine($"(no answer: {e.Message.Split('\n')[0]})");
            }
        }
        text.AppendLine(vm.Context());
        // Where QEMU itself stands: a machine that stops answering its monitor is stuck on the host side.
        if (ProcessRunner.OnPath("gdb"))
        {
            var bt = ProcessRunner.Run("gdb", ["-p", vm.Pid.ToString(), "-batch", "-ex", "thread apply all bt 12"]);
            text.AppendLine("gdb: QEMU's threads").AppendLine(bt.StdOut);
        }
        File.WriteAllText(path, text.ToString());
    }

    static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

}
