// `./build.sh fuzz [--target NAME] [--iterations N] [--seed S]`: builds the fuzzer (tools/Fuzz) and
// runs it: each target fed N generated and mutated inputs (default 10^6), no crash, no hang, a clear
// line for every refusal; its last line is "N passed, M failed" over the targets. The options are
// the fuzzer's own (tools/Fuzz/Program.cs reads them), passed on as given.
namespace Nmidump.Build;

public static class FuzzCommand
{
    public static int Run(string[] args)
    {
        string output = Path.Combine(Paths.Out, "fuzz");
        ProcessRunner.Check("dotnet", ["build", Path.Combine(Paths.Root, "tools", "Fuzz", "Fuzz.csproj"), "-c", "Release", "-o", output, "-nologo", "-v:q"], Paths.Root);
        return ProcessRunner.Run("dotnet", [Path.Combine(output, "Fuzz.dll"), .. args], Paths.Root, echo: true).ExitCode;
    }
}
