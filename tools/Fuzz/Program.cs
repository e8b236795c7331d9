// `./build.sh fuzz [--target NAME] [--iterations N] [--seed S]`: each target (or the one named) for
// N inputs (default 1,000,000), one line each with what it took and refused, and the last line
// `N passed, M failed` over the targets. Exit status 0 only when every target ran clean.
using System.CommandLine;
using System.CommandLine.Help;

namespace Nmidump.Fuzz;

public static class Program
{
    public static int Main(string[] args)
    {
        var target = new Option<string?>("--target") { Description = "one target only", HelpName = string.Join("|", FuzzTarget.All.Select(t => t.Name)) };
        target.Validators.Add(v =>
        {
            string? name = v.GetValueOrDefault<string?>();
            if (name != null && FuzzTarget.All.All(t => t.Name != name))
                v.AddError($"--target {name}: expected one of {string.Join(", ", FuzzTarget.All.Select(t => t.Name))}");
        });
        var iterations = new Option<long>("--iterations") { Description = "inputs per target", DefaultValueFactory = _ => 1_000_000, HelpName = "N" };
        iterations.Validators.Add(v =>
        {
            if (v.GetValueOrDefault<long>() < 1) v.AddError("--iterations: expected a positive integer");
        });
        var seed = new Option<string?>("--seed") { Description = "CsCheck seed to replay", HelpName = "S" };
        var root = new Command("fuzz", "Fuzzes the boot-parameter parser, the capture kernel's core header reader, the transfer framing decoder and the inspector's vmcore reader.")
        {
            target, iterations, seed, new HelpOption(),
        };
        ParseResult parsed = root.Parse(args, new ParserConfiguration { ResponseFileTokenReplacer = null });
        if (parsed.Errors.Count > 0) return Usage(parsed.Errors[0].Message);
        if (parsed.Action != null) return parsed.Invoke();      // --help
        return Run(parsed.GetValue(target), parsed.GetValue(iterations), parsed.GetValue(seed));
    }

    static int Run(string? only, long iterations, string? seed)
    {
        var targets = FuzzTarget.All.Where(t => only == null || t.Name == only).ToList();
        int failed = 0;
        foreach (var t in targets)
        {
            Console.WriteLine($"fuzz {t.Name}: {t.What}; {iterations:N0} inputs, {t.Seeds.Count} seeds");
            var r = FuzzRunner.Run(t, iterations, seed, progress: Console.WriteLine);
            if (r.Failure != null)
            {
                failed++;
                Console.WriteLine($"fuzz {t.Name}: FAILED after {r.Inputs:N0} inputs: {r.Failure}");
                continue;
            }
            Console.WriteLine($"fuzz {t.Name}: {r.Inputs:N0} inputs clean in {r.Took.TotalSeconds:F0} s ({r.Accepted:N0} accepted, {r.Rejected:N0} refused with a clear line; no crash, no hang)");
        }
        Console.WriteLine($"{targets.Count - failed} passed, {failed} failed");
        return failed == 0 ? 0 : 1;
    }

    static int Usage(string problem)
    {
        Console.Error.WriteLine($"fuzz: {problem}");
        Console.Error.WriteLine($"usage: ./build.sh fuzz [--target {string.Join("|", FuzzTarget.All.Select(t => t.Name))}] [--iterations N] [--seed S]");
        return 2;
    }
}
