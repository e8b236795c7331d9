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

    /// <summary>Lines as the kernel printed them, without the "[    0.001234] " timestamp.</summary>
    public static IEnumerable<string> Messages(this QemuMachine vm) =>
        vm.Lines.Select(l => Regex.Replace(l, @"^\[\s*\d+\.\d{6}\] ", ""));
}
