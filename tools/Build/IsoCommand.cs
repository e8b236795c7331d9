// `./build.sh iso`: out/nmidump.iso, a BIOS-bootable ISO (El Torito, GRUB 2's i386-pc image made by
// grub-mkrescue) holding out/kernel.elf, out/capture.elf and iso/grub.cfg. Only the GRUB modules
// the menu uses go in (1.5 MB instead of 10). grub-mkrescue stamps the volume with the current time,
// and that date is also the UUID its core image searches for; run under faketime with every file
// date pinned, the same kernel always gives the same ISO, byte for byte.
namespace Nmidump.Build;

public static class IsoCommand
{
    public static string DefaultIso => Path.Combine(Paths.Out, "nmidump.iso");
    static string GrubConfig => Path.Combine(Paths.Root, "iso", "grub.cfg");
    /// <summary>The moment every date in the ISO is pinned to.</summary>
    const string Stamp = "2024-01-01 00:00:00";
    static readonly string[] GrubModules = ["multiboot", "normal", "serial", "iso9660", "biosdisk", "test", "configfile"];

    public static int Run(string[] args)
    {
        var o = new Options(args, "--out", "--test-config", "--no-build");
        string output = Path.GetFullPath(o.Get("--out") ?? DefaultIso);
        string? testConfig = o.Get("--test-config") is string t ? Path.GetFullPath(t) : null;
        if (testConfig != null && !File.Exists(testConfig)) throw new UsageException($"--test-config {testConfig}: no such file");
        // --no-build: the QEMU tests make their ISO from the images ./build.sh test has just built.
        if (o.Get("--no-build") == null) KernelBuild.Build();
        else if (!File.Exists(Paths.KernelElf) || !File.Exists(Paths.CaptureElf)) throw new UsageException("iso --no-build: out/kernel.elf or out/capture.elf is missing; run ./build.sh build");
        Build(output, testConfig, verbose: true);
        var size = new FileInfo(output).Length;
        Console.WriteLine($"iso: {Paths.Relative(output)} ready ({size / 1024} KiB): boots kernel.elf with apic_extnmi=all unknown_nmi_panic crashkernel=16M, capture.elf with dump_channels=serial");
        return 0;
    }

    /// <summary>
    /// Writes the ISO unless it is newer than the images and the menu. testConfig, when given, goes in
    /// as /boot/grub/test.cfg, which the menu sources after its defaults (a test's entry and timeout).
    /// </summary>
    public static void Build(string output, string? testConfig, bool verbose = false)
    {
        var inputs = new List<string> { Paths.KernelElf, Paths.CaptureElf, GrubConfig };
        if (testConfig != null) inputs.Add(testConfig);
        if (!Paths.Stale(output, inputs)) return;
        Prerequisites.Ensure(Prerequisites.Need.Iso);
        string tree = Directory.CreateTempSubdirectory("nmidump-iso-").FullName;
        try
        {
            string boot = Path.Combine(tree, "boot"), grub = Path.Combine(boot, "grub");
            Directory.CreateDirectory(grub);
            File.Copy(Paths.KernelElf, Path.Combine(boot, "kernel.elf"));
            File.Copy(Paths.CaptureElf, Path.Combine(boot, "capture.elf"));
            File.Copy(GrubConfig, Path.Combine(grub, "grub.cfg"));
            if (testConfig != null) File.Copy(testConfig, Path.Combine(grub, "test.cfg"));
            Directory.CreateDirectory(Path.GetDirectoryName(output)!);
            string temp = output + ".tmp";
            if (verbose) Console.WriteLine($"  grub-mkrescue {Paths.Relative(output)}");
            // env sets TZ for faketime and grub-mkrescue alike: the pinned moment is UTC.
            ProcessRunner.Check("env", ["TZ=UTC", "faketime", Stamp, "grub-mkrescue", "-o", temp,
                $"--install-modules={string.Join(' ', GrubModules)}", "--locales=", "--fonts=", "--themes=", "--compress=no",
                tree, "--set_all_file_dates", "2024010100000000"]);
            File.Move(temp, output, overwrite: true);
        }
        finally
        {
            Directory.Delete(tree, recursive: true);
        }
    }
}
