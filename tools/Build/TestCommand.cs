// `./build.sh test`: builds the kernel, runs every suite (host unit tests of the kernel's pure
// logic, the tools' tests, the QEMU tests that boot real images) and ends with one plain line,
// "N passed, M failed", summed over all suites from their TRX reports. Exit status 1 on any failure.
using System.Xml.Linq;

namespace Nmidump.Build;

public static class TestCommand
{
    static readonly (string Name, string Project)[] Suites =
    [
        ("kernel logic (host)", "tests/Kernel.Tests/Kernel.Tests.csproj"),
        ("tools (host)", "tests/Tools.Tests/Tools.Tests.csproj"),
        ("inspector (host)", "tests/Inspector.Tests/Inspector.Tests.csproj"),
        ("kernel in QEMU", "tests-qemu/QemuTests.csproj"),
    ];

    public static int Run(string[] args)
    {
        string? filter = args.Length > 0 ? args[0] : null;
        Prerequisites.Ensure(Prerequisites.Need.Test);
        KernelBuild.Build(verbose: true);
        string results = Path.Combine(Paths.Out, "test-results");
        if (Directory.Exists(results)) Directory.Delete(results, recursive: true);
        Directory.CreateDirectory(results);

        int passed = 0, failed = 0, skipped = 0;
        foreach (var (name, project) in Suites)
        {
            string trxName = Path.GetFileNameWithoutExtension(project) + ".trx";
            Console.WriteLine($"test: {name}: dotnet test {project}");
            var started = DateTime.UtcNow;
            var dotnetArgs = new List<string> { "test", Path.Combine(Paths.Root, project), "-c", "Release", "--nologo",
                "--logger", $"trx;LogFileName={trxName}", "--logger", "console;verbosity=normal", "--results-directory", results };
            if (filter != null) { dotnetArgs.Add("--filter"); dotnetArgs.Add(filter); }
            var r = ProcessRunner.Run("dotnet", dotnetArgs, Paths.Root, echo: true);
            var counts = ReadTrx(Path.Combine(results, trxName));
            if (counts == null)
            {
                // No report: the suite did not build or crashed before running; count it as one failure.
                Console.WriteLine($"test: {name}: no results (dotnet test exited {r.ExitCode}); counted as 1 failure");
                failed++;
                continue;
            }
            var (p, f, s) = counts.Value;
            if (r.ExitCode != 0 && f == 0)
            {
                Console.WriteLine($"test: {name}: dotnet test exited {r.ExitCode} with no failed test; counted as 1 failure");
                f = 1;
            }
            Console.WriteLine($"test: {name}: {p} passed, {f} failed, {s} skipped in {(DateTime.UtcNow - started).TotalSeconds:F0} s");
            passed += p; failed += f; skipped += s;
        }
        Console.WriteLine(skipped > 0 ? $"{passed} passed, {failed} failed, {skipped} skipped" : $"{passed} passed, {failed} failed");
        return failed == 0 ? 0 : 1;
    }

    static (int Passed, int Failed, int Skipped)? ReadTrx(string path)
    {
        if (!File.Exists(path)) return null;
        var doc = XDocument.Load(path);
        var counters = doc.Descendants().FirstOrDefault(e => e.Name.LocalName == "Counters");
        if (counters == null) return null;
        int Get(string a) => int.TryParse(counters.Attribute(a)?.Value, out int v) ? v : 0;
        int total = Get("total"), executed = Get("executed"), passed = Get("passed");
        int failed = Get("failed") + Get("error") + Get("timeout") + Get("aborted");
        return (passed, failed, Math.Max(0, total - executed));
    }
}
