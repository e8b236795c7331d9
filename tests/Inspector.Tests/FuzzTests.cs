// A short run of each fuzz target (./build.sh fuzz runs them for 10^6 inputs): the boot-parameter
// parser, the capture kernel's core header reader, the framing decoder and the inspector's vmcore
// reader take generated and mutated inputs without a crash, and refuse with a clear line. And the
// harness itself fails when a target throws or words a refusal badly.
using CsCheck;
using Nmidump.Fuzz;

namespace Nmidump.Inspector.Tests;

public class FuzzTests
{
    [Theory]
    [InlineData("params", 20_000)]
    [InlineData("coreheader", 10_000)]
    [InlineData("framing", 5_000)]
    [InlineData("vmcore", 1_500)]
    public void EachTarget_TakesGeneratedAndMutatedInputs_WithoutACrash(string name, int inputs)
    {
        var target = FuzzTarget.All.Single(t => t.Name == name);
        var r = FuzzRunner.Run(target, inputs, threads: 1);
        Assert.True(r.Failure == null, r.Failure);
        Assert.Equal(inputs, r.Inputs);
        Assert.True(r.Accepted > 0, $"{name}: no input was accepted: the mutations never leave a valid input");
        Assert.True(r.Rejected > 0, $"{name}: no input was refused: the mutations never reach the checks");
    }

    [Fact]
    public void TheSeeds_AreAcceptedAsTheyAre()
    {
        foreach (var t in FuzzTarget.All)
            foreach (var seed in t.Seeds.Take(3))
                Assert.True(t.Check(seed).Accepted || t.Name == "params", $"{t.Name}: a seed is refused: {t.Check(seed).Message}");
        Assert.True(new VmcoreTarget().Check(FuzzMachine.RealVmcoreHeaders).Accepted, "the real dump's headers do not open");
    }

    sealed class Throwing : FuzzTarget
    {
        public override string Name => "throwing";
        public override string What => "a target that throws on inputs starting with 0x42";
        public override IReadOnlyList<byte[]> Seeds => [[0x41, 0x41]];
        public override Gen<byte[]> Generated => Gen.Byte.Array[1, 4];
        public override FuzzOutcome Check(byte[] input) =>
            input.Length > 0 && input[0] == 0x42 ? throw new IndexOutOfRangeException("boom") : FuzzOutcome.Ok;
    }

    sealed class Mumbling : FuzzTarget
    {
        public override string Name => "mumbling";
        public override string What => "a target that refuses with a line of numbers";
        public override IReadOnlyList<byte[]> Seeds => [[1]];
        public override Gen<byte[]> Generated => Gen.Byte.Array[1, 4];
        public override FuzzOutcome Check(byte[] input) => FuzzOutcome.Rejected("0x12: 7\n");
    }

    [Fact]
    public void TheHarness_ReportsAThrowingTargetAndAnUnclearRefusal()
    {
        var r = FuzzRunner.Run(new Throwing(), 20_000, threads: 1);
        Assert.NotNull(r.Failure);
        Assert.Contains("IndexOutOfRangeException: boom", r.Failure);
        Assert.Contains("CsCheck_Seed", r.Failure);
        r = FuzzRunner.Run(new Mumbling(), 100, threads: 1);
        Assert.NotNull(r.Failure);
        Assert.Contains("the rejection message has a control or non-ASCII character", r.Failure);
    }
}
