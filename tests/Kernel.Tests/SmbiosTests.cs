// SMBIOS on the host: the F-segment scan for the entry point (2.x "_SM_" with "_DMI_", 3.x "_SM3_",
// checksums), the structure walk to type 38 and its decoding, over the bytes QEMU 7.2 + SeaBIOS
// leave (entry point at 0xF59E0, table at 0xF5A00), and what damaged or missing tables give.
using System.Buffers.Binary;
using Xunit;

namespace Kernel.Tests;

public class SmbiosTests
{
    const ulong EntryAt = 0xF59E0, TableAt = 0xF5A00;
    /// <summary>Type 38 as QEMU builds it for isa-ipmi-kcs: KCS, IPMI 2.0, I/O 0xCA2 (0xCA3 | low bit from the modifier), IRQ 5.</summary>
    static readonly byte[] Type38 = [0x26, 0x12, 0x00, 0x30, 0x01, 0x20, 0x20, 0x00, 0xA3, 0x0C, 0, 0, 0, 0, 0, 0, 0x01, 0x05, 0, 0];
    static readonly byte[] Type0 = [0x00, 0x18, 0x00, 0x00, 1, 2, 0, 0xE8, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, .. "SeaBIOS\0"u8.ToArray(), .. "1.16\0"u8.ToArray(), 0];
    static readonly byte[] End = [0x7F, 0x04, 0xFF, 0xFF, 0, 0];

    static byte Checksum(ReadOnlySpan<byte> b) { byte s = 0; foreach (var x in b) s += x; return (byte)(0 - s); }

    static AcpiMemory Segment(byte[] table, bool v3 = false, bool badChecksum = false)
    {
        var m = new AcpiMemory(Smbios.SegmentStart, Smbios.SegmentEnd);
        m.Write(TableAt, table);
        if (v3)
        {
            var e = new byte[0x18];
            "_SM3_"u8.CopyTo(e);
            e[6] = 0x18; e[7] = 3; e[8] = 0; e[0xA] = 1;
            BinaryPrimitives.WriteUInt32LittleEndian(e.AsSpan(0xC), (uint)table.Length);
            BinaryPrimitives.WriteUInt64LittleEndian(e.AsSpan(0x10), TableAt);
            e[5] = Checksum(e);
            if (badChecksum) e[5] ^= 1;
            m.Write(EntryAt, e);
            return m;
        }
        var ep = new byte[0x1F];
        "_SM_"u8.CopyTo(ep);
        ep[5] = 0x1F; ep[6] = 2; ep[7] = 8;
        "_DMI_"u8.CopyTo(ep.AsSpan(0x10));
        BinaryPrimitives.WriteUInt16LittleEndian(ep.AsSpan(0x16), (ushort)table.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(ep.AsSpan(0x18), (uint)TableAt);
        ep[0x1C] = 3; ep[0x1E] = 0x28;
        ep[0x15] = Checksum(ep.AsSpan(0x10, 0xF));
        ep[4] = Checksum(ep);
        if (badChecksum) ep[4] ^= 1;
        m.Write(EntryAt, ep);
        return m;
    }

    [Theory]
    [InlineData(false, 2, 8)]
    [InlineData(true, 3, 0)]
    public void QemusTables_NameTheKcsInterface(bool v3, int wantMajor, int wantMinor)
    {
        byte[] table = [.. Type0, .. Type38, .. End];
        using var m = Segment(table, v3);
        Assert.True(Smbios.FindTable(m.Window, out ulong at, out uint length, out int major, out int minor));
        Assert.Equal((TableAt, (uint)table.Length, wantMajor, wantMinor), (at, length, major, minor));
        Assert.True(Smbios.FindIpmi(m.Window, at, length, out IpmiDeviceInfo info));
        Assert.Equal(IpmiInterface.Kcs, info.Interface);
        Assert.True(info.IoSpace);
        Assert.Equal(0xCA2UL, info.BaseAddress);
        Assert.Equal(1, info.RegisterSpacing);
        Assert.Equal(5, info.Irq);
        Assert.Equal(0x20, info.SpecRevision);
    }

    [Fact]
    public void ABadChecksum_IsNoEntryPoint()
    {
        using var m = Segment([.. Type38, .. End], badChecksum: true);
        Assert.False(Smbios.FindTable(m.Window, out _, out _, out _, out _));
    }

    [Fact]
    public void NoType38_IsNoBmc()
    {
        byte[] table = [.. Type0, .. End];
        using var m = Segment(table);
        Assert.True(Smbios.FindTable(m.Window, out ulong at, out uint length, out _, out _));
        Assert.False(Smbios.FindIpmi(m.Window, at, length, out _));
    }

    [Fact]
    public void ATableRunningOutOfTheWindow_OrABadLength_IsNotFollowed()
    {
        byte[] table = [.. Type0, .. Type38, .. End];
        using var m = Segment(table);
        // A table said to run past the segment's end: the walk stops at the window, never reads past it.
        Assert.False(Smbios.FindIpmi(m.Window, Smbios.SegmentEnd - 8, 64, out _));
        // A structure whose length is below the header's 4 bytes ends the walk.
        m.Write(TableAt + 1, [0x02]);
        Assert.False(Smbios.FindIpmi(m.Window, TableAt, (uint)table.Length, out _));
    }

    [Theory]
    [InlineData(0x01, 1)]
    [InlineData(0x41, 4)]
    [InlineData(0x81, 16)]
    public void RegisterSpacing_ComesFromTheModifierBits(byte modifier, int spacing)
    {
        byte[] s = [.. Type38[..0x12]];
        s[0x10] = modifier;
        Assert.Equal(spacing, Smbios.Decode(s).RegisterSpacing);
        s[0x10] |= 0x10;
        Assert.Equal(0xCA3UL, Smbios.Decode(s).BaseAddress);
    }
}
