// `./build.sh bench boot`: host wall-clock figures for booting, printed, never asserted. For each
// -smp it measures the floor (QEMU start to exit with poweroff_at_entry: QEMU's own cost), the
// time to the banner, to the SMP bring-up line when there is one, and to power-off; medians of
// several runs, because TCG timings on a two-core machine wander.
using System.Text.RegularExpressions;
using Nmidump.Qemu;

namespace Nmidump.Build;

public static class BenchCommand
{
    public static int Run(string[] args)
    {
        if (args.Length == 0 || args[0] != "boot")
            throw new UsageException("bench: expected 'bench boot [--runs N] [--smp 1,8,64]'");
        var o = new Options(args[1..], "--runs", "--smp");
        int runs = o.GetInt("--runs", 3, 1, 50);
        var smps = (o.Get("--smp") ?? "1,8,64").Split(',').Select(s => int.TryParse(s, out int n) && n is >= 1 and <= 64
            ? n : throw new UsageException($"--smp {s}: expected CPU counts from 1 to 64, comma-separated")).ToList();
        string kernel = KernelBuild.Build();
        Prerequisites.Ensure(Prerequisites.Need.Run);
        Console.WriteLine($"bench boot: {runs} run(s) each, medians, host wall time from QEMU start (TCG)");
        var (loaded, total) = ImageBytes(kernel);
        Console.WriteLine($"kernel: {Paths.Relative(kernel)} {new FileInfo(kernel).Length / 1024} KiB file, {loaded / 1024} KiB loaded (code and data), {total / 1024} KiB in memory with bss");
        Console.WriteLine($"{"smp",4} {"floor (ms)",11} {"banner (ms)",12} {"brought up (ms)",16} {"guest bring-up (ms)",20} {"power-off (ms)",15}");
        foreach (int smp in smps)
        {
            var floor = new List<double>();
            var banner = new List<double>();
            var up = new List<double>();
            var guest = new List<double>();
            var off = new List<double>();
            for (int r = 0; r < runs; r++)
            {
                floor.Add(TimeToExit(kernel, smp, "poweroff_at_entry"));
                using var vm = Boot(kernel, smp, "poweroff_after_ms=0");
                banner.Add(vm.WaitForSerialLine(Version, TimeSpan.FromSeconds(120)).Time.TotalMilliseconds);
                var smpLine = vm.TimedLines.FirstOrDefault(l => l.Text.Contains("smp: Brought up"));
                vm.WaitForExit(TimeSpan.FromSeconds(120));
                off.Add(vm.Elapsed.TotalMilliseconds);
                smpLine ??= vm.TimedLines.FirstOrDefault(l => l.Text.Contains("smp: Brought up"));
                if (smpLine != null) up.Add(smpLine.Time.TotalMilliseconds);
                var g = vm.TimedLines.Select(l => Regex.Match(l.Text, @"smp: bring-up took (\d+) us")).FirstOrDefault(m => m.Success);
                if (g != null) guest.Add(long.Parse(g.Groups[1].Value) / 1000.0);
            }
            Console.WriteLine($"{smp,4} {Median(floor),11:F0} {Median(banner),12:F0} {Show(up),16} {Show(guest),20} {Median(off),15:F0}");
        }
        return 0;
    }

    static readonly Regex Version = new(@"nmidump version");

    static QemuMachine Boot(string kernel, int smp, string append) => QemuMachine.Start(new QemuOptions
    {
        Kernel = kernel,
        Append = append,
        Smp = smp,
        MemoryMiB = 256,
        Timeout = TimeSpan.FromSeconds(180),
    });

    static double TimeToExit(string kernel, int smp, string append)
    {
        using var vm = Boot(kernel, smp, append);
        vm.WaitForExit(TimeSpan.FromSeconds(120));
        return vm.Elapsed.TotalMilliseconds;
    }

    static double Median(List<double> v)
    {
        if (v.Count == 0) return double.NaN;
        var s = v.Order().ToList();
        return s.Count % 2 == 1 ? s[s.Count / 2] : (s[s.Count / 2 - 1] + s[s.Count / 2]) / 2;
    }

    static string Show(List<double> v) => v.Count == 0 ? "-" : Median(v).ToString("F1");

    static (long Loaded, long Total) ImageBytes(string elf)
    {
        var syms = ElfSymbols.Read(elf);
        ulong Addr(string name) => syms.First(s => s.Name == name).Address;
        return ((long)(Addr("__load_end") - Addr("__image_start")), (long)(Addr("__image_end") - Addr("__image_start")));
    }
}
