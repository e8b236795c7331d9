// QemuMachine against fake emulators: small shell scripts that print serial lines, write to
// stderr, sleep or exit with a chosen status. They prove the waits, the exit handling, the hard
// timeout, the kill and what a failure message tells.
using System.Diagnostics;
using System.Text.RegularExpressions;

namespace Nmidump.Qemu.Tests;

public sealed class QemuMachineTests : IDisposable
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(10);
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>Writes an executable /bin/sh script that stands in for qemu-system-x86_64.</summary>
    private string FakeQemu(string body)
    {
        var path = _dir.File($"fake-qemu-{Guid.NewGuid():N}.sh");
        File.WriteAllText(path, "#!/bin/sh\n" + body + "\n");
        if (!OperatingSystem.IsWindows())
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return path;
    }

    private QemuMachine StartFake(string body, QemuOptions? options = null) =>
        QemuMachine.Start((options ?? new QemuOptions()) with { QemuBinary = FakeQemu(body) });

    [Fact]
    public void WaitForLine_FindsLinesWithoutCarriageReturns_IncludingOnesAlreadyReceived()
    {
        using var machine = StartFake("""
            printf 'alpha\r\n'
            printf 'mark one\r\n'
            printf 'beta 42\r\n'
            printf 'mark two\r\n'
            printf 'gamma\r\n'
            exec sleep 30
            """);

        Assert.Equal("gamma", machine.WaitForLine("gamma", Generous));
        Assert.Equal("alpha", machine.WaitForLine("alp", TimeSpan.FromMilliseconds(1)));
        Assert.Equal("beta 42", machine.WaitForLine(new Regex(@"^beta \d+$"), Generous));
        var first = machine.WaitForSerialLine("mark", Generous);
        var second = machine.WaitForSerialLine("mark", Generous, startIndex: first.Index + 1);
        Assert.Equal(("mark one", 1), (first.Text, first.Index));
        Assert.Equal(("mark two", 3), (second.Text, second.Index));
        Assert.Equal(["alpha", "mark one", "beta 42", "mark two", "gamma"], machine.Lines);
        Assert.Equal("alpha\nmark one\nbeta 42\nmark two\ngamma\n", machine.SerialText);
        Assert.False(machine.HasExited);
        Assert.Null(machine.ExitCode);
    }

    [Fact]
    public void WaitForLine_LinesArrivingLater_AreSeenAsTheyCome()
    {
        using var machine = StartFake("""
            printf 'booting\r\n'
            sleep 0.3
            printf 'ready\r\n'
            exec sleep 30
            """);

        var ready = machine.WaitForSerialLine("ready", Generous);

        Assert.Equal(1, ready.Index);
        Assert.True(ready.Time >= machine.TimedLines[0].Time);
        Assert.True(ready.Time <= machine.Elapsed);
    }

    [Theory]
    [InlineData(0, true, "ACPI power-off")]
    [InlineData(1, true, "clean power-off")]
    [InlineData(3, false, "kernel-detected failure")]
    [InlineData(5, false, "status 5")]
    public void WaitForExit_ReturnsQemusStatus(int status, bool clean, string description)
    {
        using var machine = StartFake($"printf 'bye\\r\\n'\nexit {status}");

        Assert.Equal(status, machine.WaitForExit(Generous));
        Assert.True(machine.HasExited);
        Assert.Equal(status, machine.ExitCode);
        Assert.Equal(["bye"], machine.Lines);
        Assert.Equal(clean, QemuExit.IsClean(status));
        Assert.Contains(description, QemuExit.Describe(status));
        if (clean)
        {
            Assert.Equal(status, machine.WaitForCleanExit(Generous));
        }
        else
        {
            var e = Assert.Throws<QemuExitedException>(() => machine.WaitForCleanExit(Generous));
            Assert.Contains(description, e.Message);
            Assert.Contains("bye", e.Message);
        }
    }

    [Fact]
    public void WaitForLine_WhenQemuExitsFirst_FailsAtOnceWithTheStatusAndTheLog()
    {
        using var machine = StartFake("""
            printf 'PANIC: something broke\r\n'
            exit 3
            """);
        var clock = Stopwatch.StartNew();

        var e = Assert.Throws<QemuExitedException>(() => machine.WaitForLine("capture kernel ready", TimeSpan.FromSeconds(30)));

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"took {clock.Elapsed}");
        Assert.Equal(3, e.ExitCode);
        Assert.Equal("a serial line containing \"capture kernel ready\"", e.WaitedFor);
        Assert.Contains("kernel-detected failure (isa-debug-exit 1, status 3)", e.Message);
        Assert.Contains("a serial line containing \"capture kernel ready\"", e.Message);
        Assert.Contains("PANIC: something broke", e.Message);
    }

    [Fact]
    public void WaitTimeout_MessageNamesTheWait_AndShowsStateCommandLineStderrAndTheLast40Lines()
    {
        using var machine = StartFake("""
            echo 'fake-qemu: warning: something odd' >&2
            i=1
            while [ $i -le 50 ]; do printf 'line %03d\r\n' $i; i=$((i+1)); done
            printf 'half a line'
            exec sleep 30
            """, new QemuOptions { Append = null });
        machine.WaitForLine("line 050", Generous);

        var e = Assert.Throws<QemuTimeoutException>(() => machine.WaitForLine("PANIC", TimeSpan.FromMilliseconds(500)));

        Assert.Equal("a serial line containing \"PANIC\"", e.WaitedFor);
        Assert.Null(e.ExitCode);
        Assert.Contains("Timed out after 500 ms waiting for a serial line containing \"PANIC\"", e.Message);
        Assert.Contains($"running (pid {machine.Pid}", e.Message);
        Assert.Contains(machine.CommandLine, e.Message);
        Assert.Contains("-accel tcg", e.Message);
        Assert.Contains("fake-qemu: warning: something odd", e.Message);
        Assert.Contains("Last 40 of 50 serial lines", e.Message);
        Assert.Contains("line 011", e.Message);
        Assert.Contains("line 050", e.Message);
        Assert.DoesNotContain("line 010", e.Message);
        Assert.Contains("(unterminated) half a line", e.Message);
        Assert.Equal("fake-qemu: warning: something odd\n", machine.Stderr);
    }

    [Fact]
    public void HardTimeout_KillsQemu_AndEveryWaitSaysSo()
    {
        using var machine = StartFake("""
            printf 'hung\r\n'
            exec sleep 60
            """, new QemuOptions { Timeout = TimeSpan.FromSeconds(1) });

        var e = Assert.Throws<QemuTimeoutException>(() => machine.WaitForExit(TimeSpan.FromSeconds(30)));

        Assert.True(machine.Elapsed < TimeSpan.FromSeconds(8), $"took {machine.Elapsed}");
        Assert.Contains("hard timeout of 1.0 s", e.Message);
        Assert.Contains("QEMU to exit", e.Message);
        Assert.Contains("hung", e.Message);
        Assert.True(machine.HardTimeoutExpired);
        Assert.True(machine.HasExited);
        Assert.False(IsAlive(machine.Pid));
        var line = Assert.Throws<QemuTimeoutException>(() => machine.WaitForLine("never", Generous));
        Assert.Contains("hard timeout", line.Message);
    }

    [Fact]
    public void InfiniteTimeouts_WaitForAsLongAsItTakes()
    {
        using var machine = StartFake("sleep 0.2\nexit 1", new QemuOptions { Timeout = Timeout.InfiniteTimeSpan });

        Assert.Equal(1, machine.WaitForExit(Timeout.InfiniteTimeSpan));
    }

    [Fact]
    public void Kill_KillsQemuAndItsChildren()
    {
        using var machine = StartFake("""
            sleep 60 &
            printf 'child %s\r\n' $!
            wait
            """);
        var child = int.Parse(machine.WaitForLine("child ", Generous)["child ".Length..]);
        Assert.True(IsAlive(child));

        machine.Kill();

        Assert.Equal(128 + 9, machine.WaitForExit(Generous));
        Assert.Contains("killed by signal 9", QemuExit.Describe(machine.ExitCode!.Value));
        Assert.False(IsAlive(machine.Pid));
        Assert.True(WaitUntil(() => !IsAlive(child)), $"child {child} survived");
        var e = Assert.Throws<QemuExitedException>(() => machine.WaitForLine("never", Generous));
        Assert.Contains("killed on request", e.Message);
    }

    [Fact]
    public void Start_PassesTheProjectsFixedArguments_ThenTheOptions()
    {
        var kernel = _dir.File("kernel.elf");
        var capture = _dir.File("capture.elf");
        var other = _dir.File("other.bin");
        foreach (var f in new[] { kernel, capture, other }) File.WriteAllText(f, "");
        // The fake prints its arguments back, one per line.
        using var machine = StartFake("""
            for a in "$@"; do printf '%s\r\n' "$a"; done
            exit 1
            """, new QemuOptions
        {
            Kernel = kernel,
            Append = "console=ttyS0 nr_cpus=2",
            Modules = [capture + " role=capture", other],
            Smp = 2,
            MemoryMiB = 256,
            ExtraArgs = ["-debugcon", "file:" + _dir.File("debugcon.out")],
        });

        Assert.Equal(1, machine.WaitForExit(Generous));
        var args = machine.Lines;
        Assert.Equal(machine.Arguments, args);
        AssertPair(args, "-accel", "tcg");
        AssertPair(args, "-machine", "pc");
        AssertPair(args, "-display", "none");
        AssertPair(args, "-monitor", "none");
        AssertPair(args, "-serial", "stdio");
        AssertPair(args, "-qmp", $"unix:{machine.QmpSocketPath},server=on,wait=off");
        AssertPair(args, "-device", "isa-debug-exit,iobase=0x501,iosize=2");
        AssertPair(args, "-smp", "2");
        AssertPair(args, "-m", "256");
        AssertPair(args, "-kernel", kernel);
        AssertPair(args, "-append", "console=ttyS0 nr_cpus=2");
        AssertPair(args, "-initrd", $"{capture} role=capture,{other}");
        Assert.Contains("-no-reboot", args);
        Assert.Contains("-no-user-config", args);
        Assert.Equal(["-debugcon", "file:" + _dir.File("debugcon.out")], args.TakeLast(2));
        Assert.StartsWith(machine.Options.QemuBinary + " -accel tcg", machine.CommandLine);
        Assert.Contains("-append 'console=ttyS0 nr_cpus=2'", machine.CommandLine);
        Assert.StartsWith(machine.WorkDirectory, machine.QmpSocketPath);
    }

    [Fact]
    public void Start_WithoutNoReboot_LeavesItOut()
    {
        using var machine = StartFake("""
            for a in "$@"; do printf '%s\r\n' "$a"; done
            """, new QemuOptions { NoReboot = false });

        machine.WaitForExit(Generous);

        Assert.DoesNotContain("-no-reboot", machine.Lines);
    }

    [Fact]
    public void MissingQemu_FailsNamingTheBinaryAndTheDebianPackage()
    {
        var onPath = Assert.Throws<QemuNotFoundException>(() =>
            QemuMachine.Start(new QemuOptions { QemuBinary = "qemu-system-x86_64-not-installed" }));
        var byPath = Assert.Throws<QemuNotFoundException>(() =>
            QemuMachine.Start(new QemuOptions { QemuBinary = "/nonexistent/qemu-system-x86_64" }));

        Assert.Contains("'qemu-system-x86_64-not-installed' was not found on PATH", onPath.Message);
        Assert.Contains("Debian package qemu-system-x86 ", onPath.Message);
        Assert.Contains("/nonexistent/qemu-system-x86_64", byPath.Message);
        Assert.Contains("qemu-system-x86 ", byPath.Message);
    }

    [Fact]
    public void MissingKernelOrModule_FailsNamingTheFile()
    {
        var fake = FakeQemu("exit 0");
        var kernel = _dir.File("kernel.elf");

        var noKernel = Assert.Throws<FileNotFoundException>(() =>
            QemuMachine.Start(new QemuOptions { QemuBinary = fake, Kernel = kernel }));
        File.WriteAllText(kernel, "");
        var noModule = Assert.Throws<FileNotFoundException>(() =>
            QemuMachine.Start(new QemuOptions { QemuBinary = fake, Kernel = kernel, Modules = [_dir.File("capture.elf") + " x"] }));
        var comma = Assert.Throws<ArgumentException>(() =>
            QemuMachine.Start(new QemuOptions { QemuBinary = fake, Kernel = kernel, Modules = [kernel + " a,b"] }));

        Assert.Contains(kernel, noKernel.Message);
        Assert.Contains(_dir.File("capture.elf"), noModule.Message);
        Assert.Contains("comma", comma.Message);
    }

    [Fact]
    public void Dispose_KillsARunningQemu_AndRemovesOnlyTheWorkDirectoryItCreated()
    {
        var machine = StartFake("exec sleep 60");
        var given = _dir.File("work");
        var keeper = StartFake("exec sleep 60", new QemuOptions { WorkDirectory = given });
        var (pid, work) = (machine.Pid, machine.WorkDirectory);
        Assert.True(Directory.Exists(work));

        machine.Dispose();
        keeper.Dispose();

        Assert.False(IsAlive(pid));
        Assert.False(IsAlive(keeper.Pid));
        Assert.False(Directory.Exists(work));
        Assert.True(Directory.Exists(given));
    }

    [Fact]
    public void SerialLogFileAndSink_ReceiveEverything_AndAnUnterminatedLastLineCounts()
    {
        var log = _dir.File("serial.log");
        var sunk = new List<string>();
        using var machine = StartFake("printf 'one\\r\\ntwo\\r\\nthree'", new QemuOptions
        {
            SerialLogPath = log,
            SerialLineSink = line => { lock (sunk) sunk.Add(line); },
        });

        Assert.Equal(0, machine.WaitForExit(Generous));

        Assert.Equal(["one", "two", "three"], machine.Lines);
        lock (sunk) Assert.Equal(["one", "two", "three"], sunk);
        machine.Dispose();
        Assert.Equal("one\r\ntwo\r\nthree", File.ReadAllText(log));
    }

    [Fact]
    public void Qmp_WhenQemuExitsWithoutOpeningItsSocket_FailsWithTheExitStatus_NotAfterTheConnectTimeout()
    {
        using var machine = StartFake("""
            printf 'qemu-system-x86_64: -kernel: bad image\r\n'
            exit 3
            """);
        var clock = Stopwatch.StartNew();

        var e = Assert.Throws<QemuExitedException>(() => machine.Qmp);

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"took {clock.Elapsed}");
        Assert.Contains("status 3", e.Message);
        Assert.Contains("QMP socket", e.Message);
        Assert.Contains("bad image", e.Message);
    }

    [Fact]
    public void Qmp_ConnectsLazily_AndItsTimeoutsCarryTheMachinesContext()
    {
        using var machine = StartFake("""
            printf 'waiting for qmp\r\n'
            exec sleep 30
            """);
        // Play QEMU's part on the machine's socket, a little after start as QEMU does.
        Thread.Sleep(200);
        using var server = new FakeQmpServer(machine.QmpSocketPath, async peer =>
        {
            await peer.HandshakeAsync();
            await peer.HoldAsync();
        });

        var e = Assert.Throws<QmpTimeoutException>(() => machine.Qmp.Execute("query-status", timeout: TimeSpan.FromMilliseconds(200)));

        Assert.Same(machine.Qmp, machine.Qmp);
        Assert.Contains("'query-status'", e.Message);
        Assert.Contains(machine.CommandLine, e.Message);
        Assert.Contains("waiting for qmp", e.Message);
    }

    private static void AssertPair(IReadOnlyList<string> args, string option, string value)
    {
        var i = args.ToList().IndexOf(option);
        Assert.True(i >= 0, $"{option} missing from: {string.Join(" ", args)}");
        Assert.Equal(value, args[i + 1]);
    }

    /// <summary>A process that is gone or a zombie (not reaped where no init reaps orphans) is dead.</summary>
    private static bool IsAlive(int pid)
    {
        string stat;
        try { stat = File.ReadAllText($"/proc/{pid}/stat"); }
        catch (IOException) { return false; }
        var state = stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[0];
        return state is not ("Z" or "X");
    }

    private static bool WaitUntil(Func<bool> condition)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > Generous) return false;
            Thread.Sleep(20);
        }
        return true;
    }
}
