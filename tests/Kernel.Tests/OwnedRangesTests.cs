// The first kernel's table of what it owns, read by the capture kernel out of crashed memory: what
// is added reads back in order, and a table that is damaged (magic, count, entries) says so.
namespace Kernel.Tests;

public class OwnedRangesTests
{
    [Fact]
    public void Added_ReadsBackInOrder_UntilFull()
    {
        var table = new byte[OwnedRanges.TableSize(3)];
        OwnedRanges.Init(table);
        Assert.True(OwnedRanges.Add(table, 0x100000, 0x1800000));
        Assert.True(OwnedRanges.Add(table, 0x8000, 0x9000));
        Assert.False(OwnedRanges.Add(table, 0x9000, 0x9000));     // empty
        Assert.True(OwnedRanges.Add(table, 0x1_4000_0000, 0x1_4000_1000));
        Assert.False(OwnedRanges.Add(table, 0x10, 0x20));          // full
        var into = new PhysRange[8];
        Assert.Equal(OwnedRanges.Problem.None, OwnedRanges.Read(table, into, out int n));
        Assert.Equal([(0x100000UL, 0x1700000UL), (0x8000UL, 0x1000UL), (0x1_4000_0000UL, 0x1000UL)], into[..n].Select(r => (r.Start, r.Size)));
    }

    [Fact]
    public void DamagedTables_AreNamed()
    {
        var table = new byte[OwnedRanges.TableSize(2)];
        OwnedRanges.Init(table);
        OwnedRanges.Add(table, 0x1000, 0x2000);
        var into = new PhysRange[8];
        Assert.Equal(OwnedRanges.Problem.TooShort, OwnedRanges.Read(table.AsSpan(0, 8), into, out _));
        var bad = (byte[])table.Clone();
        bad[0] ^= 1;
        Assert.Equal(OwnedRanges.Problem.BadMagic, OwnedRanges.Read(bad, into, out _));
        bad = (byte[])table.Clone();
        LittleEndian.Put32(bad, 4, 3);
        Assert.Equal(OwnedRanges.Problem.BadCount, OwnedRanges.Read(bad, into, out _));
        bad = (byte[])table.Clone();
        LittleEndian.Put64(bad, OwnedRanges.HeaderSize + 8, 0x800);
        Assert.Equal(OwnedRanges.Problem.BadEntry, OwnedRanges.Read(bad, into, out _));
        Assert.Equal(OwnedRanges.Problem.NoRoom, OwnedRanges.Read(table, new PhysRange[0], out _));
        Assert.Equal("no OWND magic", OwnedRanges.Describe(OwnedRanges.Problem.BadMagic));
    }
}
