// Makes sure the system tools the build and the tests need are present. As root on Debian it
// installs what is missing with apt-get (once, after one apt-get update); otherwise it names the
// Debian package to install and stops.
namespace Nmidump.Build;

public static class Prerequisites
{
    /// <summary>Tool on PATH -> the Debian package that provides it.</summary>
    static readonly (string Tool, string Package)[] BuildTools =
    [
        ("nasm", "nasm"),
        ("ld", "binutils"),
        ("as", "binutils"),             // boot/*.s: the code that carries DWARF CFI
        ("readelf", "binutils"),
    ];

    static readonly (string Tool, string Package)[] RunTools =
    [
        ("qemu-system-x86_64", "qemu-system-x86"),
    ];

    static readonly (string Tool, string Package)[] TestTools =
    [
        ("gdb", "gdb"),
        ("drgn", "python3-drgn"),       // tools/drgn_vmcore.py's test (the module serves /usr/bin/python3)
    ];

    /// <summary>`./build.sh iso`: grub-mkrescue and what it runs; an absolute path is a file that must exist.</summary>
    static readonly (string Tool, string Package)[] IsoTools =
    [
        ("grub-mkrescue", "grub-common"),
        ("/usr/lib/grub/i386-pc/multiboot.mod", "grub-pc-bin"),   // the BIOS platform's modules
        ("xorriso", "xorriso"),
        ("mformat", "mtools"),
        ("faketime", "faketime"),       // a fixed volume date: the same ISO from the same kernel
    ];

    public enum Need { Build, Run, Iso, Test }

    static bool Present(string tool) => tool.StartsWith('/') ? File.Exists(tool) : ProcessRunner.OnPath(tool);

    public static void Ensure(Need need)
    {
        var wanted = new List<(string Tool, string Package)>(BuildTools);
        if (need is Need.Run or Need.Test) wanted.AddRange(RunTools);
        if (need is Need.Iso or Need.Test) wanted.AddRange(IsoTools);
        if (need is Need.Test) wanted.AddRange(TestTools);
        var missing = wanted.Where(t => !Present(t.Tool)).ToList();
        if (missing.Count == 0) return;

        var packages = missing.Select(m => m.Package).Distinct().ToList();
        var tools = string.Join(", ", missing.Select(m => m.Tool));
        if (!IsRoot() || !ProcessRunner.OnPath("apt-get"))
            throw new BuildException($"missing {tools}: install the Debian package(s) {string.Join(' ', packages)} (apt-get install {string.Join(' ', packages)})");

        Console.WriteLine($"build: installing {string.Join(' ', packages)} (missing {tools})");
        Environment.SetEnvironmentVariable("DEBIAN_FRONTEND", "noninteractive");
        var update = ProcessRunner.Run("apt-get", ["update", "-q"]);
        if (update.ExitCode != 0)
            Console.Error.WriteLine($"build: apt-get update failed ({update.ExitCode}); trying the install anyway");
        var install = ProcessRunner.Run("apt-get", new[] { "install", "-y", "-q", "--no-install-recommends" }.Concat(packages));
        if (install.ExitCode != 0)
            throw new BuildException($"apt-get install {string.Join(' ', packages)} failed ({install.ExitCode}):\n{install.StdErr}".TrimEnd());
        var still = missing.Where(t => !Present(t.Tool)).Select(t => t.Tool).ToList();
        if (still.Count > 0)
            throw new BuildException($"still missing after apt-get install: {string.Join(", ", still)}");
    }

    static bool IsRoot() => Environment.UserName == "root" || Environment.GetEnvironmentVariable("EUID") == "0" || GetEuid() == 0;

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "geteuid")]
    static extern uint geteuid();

    static long GetEuid()
    {
        try { return geteuid(); } catch { return -1; }
    }
}
