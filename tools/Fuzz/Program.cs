// `./build.sh fuzz [--target NAME] [--iterations N] [--seed S]`: each target (or the one named) for
// N inputs (default 1,000,000), one line each with what it took and refused, and the last line
// `N passed, M failed` over the targets. Exit status 0 only when every target ran clean.
namespace Nmidump.Fuzz;

public static class Program
{
    public static int Main(string[] args)
    {
        string? only = null, seed = null;
        long iterations = 1_000_000;
        for (int i = 0; i < args.Length; i++)
        {
            string a = args[i];
            string? Value() => i + 1 < args.Length ? args[++i] : null;
            switch (a)
            {
                case "--target": only = Value(); break;
                case "--iterations":
                    if (!long.TryParse(Value(), out iterations) || iterations < 1) return Usage("--iterations: expected a positive integer");
                    break;
                case "--seed": seed = Value(); break;
                default: return Usage($"unknown option {a}");
            }
        }
        var targets = FuzzTarget.All.Where(t => only == null || t.Name == only).ToList();
        if (targets.Count == 0) return Usage($"--target {only}: expected one of {string.Join(", ", FuzzTarget.All.Select(t => t.Name))}");
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
