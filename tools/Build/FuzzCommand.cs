// `./build.sh fuzz [--target NAME] [--iterations N] [--seed S]`: builds the fuzzer (tools/Fuzz) and
// runs it: each target fed N generated and mutated inputs (default 10^6), no crash, no hang, a clear
// line for every refusal; its last line is "N passed, M failed" over the targets.
namespace Nmidump.Build;

public static class FuzzCommand
{
    public static int Run(string[] args)
    {
        var o = new Options(args, "--target", "--iterations", "--seed");
        var fuzzArgs = new List<string>();
        if (o.Get("--target") is string t) fuzzArgs.AddRange(["--target", t]);
        fuzzArgs.AddRange(["--iterations", o.GetInt("--iterations", 1_000_000, 1, int.MaxValue).ToString()]);
        if (o.Get("--seed") is string s) fuzzArgs.AddRange(["--seed", s]);
        string output = Path.Combine(Paths.Out, "fuzz");
        ProcessRunner.Check("dotnet", ["build", Path.Combine(Paths.Root, "tools", "Fuzz", "Fuzz.csproj"), "-c", "Release", "-o", output, "-nologo", "-v:q"], Paths.Root);
        return ProcessRunner.Run("dotnet", [Path.Combine(output, "Fuzz.dll"), .. fuzzArgs], Paths.Root, echo: true).ExitCode;
    }
}
