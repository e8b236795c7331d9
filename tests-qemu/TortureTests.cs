// The torture's fixed-seed batch: `./build.sh torture --runs 20 --seed 11` through the build
// driver, as a user runs it. Each run is drawn from the seed, so the batch is the same on every
// machine; every run must hold what its draw requires (tools/Build/Torture/TortureJudge.cs). It
// runs alone: a second guest on two host cores would starve a 16-CPU guest past the 1 s shootdown bound.
using System.Text.RegularExpressions;
using Xunit;

namespace Nmidump.QemuTests;

[CollectionDefinition(nameof(TortureTests), DisableParallelization = true)]
public sealed class TortureCollection;

[Collection(nameof(TortureTests))]
public class TortureTests
{
    public const int Runs = 20;
    public const int Seed = 11;

    [Fact]
    public void AFixedSeedBatch_EveryRunHoldsWhatItsDrawRequires()
    {
        Assert.True(File.Exists(DumpTests.Driver), $"{DumpTests.Driver} is missing: ./build.sh builds it before running the tests");
        var (status, output) = DumpTests.ToolWithin(TimeSpan.FromMinutes(8), "dotnet",
            [DumpTests.Driver, "torture", "--runs", Runs.ToString(), "--seed", Seed.ToString(), "--no-build"]);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.True(status == 0, $"torture exited {status}:\n{output}");
        Assert.Equal($"{Runs} passed, 0 failed", lines[^1]);
        Assert.Equal(Runs, lines.Count(l => Regex.IsMatch(l, $@"^torture {Seed}:\d+ pass ")));
        // The batch reaches each kind of end: a dump, a panic before the image is armed, and no crash.
        foreach (var kind in new[] { "dump", "no-image", "no-crash" })
            Assert.Contains(lines, l => Regex.IsMatch(l, $@"^torture {Seed}:\d+ pass {kind} "));
    }
}
