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

public class ChannelSlotTests
{
    static ulong Ordinary(ulong seq) => ChannelSlot.Message(ChannelMessageType.Ordinary, seq);
    static readonly ulong Reply = ChannelSlot.Message(ChannelMessageType.UnloadResponse, 999);

    [Fact]
    public void AMessageLandsOnlyInAnEmptySlot_AndOnlyTakingItEmptiesTheSlot()
    {
        ulong slot = 0;
        Assert.True(ChannelSlot.TryPost(ref slot, Ordinary(1)));
        Assert.False(ChannelSlot.TryPost(ref slot, Ordinary(2)));
        Assert.Equal(Ordinary(1), ChannelSlot.Read(ref slot));
        Assert.Equal(ChannelMessageType.Ordinary, ChannelSlot.TypeOf(ChannelSlot.Read(ref slot)));
        Assert.Equal(Ordinary(1), ChannelSlot.Take(ref slot));
        Assert.Equal(0UL, slot);
        Assert.Equal(0UL, ChannelSlot.Take(ref slot));
        Assert.True(ChannelSlot.TryPost(ref slot, Ordinary(3)));
    }

    [Fact]
    public void Messages_AreNeverEmpty_AndKeepTheirType()
    {
        Gen.Select(Gen.Enum<ChannelMessageType>(), Gen.ULong[0, ulong.MaxValue >> 8]).Sample((type, seq) =>
        {
            ulong m = ChannelSlot.Message(type, seq);
            Assert.Equal(type, ChannelSlot.TypeOf(m));
            Assert.True(type == ChannelMessageType.None && seq == 0 || m != 0);
        });
    }

    [Fact]
    public void PanickingCpuThatIsNotTheOwner_NeverEmptiesTheOwnersSlot_SoTheReplyWaits()
    {
        ulong mine = Ordinary(7), owners = Ordinary(8);
        for (int i = 0; i < 1000; i++)
        {
            Assert.False(ChannelSlot.UnloadStep(false, ref mine, ref owners, Reply, out ulong taken));
            Assert.Equal(0UL, taken);
        }
        Assert.Equal(Ordinary(8), owners);
        Assert.Equal(Ordinary(7), mine);     // not the owner: its own slot is not the channel's, left alone too
        Assert.Equal(Ordinary(8), ChannelSlot.Take(ref owners));     // the owner empties it (its interrupt) ...
        Assert.True(ChannelSlot.UnloadStep(false, ref mine, ref owners, Reply, out _));    // ... and the reply lands
        Assert.Equal(Reply, owners);
    }

    [Fact]
    public void PanickingCpuThatOwnsTheChannel_EmptiesItsOwnSlot_AndTheReplyLands()
    {
        ulong slot = Ordinary(3);
        Assert.True(ChannelSlot.UnloadStep(true, ref slot, ref slot, Reply, out ulong taken));
        Assert.Equal(Ordinary(3), taken);
        Assert.Equal(Reply, slot);
    }

    enum Op { HostPost, OwnerInterrupt, WaiterStep }

    /// <summary>
    /// Any interleaving of the host's posts, the owner's interrupts (when it can take them) and the
    /// panicking CPU's steps: no message is lost or overwritten, the reply lands only in an empty
    /// slot, and it never lands while the slot holds a message nobody with the right to may empty.
    /// </summary>
    [Fact]
    public void AnyInterleaving_LosesNoMessage_AndTheReplyLandsOnlyWhenTheSlotWasEmptied()
    {
        Gen.Select(Gen.Bool, Gen.Bool, Gen.Enum<Op>().Array[1, 80]).Sample((iOwn, ownerTakesInterrupts, ops) =>
        {
            ulong owners = Ordinary(1), other = 0, seq = 1;
            ulong posted = 1, consumed = 0;
            bool landed = false;
            foreach (var op in ops)
            {
                if (landed) break;
                switch (op)
                {
                    case Op.HostPost:
                        if (ChannelSlot.TryPost(ref owners, Ordinary(++seq))) posted++;
                        break;
                    case Op.OwnerInterrupt:
                        if (ownerTakesInterrupts && !iOwn && ChannelSlot.Take(ref owners) != 0) consumed++;
                        break;
                    case Op.WaiterStep:
                        ulong before = owners;
                        landed = iOwn
                            ? ChannelSlot.UnloadStep(true, ref owners, ref owners, Reply, out ulong taken)
                            : ChannelSlot.UnloadStep(false, ref other, ref owners, Reply, out taken);
                        if (taken != 0) consumed++;
                        if (!iOwn) Assert.True(landed ? before == 0 : owners == before, "the panicking CPU changed the owner's slot other than by landing the reply in it");
                        break;
                }
                ulong inSlot = !landed && ChannelSlot.TypeOf(owners) == ChannelMessageType.Ordinary ? 1UL : 0UL;
                Assert.Equal(posted, consumed + inSlot);
            }
            if (!iOwn && !ownerTakesInterrupts) Assert.False(landed);
            if (landed) Assert.Equal(Reply, owners);
        });
    }

    /// <summary>
    /// Real threads: a host posting, an owner taking (or not: interrupts off), the panicking CPU
    /// stepping under a time bound, as the crash handler does. The handshake completes exactly
    /// when the owner can empty its slot or the panicking CPU owns the channel.
    /// </summary>
    [Theory]
    [InlineData(false, true, true)]
    [InlineData(false, false, false)]
    [InlineData(true, false, true)]
    public void RacedHandshake_CompletesExactlyWhenTheSlotCanBeEmptied(bool iOwn, bool ownerTakesInterrupts, bool expectDone)
    {
        var owners = new StrongBox<ulong>(Ordinary(1));
        ulong other = 0;
        int stop = 0;
        var host = new Thread(() =>
        {
            ulong seq = 1;
            while (Volatile.Read(ref stop) == 0) { ChannelSlot.TryPost(ref owners.Value, Ordinary(++seq)); Thread.Yield(); }
        });
        var owner = new Thread(() =>
        {
            while (ownerTakesInterrupts && !iOwn && Volatile.Read(ref stop) == 0) { ChannelSlot.Take(ref owners.Value); Thread.Yield(); }
        });
        host.Start();
        owner.Start();
        // A handshake that can complete gets seconds (a loaded host may not schedule the owner thread
        // for a while); one that cannot is watched for 300 ms.
        ulong deadline = Clock.DeadlineAfterUs(expectDone ? 5_000_000UL : 300_000UL);
        bool landed;
        while (!(landed = iOwn
                   ? ChannelSlot.UnloadStep(true, ref owners.Value, ref owners.Value, Reply, out _)
                   : ChannelSlot.UnloadStep(false, ref other, ref owners.Value, Reply, out _))
               && !Clock.Passed(deadline))
            Thread.Yield();
        Volatile.Write(ref stop, 1);
        host.Join();
        owner.Join();
        Assert.Equal(expectDone, landed);
        if (!landed) Assert.Equal(ChannelMessageType.Ordinary, ChannelSlot.TypeOf(owners.Value));
    }
}
