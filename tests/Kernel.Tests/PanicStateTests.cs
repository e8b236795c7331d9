// The panic / nmi_panic / crash_kexec decisions, raced by real threads standing in for CPUs:
// exactly one CPU panics every time, nobody deadlocks, and the once-only steps run once.
namespace Kernel.Tests;

public class PanicStateTests
{
    [Fact]
    public void FirstClaimWins_SameCpuAgainContinues_OthersStop()
    {
        var s = new PanicState();
        Assert.Equal(PanicState.PanicCpuInvalid, s.PanicCpu);
        Assert.Equal(PanicClaim.Won, s.ClaimPanic(2));
        Assert.Equal(PanicClaim.AlreadyMine, s.ClaimPanic(2));
        Assert.Equal(PanicClaim.OtherCpu, s.ClaimPanic(0));
        Assert.Equal(2, s.PanicCpu);
    }

    [Fact]
    public void CrashKexec_ProceedsOnlyOnAFreshClaim_AndGivesPanicCpuBack()
    {
        var s = new PanicState();
        Assert.True(s.ClaimForCrashKexec(1));
        Assert.False(s.ClaimForCrashKexec(1));     // nested: already this CPU's, crash_kexec does nothing
        Assert.False(s.ClaimForCrashKexec(3));     // another CPU is in crash_kexec
        s.ReleaseAfterCrashKexec(3);               // not the owner: no effect
        Assert.Equal(1, s.PanicCpu);
        s.ReleaseAfterCrashKexec(1);
        Assert.Equal(PanicState.PanicCpuInvalid, s.PanicCpu);
        Assert.Equal(PanicClaim.Won, s.ClaimPanic(3));
    }

    [Fact]
    public void KexecLock_IsATrylock()
    {
        var s = new PanicState();
        Assert.True(s.TryLockKexec());
        Assert.False(s.TryLockKexec());
        s.UnlockKexec();
        Assert.True(s.TryLockKexec());
    }

    [Fact]
    public void StopOtherCpus_RunsOnce()
    {
        var s = new PanicState();
        Assert.True(s.FirstToStopOtherCpus());
        Assert.False(s.FirstToStopOtherCpus());
    }

    [Fact]
    public void Shootdown_BeginsOnce_AndIsIssuedOnlyWhenMarked()
    {
        var s = new ShootdownState();
        Assert.Equal(-1, s.CrashingCpu);
        Assert.True(s.Begin(2, 3));
        Assert.False(s.Begin(1, 3));              // a second shootdown is refused, the first one's state kept
        Assert.Equal(2, s.CrashingCpu);
        Assert.Equal(3, s.Waiting);
        Assert.False(s.IpiIssued);                // set only after the IPI went out
        s.MarkIpiIssued();
        Assert.True(s.IpiIssued);
        s.Answered();
        s.Answered();
        Assert.Equal(1, s.Waiting);
    }

    /// <summary>
    /// Many "CPUs" race panic, nmi_panic and crash_kexec (with its release) at once, hundreds of
    /// times. Each round: exactly one CPU ends up panicking, every other either stops or returns,
    /// and the kexec lock and the stop-once step are taken once.
    /// </summary>
    [Fact]
    public void RacingPanicNmiPanicAndCrashKexec_ExactlyOneWinnerEveryRound()
    {
        const int cpus = 8;
        var rng = new Random(42);
        for (int round = 0; round < 300; round++)
        {
            var box = new StrongBox<PanicState>(new PanicState());
            int panicked = 0, stoppedOrReturned = 0, stops = 0, kexecs = 0;
            var start = new Barrier(cpus);
            int[] kinds = Enumerable.Range(0, cpus).Select(_ => rng.Next(3)).ToArray();
            var threads = Enumerable.Range(0, cpus).Select(cpu => new Thread(() =>
            {
                start.SignalAndWait();
                ref PanicState s = ref box.Value;
                if (kinds[cpu] == 2)
                {
                    // die(): crash_kexec first, then panic()
                    if (s.ClaimForCrashKexec(cpu))
                    {
                        if (s.TryLockKexec()) { Interlocked.Increment(ref kexecs); s.UnlockKexec(); }
                        s.ReleaseAfterCrashKexec(cpu);
                    }
                }
                var claim = s.ClaimPanic(cpu);
                if (claim == PanicClaim.OtherCpu) { Interlocked.Increment(ref stoppedOrReturned); return; }
                if (kinds[cpu] == 1 && claim == PanicClaim.AlreadyMine) { Interlocked.Increment(ref stoppedOrReturned); return; }
                Interlocked.Increment(ref panicked);
                if (s.FirstToStopOtherCpus()) Interlocked.Increment(ref stops);
                if (s.FirstToStopOtherCpus()) Interlocked.Increment(ref stops);   // reached twice (panic and machine_crash_shutdown)
            })).ToList();
            threads.ForEach(t => t.Start());
            Assert.All(threads, t => Assert.True(t.Join(TimeSpan.FromSeconds(10)), "a CPU deadlocked"));
            Assert.Equal(1, panicked);
            Assert.Equal(cpus - 1, stoppedOrReturned);
            Assert.Equal(1, stops);
            Assert.InRange(kexecs, 0, cpus);
            Assert.NotEqual(PanicState.PanicCpuInvalid, box.Value.PanicCpu);
        }
    }

    sealed class StrongBox<T>(T value) where T : struct { public T Value = value; }
}
