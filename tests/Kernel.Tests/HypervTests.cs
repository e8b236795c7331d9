// The Hyper-V seed's pure logic: hv_nmi_unknown's claim (arch-x86/UnknownNmiClaim.cs) and the crash
// channel's slots and unload step (kernel/hyperv/ChannelSlot.cs), by examples, by CsCheck properties
// over random event sequences, and raced by real threads standing in for CPUs.
using System.Runtime.CompilerServices;
using CsCheck;

namespace Kernel.Tests;

public class UnknownNmiClaimTests
{
    [Fact]
    public void FirstCpu_IsLetThroughToPanic_AndEveryLaterUnknownNmiIsSwallowed_OnEveryCpu()
    {
        var claim = new UnknownNmiClaim();
        Assert.Equal(UnknownNmiClaim.NoCpu, claim.NmiCpu);
        Assert.False(claim.Swallow(NmiType.Unknown, 2, unknownNmiPanic: true));
        Assert.Equal(2, claim.NmiCpu);
        // Never released: the claiming CPU's own next unknown NMI is swallowed too, as in Linux.
        for (int cpu = 0; cpu < 255; cpu++)
            Assert.True(claim.Swallow(NmiType.Unknown, cpu, unknownNmiPanic: true), $"CPU {cpu}");
        Assert.Equal(2, claim.NmiCpu);
    }

    [Fact]
    public void WithoutUnknownNmiPanic_NothingIsClaimedOrSwallowed()
    {
        var claim = new UnknownNmiClaim();
        for (int cpu = 0; cpu < 8; cpu++)
            Assert.False(claim.Swallow(NmiType.Unknown, cpu, unknownNmiPanic: false));
        Assert.Equal(UnknownNmiClaim.NoCpu, claim.NmiCpu);
        Assert.False(claim.Swallow(NmiType.Unknown, 5, unknownNmiPanic: true));   // the first one that may panic claims
        Assert.Equal(5, claim.NmiCpu);
    }

    [Theory]
    [InlineData(NmiType.Serr)]
    [InlineData(NmiType.IoCheck)]
    public void SerrAndIochk_AreNeverSwallowed_BeforeOrAfterTheClaim(NmiType type)
    {
        var claim = new UnknownNmiClaim();
        Assert.False(claim.Swallow(type, 1, unknownNmiPanic: true));
        Assert.Equal(UnknownNmiClaim.NoCpu, claim.NmiCpu);      // a hardware error does not take the claim either
        Assert.False(claim.Swallow(NmiType.Unknown, 0, unknownNmiPanic: true));
        for (int cpu = 0; cpu < 8; cpu++)
        {
            Assert.False(claim.Swallow(type, cpu, unknownNmiPanic: true));
            Assert.False(claim.Swallow(type, cpu, unknownNmiPanic: false));
        }
    }

    /// <summary>
    /// Any sequence of NMIs on any CPUs: exactly the first unknown NMI that may panic goes through
    /// and claims; every later such NMI is swallowed; nothing else ever is.
    /// </summary>
    [Fact]
    public void AnySequence_MatchesTheModel()
    {
        var nmi = Gen.Select(Gen.Int[0, 254], Gen.Enum<NmiType>(), Gen.Bool);
        nmi.Array[1, 60].Sample(events =>
        {
            var claim = new UnknownNmiClaim();
            int claimer = UnknownNmiClaim.NoCpu;
            foreach (var (cpu, type, mayPanic) in events)
            {
                bool swallowed = claim.Swallow(type, cpu, mayPanic);
                bool countsForClaim = type == NmiType.Unknown && mayPanic;
                Assert.Equal(countsForClaim && claimer != UnknownNmiClaim.NoCpu, swallowed);
                if (countsForClaim && claimer == UnknownNmiClaim.NoCpu) claimer = cpu;
                Assert.Equal(claimer, claim.NmiCpu);
            }
        });
    }

    /// <summary>A broadcast: every CPU takes its unknown NMI at the same moment; exactly one goes on to panic.</summary>
    [Fact]
    public void Broadcast_ExactlyOneCpuClaimsEveryRound()
    {
        const int cpus = 8;
        for (int round = 0; round < 200; round++)
        {
            var box = new StrongBox<UnknownNmiClaim>(new UnknownNmiClaim());
            int through = 0, winner = -1;
            using var go = new Barrier(cpus);
            var threads = Enumerable.Range(0, cpus).Select(cpu => new Thread(() =>
            {
                go.SignalAndWait();
                if (!box.Value.Swallow(NmiType.Unknown, cpu, unknownNmiPanic: true))
                {
                    Interlocked.Increment(ref through);
                    winner = cpu;
                }
            })).ToList();
            threads.ForEach(t => t.Start());
            threads.ForEach(t => t.Join());
            Assert.Equal(1, through);
            Assert.Equal(winner, box.Value.NmiCpu);
        }
    }
}
