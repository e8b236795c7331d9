// `./build.sh torture`: randomized race torture of the whole crash path. Each run is drawn from the
// seed (TortureDraw), run on QEMU (TortureMachine) and judged (TortureJudge); one line a run, the
// replay command and the kept serial log for each failure, and `N passed, M failed` last.
using System.Diagnostics;

namespace Nmidump.Build;

public static class TortureCommand
{
    public static int Run(string[] args)
    {
        var o = new Options(args, "--runs", "--seed", "--jobs", "--keep-failures", "--replay", "--no-build");
        int runs = o.GetInt("--runs", 20, 1, 1_000_000);
        int jobs = o.GetInt("--jobs", 1, 1, 16);
        long seed = o.Get("--seed") is string s
            ? long.TryParse(s, out long v) ? v : throw new UsageException($"--seed {s}: expected an integer")
            : Environment.TickCount64 % 100_000;
        string keep = Path.GetFullPath(o.Get("--keep-failures") ?? Path.Combine(Paths.Out, "torture-failures"));
        var draws = new List<TortureDraw>();
        if (o.Get("--replay") is string replay)
        {
            if (!TortureDraw.TryParseReplay(replay, out long rs, out int rk))
                throw new UsageException($"--replay {replay}: expected SEED:RUN, e.g. --replay 1:17");
            seed = rs;
            draws.Add(TortureDraw.Make(rs, rk));
        }
        else draws.AddRange(Enumerable.Range(1, runs).Select(k => TortureDraw.Make(seed, k)));

        if (o.Get("--no-build") == null) KernelBuild.Build();
        else if (!File.Exists(Paths.KernelElf) || !File.Exists(Paths.CaptureElf))
            throw new BuildException("--no-build: out/kernel.elf and out/capture.elf must exist (./build.sh build)");
        Prerequisites.Ensure(Prerequisites.Need.Run);
        string work = Path.Combine(Paths.Out, "torture");
        // Every run boots and is judged against one snapshot of the images: a rebuild while the
        // torture runs (another shell's ./build.sh build) must not boot one kernel and judge another.
        var images = TortureImages.Snapshot(Path.Combine(work, $"images-{Environment.ProcessId}"));
        byte[] kernel = File.ReadAllBytes(images.Kernel);
        Console.WriteLine($"torture: {draws.Count} run(s), seed {seed}, {jobs} at a time; each bounded by {TortureMachine.RunBound.TotalSeconds:F0} s");
        if (draws.Count == 1) Console.WriteLine($"torture: {draws[0].Describe()}\n  -append \"{draws[0].Append}\"");

        var verdicts = new TortureVerdict[draws.Count];
        var gate = new object();
        var clock = Stopwatch.StartNew();
        Parallel.For(0, draws.Count, new ParallelOptions { MaxDegreeOfParallelism = jobs }, i =>
        {
            var d = draws[i];
            string dir = Path.Combine(work, $"{d.Seed}-{d.Run}-{Environment.ProcessId}");
            TortureVerdict v;
            TimeSpan took;
            try
            {
                var observation = TortureMachine.Run(d, dir, images);
                took = observation.Elapsed;
                v = TortureJudge.Judge(d, observation, kernel);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                took = TimeSpan.Zero;
                v = new TortureVerdict("error", false, $"the runner failed: {e.GetType().Name}: {e.Message.ReplaceLineEndings(" ")}");
            }
            string? kept = null;
            if (!v.Passed) kept = Keep(dir, keep, d, v);
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
            verdicts[i] = v;
            lock (gate)
            {
                Console.WriteLine($"torture {d.Seed}:{d.Run} {(v.Passed ? "pass" : "FAIL")} {v.Class,-8} {took.TotalSeconds,5:F1} s  {d.Describe()}: {v.Detail}");
                if (!v.Passed)
                    Console.WriteLine($"  reproduce: ./build.sh torture --replay {d.Seed}:{d.Run}{(kept != null ? $"  (serial log: {Paths.Relative(kept)})" : "")}");
            }
        });
        images.Dispose();
        int failed = verdicts.Count(v => !v.Passed), passed = verdicts.Length - failed;
        var classes = verdicts.GroupBy(v => v.Class).OrderBy(g => g.Key).Select(g => $"{g.Count()} {g.Key}");
        Console.WriteLine($"torture: {string.Join(", ", classes)} in {clock.Elapsed.TotalMinutes:F1} min");
        Console.WriteLine($"torture: {draws.Count} runs, seed {seed}: {passed} passed, {failed} failed");
        Console.WriteLine($"{passed} passed, {failed} failed");
        return failed == 0 ? 0 : 1;
    }

    /// <summary>Keeps a failed run's serial log (and its vmcore, if one came; the monitor's view of a timed-out machine; the verdict) as SEED-RUN.*; returns the log's path.</summary>
    static string? Keep(string dir, string keep, TortureDraw d, TortureVerdict v)
    {
        string log = Path.Combine(dir, "serial.log");
        if (!File.Exists(log)) return null;
        Directory.CreateDirectory(keep);
        string name = Path.Combine(keep, $"{d.Seed}-{d.Run}");
        File.WriteAllText(name + ".verdict.txt",
            $"torture {d.Seed}:{d.Run} FAIL {v.Class} {d.Describe()}: {v.Detail}\n-append \"{d.Append}\"\n{DateTime.UtcNow:yyyy-MM-dd HH:mm:ss} UTC\n");
        File.Copy(log, name + ".serial.log", overwrite: true);
        string monitor = Path.Combine(dir, "monitor.txt");
        if (File.Exists(monitor)) File.Copy(monitor, name + ".monitor.txt", overwrite: true);
        string vmcore = Path.Combine(dir, "vmcore");
        if (File.Exists(vmcore)) File.Copy(vmcore, name + ".vmcore", overwrite: true);
        return name + ".serial.log";
    }
}
