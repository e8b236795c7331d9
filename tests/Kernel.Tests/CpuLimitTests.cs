// Every CPU the firmware lists, up to the one limit: CPU numbering (boot CPU first, firmware order,
// nr_cpus= and the limit, and why a CPU got no number), the online mask past 64 CPUs with CPUs
// coming online together, and the cpulist form VMCOREINFO uses for 255 CPUs' lists.
namespace Kernel.Tests;

public class CpuLimitTests
{
    [Fact]
    public void TheLimit_IsAllThatXApicAddresses()
    {
        Assert.Equal(255, CpuLimit.MaxCpus);
        Assert.True(AcpiInfo.MaxCpus > CpuLimit.MaxCpus, "the ACPI parser keeps more CPUs than are numbered, so those left out can be named");
    }

    [Fact]
    public void Numbering_BootCpuIsZero_OthersInFirmwareOrder()
    {
        uint[] present = [4, 0, 9, 2];
        var cpuOf = new int[present.Length];
        Assert.Equal(4, CpuNumbering.Assign(9, present, 0, 255, cpuOf));
        Assert.Equal([1, 2, 0, 3], cpuOf);
    }

    [Fact]
    public void Numbering_NrCpusAndTheLimit_LeaveTheRestUnnumbered_AndSayWhy()
    {
        uint[] present = Enumerable.Range(0, 300).Select(i => (uint)i).ToArray();
        var cpuOf = new int[present.Length];
        Assert.Equal(2, CpuNumbering.Assign(0, present, 2, 255, cpuOf));
        Assert.Equal([0, 1], cpuOf[..2]);
        Assert.All(cpuOf[2..], c => Assert.Equal(-1, c));
        Assert.Equal(NotOnlineReason.NrCpus, CpuNumbering.WhyUnnumbered(2, 255));

        Assert.Equal(255, CpuNumbering.Assign(0, present, 0, 255, cpuOf));
        Assert.Equal(254, cpuOf[254]);
        Assert.All(cpuOf[255..], c => Assert.Equal(-1, c));
        Assert.Equal(NotOnlineReason.Limit, CpuNumbering.WhyUnnumbered(0, 255));
        Assert.Equal(NotOnlineReason.Limit, CpuNumbering.WhyUnnumbered(400, 255));   // nr_cpus= above the limit: the limit is why

        // The boot CPU listed late still gets 0, and the cap counts it.
        uint[] late = [5, 6, 7, 1];
        cpuOf = new int[late.Length];
        Assert.Equal(2, CpuNumbering.Assign(1, late, 2, 255, cpuOf));
        Assert.Equal([1, -1, -1, 0], cpuOf);
    }

    [Fact]
    public void OnlineMask_HoldsEveryCpuNumber_AndSetIsAtomic()
    {
        var mask = new CpuMask();
        Assert.True(mask.Set(0));
        Assert.False(mask.Set(0));
        Assert.True(mask.Set(64));
        Assert.True(mask.Set(254));
        Assert.True(mask.Test(254));
        Assert.False(mask.Test(255));
        Assert.False(mask.Test(-1));
        Assert.Equal(3, mask.Weight);
        Assert.Throws<InvalidOperationException>(() => mask.Set(255));

        // Eight threads race to set every CPU 1..254 on the same words: each bit is set exactly
        // once (one Set returns true for it), none is lost.
        var shared = new CpuMask[1];
        int newlySet = 0;
        Parallel.For(0, 8, t =>
        {
            for (int k = 0; k < CpuLimit.MaxCpus - 1; k++)
                if (shared[0].Set(1 + (k + t * 31) % (CpuLimit.MaxCpus - 1))) Interlocked.Increment(ref newlySet);
        });
        Assert.Equal(254, newlySet);
        Assert.Equal(254, shared[0].Weight);
    }

    [Theory]
    [InlineData(new uint[] { 0, 1, 2, 3 }, "0-3")]
    [InlineData(new uint[] { 0, 2, 4 }, "0,2,4")]
    [InlineData(new uint[] { 5, 6, 9, 10, 11, 3 }, "5-6,9-11,3")]
    [InlineData(new uint[] { 7 }, "7")]
    [InlineData(new uint[0], "")]
    public void CpuList_WritesRangesAndKeepsOrder(uint[] values, string text)
    {
        var buffer = new byte[64];
        int n = CpuList.Write(buffer, values);
        Assert.Equal(text, Ascii.Of(buffer.AsSpan(0, n)));
        var back = new uint[64];
        Assert.True(CpuList.Read(buffer.AsSpan(0, n), back, out int count));
        Assert.Equal(values, back[..count]);
        for (int i = 0; i < values.Length; i++)
        {
            Assert.True(CpuList.Nth(buffer.AsSpan(0, n), i, out uint v));
            Assert.Equal(values[i], v);
        }
        Assert.False(CpuList.Nth(buffer.AsSpan(0, n), values.Length, out _));
    }

    [Fact]
    public void CpuList_255Cpus_FitsAShortLine_AndMalformedListsAreRefused()
    {
        var all = Enumerable.Range(0, 255).Select(i => (uint)i).ToArray();
        var buffer = new byte[16];
        Assert.Equal(5, CpuList.Write(buffer, all));
        Assert.Equal(-1, CpuList.Write(new byte[3], all));
        var into = new uint[4];
        foreach (string bad in new[] { "1,", "a", "3-1", "1--2", ",1", "99999999999", "1 2" })
            Assert.False(CpuList.Read(Ascii.Bytes(bad), new uint[8], out _), bad);
        Assert.False(CpuList.Read(Ascii.Bytes("0-9"), into, out int count));    // more than the room
        Assert.Equal(4, count);
        // An old plain comma list reads the same way.
        Assert.True(CpuList.Nth(Ascii.Bytes("0,1,2,3"), 2, out uint v));
        Assert.Equal(2u, v);
    }

    [Fact]
    public void CpuList_RandomLists_RoundTrip()
    {
        var random = new Random(255);
        for (int round = 0; round < 200; round++)
        {
            var values = Enumerable.Range(0, random.Next(0, 300)).Select(_ => (uint)random.Next(0, 600)).ToArray();
            if (random.Next(2) == 0) Array.Sort(values);
            var buffer = new byte[4096];
            int n = CpuList.Write(buffer, values);
            Assert.True(n >= 0);
            var back = new uint[4096];
            Assert.True(CpuList.Read(buffer.AsSpan(0, n), back, out int count));
            Assert.Equal(values, back[..count]);
        }
    }
}
