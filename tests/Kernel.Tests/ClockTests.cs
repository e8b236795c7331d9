// TSC ticks to nanoseconds without overflow, and the spin lock's owner rules.
namespace Kernel.Tests;

public class ClockTests
{
    [Theory]
    [InlineData(0UL, 2_500_000UL, 0UL)]
    [InlineData(2_500_000UL, 2_500_000UL, 1_000_000UL)]
    [InlineData(2_500_000_000UL, 2_500_000UL, 1_000_000_000UL)]
    [InlineData(1UL, 3UL, 333_333UL)]
    public void TicksToNs_IsExact(ulong ticks, ulong khz, ulong ns) => Assert.Equal(ns, Clock.TicksToNs(ticks, khz));

    [Fact]
    public void TicksToNs_DoesNotOverflowAfterYearsOfUptime()
    {
        ulong khz = 3_000_000;                     // 3 GHz
        ulong tenYears = 10UL * 365 * 86400;        // seconds
        ulong ticks = tenYears * khz * 1000;
        Assert.Equal(tenYears * 1_000_000_000, Clock.TicksToNs(ticks, khz));
    }

    [Fact]
    public void TicksToNs_WithoutCalibrationIsZero() => Assert.Equal(0UL, Clock.TicksToNs(12345, 0));

    [Fact]
    public void SpinLock_SameCpuReentering_DoesNotWaitForItself()
    {
        var l = new SpinLock();
        Assert.Equal(LockResult.Acquired, l.Acquire(3, Clock.DeadlineAfterUs(10)));
        Assert.True(l.HeldBy(3));
        Assert.Equal(LockResult.Reentered, l.Acquire(3, Clock.DeadlineAfterUs(1_000_000_000)));   // at once: an NMI on the holder must not deadlock
        l.Release(3);
        Assert.False(l.HeldBy(3));
    }

    [Fact]
    public void SpinLock_HeldByAStoppedCpu_IsGivenUpOnAfterTheBound()
    {
        var l = new SpinLock();
        Assert.Equal(LockResult.Acquired, l.Acquire(1, Clock.DeadlineAfterUs(10)));
        var waited = System.Diagnostics.Stopwatch.StartNew();
        Assert.Equal(LockResult.TimedOut, l.Acquire(2, Clock.DeadlineAfterUs(20_000)));   // bounded: proceeds without the lock
        Assert.True(waited.ElapsedMilliseconds >= 19, $"gave up after {waited.ElapsedMilliseconds} ms");   // the bound is a time, not a number of spins
        l.Release(2);                                // releasing someone else's lock does nothing
        Assert.True(l.HeldBy(1));
        l.Break(2);                                  // a panic takes it from the stopped holder
        Assert.True(l.HeldBy(2));
        Assert.Equal(LockResult.Reentered, l.Acquire(2, Clock.DeadlineAfterUs(10)));
    }

    [Fact]
    public void SpinLock_ExcludesAcrossThreads()
    {
        var l = new SpinLock();
        int inside = 0, maxInside = 0;
        var threads = Enumerable.Range(0, 4).Select(cpu => new Thread(() =>
        {
            for (int i = 0; i < 2000; i++)
            {
                while (l.Acquire(cpu, Clock.DeadlineAfterUs(1_000)) != LockResult.Acquired) { }
                int now = Interlocked.Increment(ref inside);
                if (now > Volatile.Read(ref maxInside)) Volatile.Write(ref maxInside, now);
                Interlocked.Decrement(ref inside);
                l.Release(cpu);
            }
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        Assert.Equal(1, maxInside);
    }
}
