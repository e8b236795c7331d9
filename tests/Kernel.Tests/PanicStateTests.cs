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

    [Fact]
    public void Shootdown_DoesNotWaitForACpuThatStoppedBeforeItBegan()
    {
        var s = new ShootdownState();
        s.Answered();                              // lost the panic in NMI context, saved and halted
        Assert.True(s.Begin(0, 3));
        Assert.Equal(2, s.Waiting);
        s.Answered();
        s.Answered();
        Assert.Equal(0, s.Waiting);
    }

    /// <summary>
    /// Many "CPUs" race panic(), nmi_panic() and die() (crash_kexec, then panic) at once, hundreds of
    /// times, with a capture image armed, so whoever takes the kexec lock jumps and never returns.
    /// Each round: exactly one CPU panics, and it is the one that takes the kexec lock, exactly
    /// once; a nested nmi_panic on that CPU (an NMI inside its own panic) returns instead of
    /// stopping it; every other CPU stops; and the others are stopped once.
    /// </summary>
    [Fact]
    public void RacingPanicNmiPanicAndCrashKexec_OneWinnerTakesTheKexecLockOnce()
    {
        const int cpus = 8;
        var rng = new Random(42);
        for (int round = 0; round < 300; round++)
        {
            var box = new StrongBox<PanicState>(new PanicState());
            int stopped = 0, stops = 0, kexecLocks = 0, nestedReturned = 0, jumpedCpu = -1, jumpedFromDie = 0;
            var start = new Barrier(cpus);
            int[] kinds = Enumerable.Range(0, cpus).Select(_ => rng.Next(3)).ToArray();
            var threads = Enumerable.Range(0, cpus).Select(cpu => new Thread(() =>
            {
                start.SignalAndWait();
                ref PanicState s = ref box.Value;
                // __crash_kexec with an image armed: the lock is taken by trylock and never given back (the jump).
                if (kinds[cpu] == 2 && s.ClaimForCrashKexec(cpu))
                {
                    if (s.TryLockKexec())
                    {
                        Interlocked.Increment(ref kexecLocks);
                        Interlocked.Exchange(ref jumpedCpu, cpu);
                        Interlocked.Exchange(ref jumpedFromDie, 1);
                        if (s.FirstToStopOtherCpus()) Interlocked.Increment(ref stops);   // machine_crash_shutdown
                    }
                    return;                                  // jumped: never released, never panics
                }
                var claim = s.ClaimPanic(cpu);
                if (claim == PanicClaim.OtherCpu) { Interlocked.Increment(ref stopped); return; }
                // This CPU panics. An NMI arrives inside its panic and calls nmi_panic: it must return.
                if (s.ClaimPanic(cpu) == PanicClaim.AlreadyMine) Interlocked.Increment(ref nestedReturned);
                if (s.TryLockKexec()) { Interlocked.Increment(ref kexecLocks); Interlocked.Exchange(ref jumpedCpu, cpu); }
                if (s.FirstToStopOtherCpus()) Interlocked.Increment(ref stops);   // machine_crash_shutdown
                if (s.FirstToStopOtherCpus()) Interlocked.Increment(ref stops);   // and panic() itself again
            })).ToList();
            threads.ForEach(t => t.Start());
            Assert.All(threads, t => Assert.True(t.Join(TimeSpan.FromSeconds(10)), "a CPU deadlocked"));
            Assert.Equal(1, kexecLocks);
            Assert.Equal(cpus - 1, stopped);
            Assert.Equal(box.Value.PanicCpu, jumpedCpu);
            Assert.Equal(1, stops);
            // The nested nmi_panic ran on the panicking CPU unless die() jumped before any panic().
            Assert.Equal(jumpedFromDie == 1 ? 0 : 1, nestedReturned);
        }
    }

    sealed class StrongBox<T>(T value) where T : struct { public T Value = value; }
}
