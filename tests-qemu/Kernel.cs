// Boots out/kernel.elf in QEMU for a test: finds the image, starts the machine with the test's
// parameters and a hard timeout, and gives the assertions that every test here needs.
using System.Text.RegularExpressions;
using Nmidump.Qemu;
using Xunit;

namespace Nmidump.QemuTests;

public static class Kernel
{
    /// <summary>How long a boot may take to reach a line under TCG on a loaded two-core machine.</summary>
    public static readonly TimeSpan LineTimeout = TimeSpan.FromSeconds(30);

    public static string Root { get; } = FindRoot();
    public static string Image => Path.Combine(Root, "out", "kernel.elf");

    static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "linker.ld")) && Directory.Exists(Path.Combine(dir.FullName, "boot")))
                return dir.FullName;
        throw new InvalidOperationException("cannot find the repository root above " + AppContext.BaseDirectory);
    }

    public static QemuMachine Boot(string append, int smp = 1, int memoryMiB = 128, int timeoutSeconds = 60, IReadOnlyList<string>? extraArgs = null)
    {
        Assert.True(File.Exists(Image), $"{Image} is missing: run ./build.sh build (./build.sh test does it first)");
        return QemuMachine.Start(new QemuOptions
        {
            Kernel = Image,
            Append = append,
            Smp = smp,
            MemoryMiB = memoryMiB,
            Timeout = TimeSpan.FromSeconds(timeoutSeconds),
            ExtraArgs = extraArgs ?? [],
        });
    }

    /// <summary>Waits for a line; the failure names the line and shows the serial tail.</summary>
    public static string Expect(this QemuMachine vm, string text) => vm.WaitForLine(text, LineTimeout);

    public static string Expect(this QemuMachine vm, Regex pattern) => vm.WaitForLine(pattern, LineTimeout);

    /// <summary>The number of serial lines containing text (after the log prefix).</summary>
    public static int Count(this QemuMachine vm, string text) => vm.Lines.Count(l => l.Contains(text, StringComparison.Ordinal));

    /// <summary>The number of messages (timestamp removed) that start with text.</summary>
    public static int CountStarting(this QemuMachine vm, string text) => vm.Messages().Count(m => m.StartsWith(text, StringComparison.Ordinal));

    /// <summary>
    /// Waits until every vCPU is halted with interrupts off (QEMU's "HLT=1", RFLAGS.IF clear): stopped
    /// for good, as a panic that halts leaves them. Fails, naming their state, if they are not within the bound.
    /// </summary>
    public static void ExpectAllCpusHaltedForGood(this QemuMachine vm, TimeSpan bound)
    {
        Assert.False(vm.HasExited, $"QEMU exited (status {vm.ExitCode}) instead of halting\n{vm.Context()}");
        if (vm.AllCpusHalted(bound, out string state)) return;
        Assert.False(vm.HasExited, $"QEMU exited (status {vm.ExitCode}) instead of halting\n{vm.Context()}");
        Assert.Fail($"not every CPU halted with interrupts off within {bound.TotalSeconds} s:\n{string.Join("\n", state.Split('\n').Where(l => l.Contains("HLT=") || l.StartsWith("CPU#")))}");
    }

    /// <summary>
    /// The CPU the panic names in dump_stack's header ("CPU: 2 PID: 0 Comm: swapper/2 ..."), the first
    /// such line after "Kernel panic" (a line another CPU began before the panic may come between).
    /// </summary>
    public static int PanickingCpu(this QemuMachine vm)
    {
        var messages = vm.Messages().ToList();
        int panic = messages.FindIndex(m => m.StartsWith("Kernel panic - not syncing", StringComparison.Ordinal));
        Assert.True(panic >= 0, "no panic line");
        var m = messages.Skip(panic + 1).Select(x => Regex.Match(x, @"^CPU: (\d+) PID: 0 Comm: swapper/\1 ")).FirstOrDefault(x => x.Success);
        Assert.True(m != null, $"no dump_stack CPU line after the panic line:\n{vm.SerialText}");
        return int.Parse(m!.Groups[1].Value);
    }

    /// <summary>Lines as the kernel printed them, without the "[    0.001234] " timestamp.</summary>
    public static IEnumerable<string> Messages(this QemuMachine vm) =>
        vm.Lines.Select(l => Regex.Replace(l, @"^\[\s*\d+\.\d{6}\] ", ""));
}
