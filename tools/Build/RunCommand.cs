// `./build.sh run`, the product's main job: build if needed, boot the kernel in QEMU with the
// capture image armed, inject an NMI over QMP, let the capture kernel stream the vmcore through
// the shared-memory window (or debugcon), verify the transfer into out/vmcore while the guest is
// still writing it, and print the inspector's summary. Exit status 0 only for a verified dump.
// Every file holding guest memory is created owner-only before QEMU opens it (PrivateFile).
using System.Diagnostics;
using Nmidump.Inspector;
using Nmidump.Qemu;

namespace Nmidump.Build;

public static class RunCommand
{
    public const string DefaultAppend = "apic_extnmi=all unknown_nmi_panic crashkernel=16M";

    /// <summary>The most guest RAM `run` accepts, in MiB: 64 GiB, what the page-table pools are sized for.</summary>
    public const int MaxMemoryMiB = 65536;
    /// <summary>Guest RAM above this is given to QEMU unreserved (MAP_NORESERVE).</summary>
    const int LazyRamAboveMiB = 8192;

    public sealed record Settings(int Smp, int MemoryMiB, string Append, int NmiDelayMs, bool InjectNmi, string OutDir,
        string Channels, int TimeoutSeconds, bool Echo, bool KeepWindow = false, int DumpLevel = 31);

    /// <param name="Transfer">Host time from the first verified chunk to the verified vmcore.</param>
    /// <param name="GuestExport">The capture kernel's own export time, from its "exporting" and "export done" lines' arrival.</param>
    public sealed record Outcome(bool Verified, string VmcorePath, long VmcoreSize, TimeSpan NmiToVerified, TimeSpan Transfer, string Message,
        QemuMachine? Machine, TimeSpan GuestExport = default);

    public static int Run(string[] args)
    {
        var o = new Options(args, "--smp", "--mem", "--append", "--nmi-delay-ms", "--no-nmi", "--out", "--channels", "--timeout", "--no-build", "--keep-window",
            "--dump-level");
        var s = new Settings(
            Smp: o.GetInt("--smp", 4, 1, 255),
            MemoryMiB: o.GetInt("--mem", 256, 64, MaxMemoryMiB),
            Append: (DefaultAppend + " " + (o.Get("--append") ?? "")).Trim(),
            NmiDelayMs: o.GetInt("--nmi-delay-ms", 0, 0, 600_000),
            InjectNmi: o.Get("--no-nmi") is not ("" or "1" or "true"),
            OutDir: Path.GetFullPath(o.Get("--out") ?? Paths.Out),
            Channels: o.Get("--channels") ?? "window",
            TimeoutSeconds: o.GetInt("--timeout", 300, 10, 86400),
            Echo: true,
            KeepWindow: o.Get("--keep-window") != null,
            DumpLevel: o.GetInt("--dump-level", 31, 0, 31));
        if (s.Channels is not ("window" or "debugcon" or "both"))
            throw new UsageException($"--channels {s.Channels}: expected window, debugcon or both");
        if (o.Get("--no-build") == null) KernelBuild.Build();
        else if (!File.Exists(Paths.KernelElf) || !File.Exists(Paths.CaptureElf))
            throw new BuildException("--no-build: out/kernel.elf and out/capture.elf must exist (./build.sh build)");
        Prerequisites.Ensure(Prerequisites.Need.Run);
        var console = new TransferProgress(Console.Out, terminal: !Console.IsOutputRedirected);
        var outcome = Capture(s with { Echo = false }, console.Line, console);
        console.Finish();
        using var vm = outcome.Machine;
        if (!outcome.Verified)
        {
            Console.Error.WriteLine($"run: no verified vmcore: {outcome.Message}");
            return 1;
        }
        Console.WriteLine(TransferProgress.Summary(outcome.VmcoreSize, outcome.Transfer, outcome.NmiToVerified, s.Channels == "debugcon" ? "debugcon" : "the window"));
        Console.WriteLine($"run: {outcome.Message}");
        Console.WriteLine();
        return Cli.Run([outcome.VmcorePath, "--kernel", Paths.KernelElf, "--log-lines", "20"]) == 0 ? 0 : 1;
    }

    /// <summary>
    /// Where the window's backing file goes: tmpfs when there is room (the guest's copy into a
    /// file-backed mapping on disk ran at 165 MB/s here, into tmpfs at over 600 MB/s), else DIR.
    /// </summary>
    internal static string WindowFile(string outDir, long bytes)
    {
        const string shm = "/dev/shm";
        try
        {
            // The file is sparse: only what the stream writes takes room, at most the guest's RAM.
            if (Directory.Exists(shm) && new DriveInfo(shm).AvailableFreeSpace > bytes + (256L << 20))
                return Path.Combine(shm, $"nmidump-{Environment.ProcessId}-{Guid.NewGuid():N}.window");
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return Path.Combine(outDir, "vmcore.window");
    }

    internal static long WindowBytes(int memoryMiB)
    {
        // QEMU wants a power of two, and the stream is a little larger than the guest's RAM minus
        // the crash region: the next power of two at or above the RAM size always holds it.
        long size = 1L << 20;
        while (size < (long)memoryMiB << 20) size <<= 1;
        return size;
    }

    /// <summary>QEMU's arguments for the ivshmem window backed by <paramref name="window"/> (a file already prepared owner-only).</summary>
    internal static string[] WindowDevice(string window, long windowBytes) =>
        ["-object", $"memory-backend-file,id=dumpwin,share=on,mem-path={window},size={windowBytes}", "-device", "ivshmem-plain,memdev=dumpwin"];

    /// <summary>
    /// Waits for QEMU to exit; returns why no capture will come instead, at once, when the first
    /// kernel's panic ends without a jump (panic=0 halts, and QEMU would only exit at the time-out).
    /// </summary>
    static string? WaitForExitOrAHaltedPanic(QemuMachine vm, TimeSpan bound)
    {
        var clock = Stopwatch.StartNew();
        while (!vm.HasExited && clock.Elapsed < bound)
        {
            if (HaltedPanic(vm) is string halted) return halted;
            Thread.Sleep(100);
        }
        return null;
    }

    /// <summary>Kills QEMU and says why when the first kernel's panic ended without a jump; null otherwise.</summary>
    static string? HaltedPanic(QemuMachine vm)
    {
        if (vm.Lines.FirstOrDefault(l => l.Contains("---[ end Kernel panic") && !l.Contains("capture: ")) is not string end) return null;
        vm.Kill();
        return $"the first kernel's panic ended without a jump to the capture kernel (\"{end.Trim()}\")";
    }

    /// <summary>
    /// One whole capture: boot, NMI, transfer, verification. Used by run, the tests and the benchmark.
    /// <paramref name="lineSink"/> gets each serial line; <paramref name="progress"/> the transfer's progress.
    /// </summary>
    public static Outcome Capture(Settings s, Action<string>? lineSink = null, TransferProgress? progress = null)
    {
        Directory.CreateDirectory(s.OutDir);
        string keptWindow = Path.Combine(s.OutDir, "vmcore.window");
        long windowBytes = WindowBytes(s.MemoryMiB);
        string window = WindowFile(s.OutDir, windowBytes), debugcon = Path.Combine(s.OutDir, "vmcore.debugcon");
        string vmcore = Path.Combine(s.OutDir, "vmcore"), debugconVmcore = Path.Combine(s.OutDir, "vmcore.from-debugcon");
        foreach (var stale in new[] { keptWindow, window, debugcon, vmcore, debugconVmcore }) File.Delete(stale);
        bool useWindow = s.Channels is "window" or "both";
        bool useDebugcon = s.Channels is "debugcon" or "both";

        var extra = new List<string>();
        if (useWindow)
        {
            // Created here, owner-only and sparse, so QEMU opens our file rather than making one with
            // its umask. A full dump fills about the guest's RAM of it: that much is written once now,
            // before the NMI, so the guest's copy never waits for the host to find and clear a page;
            // a filtered dump writes a few MiB and needs nothing prepared.
            PrivateFile.Prepare(window, windowBytes);
            if (s.DumpLevel == 0) PrivateFile.Populate(window, Math.Min(windowBytes, (long)s.MemoryMiB << 20));
            extra.AddRange(WindowDevice(window, windowBytes));
        }
        PrivateFile.Prepare(debugcon);
        extra.AddRange(["-debugcon", $"file:{debugcon}"]);
        if (s.MemoryMiB > LazyRamAboveMiB)
        {
            // The guest's RAM is only touched where the kernel writes (a few MiB when idle): without
            // a reservation a 64 GiB guest starts on a host with less, where plain -m is refused.
            extra.AddRange(["-object", $"memory-backend-ram,id=guestram,size={s.MemoryMiB}M,reserve=off", "-machine", "memory-backend=guestram"]);
        }
        string serialLog = Path.Combine(s.OutDir, "serial.log");
        var vm = QemuMachine.Start(new QemuOptions
        {
            Kernel = Paths.KernelElf,
            Append = s.Append,
            Modules = [$"{Paths.CaptureElf} dump_channels={s.Channels} dump_level={s.DumpLevel}"],
            Smp = s.Smp,
            MemoryMiB = s.MemoryMiB,
            EchoSerial = s.Echo,
            SerialLineSink = lineSink,
            SerialLogPath = serialLog,
            Timeout = TimeSpan.FromSeconds(s.TimeoutSeconds),
            ExtraArgs = extra,
        });
        try
        {
            var bound = TimeSpan.FromSeconds(s.TimeoutSeconds);
            // The NMI goes in once the image is armed and the kernel idles. A crash scenario
            // (--no-nmi --append crashtest=...) never reaches the idle line, and with loglevel=
            // below 7 neither line reaches the console: then there is nothing to wait for.
            if (s.InjectNmi)
            {
                vm.WaitForLine("kdump: capture image armed", bound);
                vm.WaitForLine("idle: nothing more to do", bound);
            }
            if (s.NmiDelayMs > 0) Thread.Sleep(s.NmiDelayMs);
            var sw = Stopwatch.StartNew();
            if (s.InjectNmi) vm.Qmp.InjectNmi();

            // The window is verified while the guest writes it: the vmcore is whole when the guest's
            // last chunk lands, not after QEMU has powered off and the file has been read again.
            ReceiveResult? live = null;
            TimeSpan verified = TimeSpan.Zero, firstChunk = TimeSpan.Zero;
            string? halted = null;
            if (useWindow)
            {
                live = DumpReceiver.Follow(window, vmcore, () => !vm.HasExited && (halted = HaltedPanic(vm)) == null, (done, total) =>
                {
                    if (firstChunk == TimeSpan.Zero) firstChunk = sw.Elapsed;
                    progress?.Update(done, total);
                });
                verified = sw.Elapsed;
            }
            if ((halted ?? WaitForExitOrAHaltedPanic(vm, bound)) is string why)
                return new Outcome(false, vmcore, 0, sw.Elapsed, TimeSpan.Zero, $"{why}; serial log in {Paths.Relative(serialLog)}", vm);
            int status = vm.WaitForExit(bound);
            var exported = vm.TimedLines.FirstOrDefault(l => l.Text.Contains("capture: exporting vmcore"));
            var done = vm.TimedLines.FirstOrDefault(l => l.Text.Contains("capture: export done"));
            var guestExport = exported != null && done != null ? done.Time - exported.Time : TimeSpan.Zero;
            if (!QemuExit.IsClean(status))
                return new Outcome(false, vmcore, 0, sw.Elapsed, TimeSpan.Zero, $"QEMU exited with status {status} ({QemuExit.Describe(status)}); serial log in {Paths.Relative(serialLog)}", vm);
            if (exported == null)
                return new Outcome(false, vmcore, 0, sw.Elapsed, TimeSpan.Zero, $"the capture kernel exported nothing; serial log in {Paths.Relative(serialLog)}", vm);
            if (done == null)
                return new Outcome(false, vmcore, 0, sw.Elapsed, TimeSpan.Zero, $"QEMU exited before \"capture: export done\"; serial log in {Paths.Relative(serialLog)}", vm);
            var r = live ?? DumpReceiver.Receive(debugcon, vmcore, (d, t) =>
            {
                if (firstChunk == TimeSpan.Zero) firstChunk = sw.Elapsed;
                progress?.Update(d, t);
            });
            if (live == null) verified = sw.Elapsed;
            if (!r.Ok) return new Outcome(false, vmcore, 0, sw.Elapsed, TimeSpan.Zero, r.Message, vm);
            string message = $"verified {Paths.Relative(vmcore)}: {r.Size} bytes ({r.Message})";
            if (useWindow && useDebugcon)
            {
                var d = DumpReceiver.Receive(debugcon, debugconVmcore);
                if (!d.Ok) return new Outcome(false, vmcore, r.Size, sw.Elapsed, TimeSpan.Zero, "debugcon: " + d.Message, vm);
                if (!DumpReceiver.CompareFiles(vmcore, debugconVmcore, out string diff))
                    return new Outcome(false, vmcore, r.Size, sw.Elapsed, TimeSpan.Zero, diff, vm);
                message += "; the debugcon copy is byte-identical";
            }
            return new Outcome(true, vmcore, r.Size, verified, verified - firstChunk, message, vm, guestExport);
        }
        catch (QemuWaitException e)
        {
            return new Outcome(false, vmcore, 0, TimeSpan.Zero, TimeSpan.Zero, e.Message, vm);
        }
        finally
        {
            // The window can be as large as the guest's RAM: keep it only when asked (the transfer
            // tests damage a copy of it), and never leave it in tmpfs.
            if (File.Exists(window) && window != keptWindow)
            {
                vm.Kill();
                if (s.KeepWindow) File.Move(window, keptWindow, overwrite: true);
                else File.Delete(window);
            }
        }
    }
}
