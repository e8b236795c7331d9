// `./build.sh bench [boot|shootdown|kexec|dump]`: figures, printed, never asserted; with no argument
// all four at the issue's cases and one table (BenchTable; --record keeps it in docs/benchmarks.md). boot: host wall
// time from QEMU start to the banner, to SMP bring-up and to power-off, beside the poweroff_at_entry
// floor (QEMU's own cost); shootdown: the guest-measured NMI shootdown; kexec: guest time from the
// panic to the capture kernel; dump: host time from the NMI to a verified vmcore, beside QEMU's own
// dump-guest-memory. Medians of several runs where it is cheap: TCG timings on two cores wander.
using System.Text.RegularExpressions;
using Nmidump.Inspector;
using Nmidump.Qemu;

namespace Nmidump.Build;

public static class BenchCommand
{
    public static int Run(string[] args)
    {
        string what = args.Length > 0 ? args[0] : "";
        if (what is "" or "--record" or "--runs") return BenchTable.All(args);
        return what switch
        {
            "boot" => Boot(args[1..]),
            "shootdown" => Shootdown(args[1..]),
            "kexec" => KexecTiming(args[1..]),
            "dump" => Dump(args[1..]),
            _ => throw new UsageException("bench: expected 'bench [--runs N] [--record]' or 'bench boot|shootdown|kexec|dump [--runs N]'"),
        };
    }

    /// <summary>Guest-measured (TSC) shootdown: NMI IPI sent to the last CPU's note written.</summary>
    internal static int Shootdown(string[] args)
    {
        var o = new Options(args, "--runs", "--smp", "--extnmi");
        int runs = o.GetInt("--runs", 3, 1, 50);
        var smps = ParseSmps(o.Get("--smp") ?? "2,8,64");
        var modes = (o.Get("--extnmi") ?? "bsp,all").Split(',');
        if (modes.Any(m => m is not ("bsp" or "all")))
            throw new UsageException($"--extnmi {o.Get("--extnmi")}: expected bsp, all or both comma-separated");
        string kernel = KernelBuild.Build();
        Prerequisites.Ensure(Prerequisites.Need.Run);
        Console.WriteLine($"bench shootdown: {runs} run(s) each; guest TSC from the NMI IPI to the last CPU's saved note (TCG)");
        Console.WriteLine($"{"smp",4} {"apic_extnmi",12} {"median (us)",12} {"min (us)",9} {"max (us)",9}");
        foreach (int smp in smps)
        foreach (string mode in modes)
        {
            var us = new List<double>();
            for (int r = 0; r < runs; r++)
            {
                // bsp: only CPU 0 takes the NMI and the others sit in their idle loop, so the figure is
                // the shootdown itself; all: every CPU takes the external NMI at once (the worst case).
                using var vm = Boot(kernel, smp, $"apic_extnmi={mode} unknown_nmi_panic");
                vm.WaitForLine("idle: nothing more to do", TimeSpan.FromSeconds(120));
                vm.Qmp.InjectNmi();
                var m = Regex.Match(vm.WaitForLine(new Regex(@"crash: shootdown of \d+ CPUs took \d+ us"), TimeSpan.FromSeconds(60)), @"took (\d+) us");
                us.Add(double.Parse(m.Groups[1].Value));
            }
            Console.WriteLine($"{smp,4} {mode,12} {Median(us),12:F0} {us.Min(),9:F0} {us.Max(),9:F0}");
            BenchTable.Add("shootdown, guest TSC", $"-smp {smp}, apic_extnmi={mode}", $"{Median(us):F0} us (min {us.Min():F0}, max {us.Max():F0})", "-");
        }
        return 0;
    }

    /// <summary>Guest time from the panic to the capture kernel's first line, and the digest's share.</summary>
    internal static int KexecTiming(string[] args)
    {
        var o = new Options(args, "--runs", "--smp", "--append");
        int runs = o.GetInt("--runs", 3, 1, 50);
        int smp = ParseSmps(o.Get("--smp") ?? "4")[0];
        string append = ("apic_extnmi=all unknown_nmi_panic crashkernel=16M " + (o.Get("--append") ?? "")).Trim();
        string kernel = KernelBuild.Build();
        Prerequisites.Ensure(Prerequisites.Need.Run);
        Console.WriteLine($"bench kexec: -smp {smp}, {runs} run(s), \"{append}\"; guest TSC from the panic to the capture kernel's entry (TCG)");
        var total = new List<double>();
        var digest = new List<double>();
        for (int r = 0; r < runs; r++)
        {
            using var vm = QemuMachine.Start(new QemuOptions
            {
                Kernel = kernel, Append = append, Smp = smp, MemoryMiB = 256,
                Modules = [$"{Paths.CaptureElf} dump_channels=none"], Timeout = TimeSpan.FromSeconds(180),
            });
            vm.WaitForLine("idle: nothing more to do", TimeSpan.FromSeconds(120));
            vm.Qmp.InjectNmi();
            var m = Regex.Match(vm.WaitForLine(new Regex(@"capture: entered \d+ us after the panic"), TimeSpan.FromSeconds(60)), @"entered (\d+) us after the panic \(digest check (\d+) us");
            total.Add(double.Parse(m.Groups[1].Value) / 1000);
            digest.Add(double.Parse(m.Groups[2].Value) / 1000);
        }
        Console.WriteLine($"panic to capture entry: median {Median(total):F2} ms (min {total.Min():F2}, max {total.Max():F2}); digest check {Median(digest):F2} ms ({100 * Median(digest) / Median(total):F0}%)");
        Console.WriteLine("for scale: Linux kdump in the same QEMU takes 1150-1420 ms from the NMI to its capture kernel's first line");
        BenchTable.Add("panic to capture entry, guest TSC", $"-smp {smp}", $"{Median(total):F2} ms (min {total.Min():F2}, max {total.Max():F2})",
            $"digest check {Median(digest):F2} ms ({100 * Median(digest) / Median(total):F0}%)");
        return 0;
    }

    /// <summary>
    /// Host wall time from inject-nmi to a verified vmcore, per guest size and dump level, beside
    /// QEMU's own dump-guest-memory of the same idle guest. The default cases are the issue's
    /// targets: an idle 1 GiB guest's default (filtered) dump, its full dump (dump_level=0), and an
    /// idle 16 GiB guest's default dump.
    /// </summary>
    internal static int Dump(string[] args)
    {
        var o = new Options(args, "--cases", "--smp", "--runs", "--no-qemu");
        var cases = (o.Get("--cases") ?? "1024:31,1024:0,16384:31").Split(',').Select(ParseCase).ToList();
        int smp = o.GetInt("--smp", 4, 1, 255);
        int runs = o.GetInt("--runs", 1, 1, 20);
        bool peer = o.Get("--no-qemu") == null;
        KernelBuild.Build();
        Prerequisites.Ensure(Prerequisites.Need.Run);
        Console.WriteLine($"bench dump: -smp {smp}, {runs} run(s) each (medians); host wall time, TCG; 'export' is the guest's own export time");
        Console.WriteLine($"{"mem",6} {"level",5} {"NMI to verified (s)",20} {"vmcore (MiB)",13} {"export (s)",11} {"host transfer (s)",18} {"QEMU dump-guest-memory (s)",27} {"its size (MiB)",15}");
        string dir = Path.Combine(Paths.Out, "bench-dump");
        var qemu = new Dictionary<int, (double Seconds, long Bytes)>();
        foreach (var (mem, level) in cases)
        {
            var nmi = new List<double>();
            var export = new List<double>();
            var transfer = new List<double>();
            long size = 0;
            string? failure = null;
            for (int r = 0; r < runs && failure == null; r++)
            {
                var s = new RunCommand.Settings(smp, mem, RunCommand.DefaultAppend, 0, true, dir, "window", 900, Echo: false, DumpLevel: level);
                var outcome = RunCommand.Capture(s);
                outcome.Machine?.Dispose();
                if (!outcome.Verified) { failure = outcome.Message; break; }
                nmi.Add(outcome.NmiToVerified.TotalSeconds);
                export.Add(outcome.GuestExport.TotalSeconds);
                transfer.Add(outcome.Transfer.TotalSeconds);
                size = outcome.VmcoreSize;
                foreach (var f in Directory.GetFiles(dir)) File.Delete(f);
            }
            if (failure != null)
            {
                Console.WriteLine($"{mem,6} {level,5} failed: {failure}");
                BenchTable.Add("inject-nmi to verified vmcore", DumpCase(mem, level, smp), "failed: " + failure, "-");
                continue;
            }
            if (peer && !qemu.ContainsKey(mem)) qemu[mem] = QemuDumpGuestMemory(mem, smp, dir);
            string q = peer ? $"{qemu[mem].Seconds,27:F2} {qemu[mem].Bytes / 1048576.0,15:F0}" : $"{"-",27} {"-",15}";
            Console.WriteLine($"{mem,6} {level,5} {Median(nmi),20:F2} {size / 1048576.0,13:F1} {Median(export),11:F2} {Median(transfer),18:F2} {q}");
            // The rate is the stream's: vmcore bytes over the guest's export time (a filtered dump's
            // few hundred KiB take under a millisecond, too little to time).
            string rate = Median(export) >= 0.01 ? $", {size / Median(export) / 1e6:F0} MB/s" : "";
            BenchTable.Add("inject-nmi to verified vmcore", DumpCase(mem, level, smp),
                $"{Median(nmi):F2} s, {Report.Size((ulong)size)}{rate}",
                peer ? $"QEMU dump-guest-memory {qemu[mem].Seconds:F2} s, {Report.Size((ulong)qemu[mem].Bytes)}" : "-");
        }
        Console.WriteLine("for scale: Linux kdump in the same QEMU (-m 1024M) has /proc/vmcore after 3.3-4.5 s, its 808 MiB saved after 10-15 s, makedumpfile -d 31 about 44 s");
        return 0;
    }

    static string DumpCase(int mem, int level, int smp) =>
        $"-smp {smp} -m {(mem % 1024 == 0 ? $"{mem / 1024}G" : $"{mem}M")}, dump_level={level}{(level == 31 ? " (default)" : level == 0 ? " (full)" : "")}";

    static (int Mem, int Level) ParseCase(string text)
    {
        var parts = text.Split(':');
        if (parts.Length == 2 && int.TryParse(parts[0], out int mem) && mem is >= 64 and <= RunCommand.MaxMemoryMiB
            && int.TryParse(parts[1], out int level) && level is >= 0 and <= 31)
            return (mem, level);
        throw new UsageException($"--cases {text}: expected MiB:level pairs, e.g. 1024:31,1024:0,16384:31");
    }

    static (double Seconds, long Bytes) QemuDumpGuestMemory(int mem, int smp, string dir)
    {
        string file = Path.Combine(dir, "qemu-dump.elf");
        using var vm = QemuMachine.Start(new QemuOptions { Kernel = Paths.KernelElf, Append = "", Smp = smp, MemoryMiB = mem, Timeout = TimeSpan.FromSeconds(1800) });
        vm.WaitForLine("idle: nothing more to do", TimeSpan.FromSeconds(120));
        Nmidump.Inspector.PrivateFile.Prepare(file);
        var sw = System.Diagnostics.Stopwatch.StartNew();
        vm.Qmp.DumpGuestMemory(file, TimeSpan.FromSeconds(1500));
        double seconds = sw.Elapsed.TotalSeconds;
        long bytes = new FileInfo(file).Length;
        File.Delete(file);
        return (seconds, bytes);
    }

    static List<int> ParseSmps(string text) => text.Split(',').Select(s => int.TryParse(s, out int n) && n is >= 1 and <= 255
        ? n : throw new UsageException($"--smp {s}: expected CPU counts from 1 to 255, comma-separated")).ToList();

    internal static int Boot(string[] args)
    {
        var o = new Options(args, "--runs", "--smp");
        int runs = o.GetInt("--runs", 3, 1, 50);
        var smps = ParseSmps(o.Get("--smp") ?? "1,8,64");
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
            BenchTable.Add("boot to all CPUs online, host", $"-smp {smp}", $"{Show(up)} ms (guest bring-up {Show(guest)} ms)", $"poweroff_at_entry floor {Median(floor):F0} ms");
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
        byte[] file = File.ReadAllBytes(elf);
        ulong Addr(string name) => Nmidump.Inspector.KernelElf.SymbolValue(file, name) ?? throw new BuildException($"{elf}: no symbol {name}");
        return ((long)(Addr("__load_end") - Addr("__image_start")), (long)(Addr("__image_end") - Addr("__image_start")));
    }
}
