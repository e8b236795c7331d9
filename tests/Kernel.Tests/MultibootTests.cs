// The multiboot information block as QEMU and GRUB 2 lay it out, parsed from a fake low-memory
// image: the command line (QEMU's leading path skipped later, GRUB 2 gives none), modules, the
// memory map, the loader's name and text-mode framebuffer, and every pointer bounded.
using System.Runtime.InteropServices;
using System.Text;

namespace Kernel.Tests;

public unsafe class MultibootTests
{
    /// <summary>A fake physical memory [0, size) in a pinned array, with helpers to lay out a block.</summary>
    sealed class FakeMemory : IDisposable
    {
        public readonly byte[] Bytes;
        readonly GCHandle _pin;
        public byte* Base => (byte*)_pin.AddrOfPinnedObject();
        public FakeMemory(int size) { Bytes = new byte[size]; _pin = GCHandle.Alloc(Bytes, GCHandleType.Pinned); }
        public void U32(int at, uint v) => BitConverter.GetBytes(v).CopyTo(Bytes, at);
        public void U64(int at, ulong v) => BitConverter.GetBytes(v).CopyTo(Bytes, at);
        public void Str(int at, string s) { Encoding.ASCII.GetBytes(s).CopyTo(Bytes, at); Bytes[at + s.Length] = 0; }
        /// <summary>Fake physical addresses: offset 0 of the array is physical 0x100000.</summary>
        public const ulong PhysBase = 0x100000;
        public ulong Addr(int offset) => PhysBase + (ulong)offset;
        public PhysicalWindow Window => new PhysicalWindow(Base, PhysBase, (ulong)Bytes.Length);
        public void Dispose() => _pin.Free();
    }

    // Block at 0x500, strings at 0x600.., module list at 0x700, memory map at 0x800: offsets into FakeMemory.
    static FakeMemory QemuLike(int ranges = 3)
    {
        var m = new FakeMemory(0x2000);
        m.U32(0x500, (1 << 0) | (1 << 2) | (1 << 3) | (1 << 6));
        m.U32(0x504, 639); m.U32(0x508, 130048);
        m.Str(0x600, "/path/to/kernel.elf crashkernel=16M apic_extnmi=all");
        m.U32(0x510, (uint)m.Addr(0x600));
        m.U32(0x514, 1); m.U32(0x518, (uint)m.Addr(0x700));
        m.Str(0x680, "capture.elf role=capture");
        m.U32(0x700, 0x200000); m.U32(0x704, 0x280000); m.U32(0x708, (uint)m.Addr(0x680));
        int p = 0x800;
        (ulong b, ulong l, uint t)[] map = [(0, 0x9fc00, 1), (0x9fc00, 0x400, 2), (0x100000, 0x7ee0000, 1)];
        for (int i = 0; i < ranges; i++, p += 24) { m.U32(p, 20); m.U64(p + 4, map[i % 3].b); m.U64(p + 12, map[i % 3].l); m.U32(p + 20, map[i % 3].t); }
        m.U32(0x52C, (uint)(p - 0x800)); m.U32(0x530, (uint)m.Addr(0x800));
        return m;
    }

    static bool Parse(FakeMemory m, out Multiboot.Info info, out Multiboot.Tables tables)
    {
        info = default; tables = default;
        return Multiboot.Parse(m.Window, m.Addr(0x500), ref info, ref tables);
    }

    static string CommandLine(ref Multiboot.Info info)
    {
        fixed (byte* p = info.CommandLine) return Encoding.ASCII.GetString(p, info.CommandLineLength);
    }

    [Fact]
    public void QemuBlock_GivesCommandLineModulesAndMap()
    {
        using var m = QemuLike();
        Assert.True(Parse(m, out var info, out var tables));
        Assert.Equal("/path/to/kernel.elf crashkernel=16M apic_extnmi=all", CommandLine(ref info));
        Assert.True(info.PathFirst);
        Assert.Equal("crashkernel=16M apic_extnmi=all", Encoding.ASCII.GetString(Multiboot.KernelArguments(Encoding.ASCII.GetBytes(CommandLine(ref info)), info.PathFirst)));
        Assert.Equal(1, info.ModuleCount);
        var mod = Multiboot.ModuleAt(ref tables, 0);
        Assert.Equal((0x200000UL, 0x280000UL), (mod->Start, mod->End));
        Assert.Equal("capture.elf role=capture", Encoding.ASCII.GetString(mod->String, mod->StringLength));
        Assert.Equal(3, info.RangeCount);
        Assert.Equal(0x7ee0000UL, Multiboot.Range(ref tables, 2)->Length);
        Assert.Equal(0x9fc00UL + 0x7ee0000UL, Multiboot.AvailableBytes(ref info, ref tables));
    }

    /// <summary>GRUB 2.06 as measured: flag 9 (loader name) and flag 12 (EGA text framebuffer), no path in either string.</summary>
    static FakeMemory GrubLike()
    {
        var m = QemuLike();
        m.U32(0x500, (1 << 0) | (1 << 2) | (1 << 3) | (1 << 6) | (1 << 9) | (1 << 12));
        m.Str(0x600, "apic_extnmi=all unknown_nmi_panic crashkernel=16M");
        m.Str(0x680, "dump_channels=serial");
        m.Str(0x6C0, "GRUB 2.06-13+deb12u2");
        m.U32(0x540, (uint)m.Addr(0x6C0));
        m.U64(0x558, 0xB8000); m.U32(0x560, 160); m.U32(0x564, 80); m.U32(0x568, 25);
        m.Bytes[0x56C] = 16; m.Bytes[0x56D] = Multiboot.FramebufferEgaText;
        return m;
    }

    [Fact]
    public void Grub2Block_KeepsEveryWordOfBothStrings_AndGivesItsTextScreen()
    {
        using var m = GrubLike();
        Assert.True(Parse(m, out var info, out var tables));
        Assert.Equal("GRUB 2.06-13+deb12u2", Encoding.ASCII.GetString(Multiboot.LoaderName(ref info)));
        Assert.False(info.PathFirst);
        byte[] cmdline = Encoding.ASCII.GetBytes(CommandLine(ref info));
        Assert.Equal("apic_extnmi=all unknown_nmi_panic crashkernel=16M", Encoding.ASCII.GetString(Multiboot.KernelArguments(cmdline, info.PathFirst)));
        var mod = Multiboot.ModuleAt(ref tables, 0);
        var moduleArgs = Multiboot.KernelArguments(new ReadOnlySpan<byte>(mod->String, mod->StringLength), info.PathFirst);
        Assert.Equal("dump_channels=serial", Encoding.ASCII.GetString(moduleArgs));
        Assert.True(info.HasFramebuffer);
        Assert.Equal((0xB8000UL, 160u, 80u, 25u, (byte)16, Multiboot.FramebufferEgaText),
            (info.FramebufferAddress, info.FramebufferPitch, info.FramebufferWidth, info.FramebufferHeight, info.FramebufferBpp, info.FramebufferType));
    }

    [Theory]
    [InlineData("qemu", true)]
    [InlineData("GNU GRUB 0.97", true)]
    [InlineData("GRUB 2.06-13+deb12u2", false)]
    [InlineData("GRUB 2.12", false)]
    [InlineData("", true)]
    [InlineData("GRUB", true)]
    public void ThePathIsSkippedForEveryLoaderButGrub2(string loader, bool pathFirst)
    {
        Assert.Equal(pathFirst, Multiboot.PathComesFirst(Encoding.ASCII.GetBytes(loader)));
        byte[] line = Encoding.ASCII.GetBytes("  first second=2");
        Assert.Equal(pathFirst ? "second=2" : "first second=2", Encoding.ASCII.GetString(Multiboot.KernelArguments(line, pathFirst)));
    }

    [Fact]
    public void NoLoaderName_KeepsQemusConvention_AndNoFramebufferIsNone()
    {
        using var m = QemuLike();
        Assert.True(Parse(m, out var info, out _));
        Assert.Equal(0, info.LoaderNameLength);
        Assert.True(info.PathFirst);
        Assert.False(info.HasFramebuffer);
    }

    [Fact]
    public void ReserveTop_TakesTheTopOfTheHighestRangeBelowTheCeiling_TheSameEveryTime()
    {
        using var m = QemuLike();
        Assert.True(Parse(m, out var info, out var tables));
        Assert.True(Multiboot.ReserveTop(ref info, ref tables, 0x8000, 1UL << 32, Multiboot.MemoryReserved, out ulong start));
        Assert.Equal(0x100000UL + 0x7ee0000 - 0x8000, start);
        Assert.Equal(4, info.RangeCount);
        Assert.Equal((0x100000UL, 0x7ee0000UL - 0x8000, Multiboot.MemoryAvailable), (Multiboot.Range(ref tables, 2)->Base, Multiboot.Range(ref tables, 2)->Length, Multiboot.Range(ref tables, 2)->Type));
        Assert.Equal((start, 0x8000UL, Multiboot.MemoryReserved), (Multiboot.Range(ref tables, 3)->Base, Multiboot.Range(ref tables, 3)->Length, Multiboot.Range(ref tables, 3)->Type));
        Assert.Equal(0x9fc00UL + 0x7ee0000 - 0x8000, Multiboot.AvailableBytes(ref info, ref tables));
        Assert.True(Parse(m, out var again, out var tables2));
        Assert.True(Multiboot.ReserveTop(ref again, ref tables2, 0x8000, 1UL << 32, Multiboot.MemoryReserved, out ulong start2));
        Assert.Equal(start, start2);
    }

    [Fact]
    public void ReserveTop_SplitsARangeThatCrossesTheCeiling()
    {
        using var m = QemuLike();
        Assert.True(Parse(m, out var info, out var tables));
        // A ceiling inside the last range: the reservation ends at it, the rest stays usable after it.
        Assert.True(Multiboot.ReserveTop(ref info, ref tables, 0x8000, 0x4000000, Multiboot.MemoryReserved, out ulong start));
        Assert.Equal(0x4000000UL - 0x8000, start);
        Assert.Equal(5, info.RangeCount);
        Assert.Equal((0x4000000UL, 0x100000UL + 0x7ee0000 - 0x4000000, Multiboot.MemoryAvailable),
            (Multiboot.Range(ref tables, 4)->Base, Multiboot.Range(ref tables, 4)->Length, Multiboot.Range(ref tables, 4)->Type));
        Assert.False(Multiboot.ReserveTop(ref info, ref tables, 1UL << 40, 1UL << 32, Multiboot.MemoryReserved, out _));
    }

    [Fact]
    public void ReserveTop_GoesBelowModulesTheLoaderPutAtTheTop_AndKeepsTheRestUsable()
    {
        // GRUB may load modules high: two modules stacked at the top of RAM, the upper one touching
        // the range's end, the lower one ending inside the page below the upper one's start.
        const ulong top = 0x100000UL + 0x7ee0000;
        using var m = QemuLike();
        m.U32(0x514, 2);
        m.U32(0x700, (uint)(top - 0x300000)); m.U32(0x704, (uint)top);
        m.Str(0x6C0, "second");
        m.U32(0x710, (uint)(top - 0x500000)); m.U32(0x714, (uint)(top - 0x300000 - 0x800)); m.U32(0x718, (uint)m.Addr(0x6C0));
        Assert.True(Parse(m, out var info, out var tables));
        Assert.Equal(2, info.ModuleCount);
        Assert.True(Multiboot.ReserveTop(ref info, ref tables, 0x8000, 1UL << 32, Multiboot.MemoryReserved, out ulong start));
        Assert.Equal(top - 0x500000 - 0x8000, start);
        for (int i = 0; i < info.ModuleCount; i++)
        {
            var mod = Multiboot.ModuleAt(ref tables, i);
            Assert.True(start + 0x8000 <= mod->Start || start >= mod->End, $"the reservation at 0x{start:x} overlaps module {i}");
        }
        // Below it, the reservation, then the modules' part of the range, still usable RAM.
        Assert.Equal((start, 0x8000UL, Multiboot.MemoryReserved), (Multiboot.Range(ref tables, 3)->Base, Multiboot.Range(ref tables, 3)->Length, Multiboot.Range(ref tables, 3)->Type));
        Assert.Equal((start + 0x8000, top - start - 0x8000, Multiboot.MemoryAvailable), (Multiboot.Range(ref tables, 4)->Base, Multiboot.Range(ref tables, 4)->Length, Multiboot.Range(ref tables, 4)->Type));
        Assert.Equal(0x9fc00UL + 0x7ee0000 - 0x8000, Multiboot.AvailableBytes(ref info, ref tables));
    }

    [Fact]
    public void ReserveTop_WithModulesFillingEveryRange_FindsNoPlace()
    {
        using var m = QemuLike();
        m.U32(0x514, 2);
        m.U32(0x700, 0x100000); m.U32(0x704, 0x100000 + 0x7ee0000);
        m.U32(0x710, 0); m.U32(0x714, 0x9fc00); m.U32(0x718, (uint)m.Addr(0x680));
        Assert.True(Parse(m, out var info, out var tables));
        Assert.False(Multiboot.ReserveTop(ref info, ref tables, 0x8000, 1UL << 32, Multiboot.MemoryReserved, out _));
        Assert.Equal(3, info.RangeCount);
    }

    [Fact]
    public void MoreRangesThanTheTableHolds_AreCountedAsDropped()
    {
        using var m = QemuLike(ranges: Multiboot.MaxMemoryRanges + 5);
        Assert.True(Parse(m, out var info, out _));
        Assert.Equal(Multiboot.MaxMemoryRanges, info.RangeCount);
        Assert.Equal(5, info.RangesDropped);
    }

    [Fact]
    public void PointersOutsideReadableMemory_AreIgnored()
    {
        using var m = QemuLike();
        m.U32(0x510, 0xFFFF_0000);          // command line far away
        m.U32(0x518, 0xFFFF_0000);          // module list far away
        Assert.True(Parse(m, out var info, out _));
        Assert.Equal(0, info.CommandLineLength);
        Assert.Equal(0, info.ModuleCount);
        Assert.Equal(3, info.RangeCount);
    }

    [Fact]
    public void UnterminatedCommandLineAtTheEndOfMemory_StopsThere()
    {
        using var m = QemuLike();
        for (int i = 0x1F00; i < 0x2000; i++) m.Bytes[i] = (byte)'x';
        m.U32(0x510, (uint)m.Addr(0x1F00));
        Assert.True(Parse(m, out var info, out _));
        Assert.Equal(0x100, info.CommandLineLength);
        Assert.False(info.CommandLineTruncated);
    }

    [Fact]
    public void OverlongCommandLine_IsCutAndFlagged()
    {
        using var m = new FakeMemory(0x4000);
        m.U32(0x500, 1 << 2);
        for (int i = 0; i < 3000; i++) m.Bytes[0x1000 + i] = (byte)'a';
        m.U32(0x510, (uint)m.Addr(0x1000));
        Assert.True(Parse(m, out var info, out _));
        Assert.Equal(Multiboot.CommandLineCapacity, info.CommandLineLength);
        Assert.True(info.CommandLineTruncated);
    }

    [Fact]
    public void MapEntryWithASizeTooSmall_EndsTheWalk()
    {
        using var m = QemuLike();
        m.U32(0x800 + 24, 3);               // second entry claims 3 bytes: nonsense
        Assert.True(Parse(m, out var info, out _));
        Assert.Equal(1, info.RangeCount);
    }

    [Fact]
    public void BlockOutsideReadableMemory_IsRefused()
    {
        var info = default(Multiboot.Info);
        var tables = default(Multiboot.Tables);
        using var m = QemuLike();
        Assert.False(Multiboot.Parse(m.Window, m.Addr(0x1FF0), ref info, ref tables));
    }

    [Fact]
    public void RandomBlocks_NeverReadOutsideTheWindow()
    {
        var rng = new Random(1234);
        using var m = new FakeMemory(0x1000);
        for (int round = 0; round < 2000; round++)
        {
            rng.NextBytes(m.Bytes);
            // Point some fields back into the window so the walks actually run.
            m.U32(0x510, (uint)m.Addr(rng.Next(0x1000)));
            m.U32(0x518, (uint)m.Addr(rng.Next(0x1000)));
            m.U32(0x530, (uint)m.Addr(rng.Next(0x1000)));
            var info = default(Multiboot.Info);
            var tables = default(Multiboot.Tables);
            Multiboot.Parse(m.Window, m.Addr(0x500), ref info, ref tables);
            Assert.InRange(info.RangeCount, 0, Multiboot.MaxMemoryRanges);
            Assert.InRange(info.ModuleCount, 0, Multiboot.MaxModules);
        }
    }

    [Fact]
    public void TablesHoldEveryEntryTheyPromise()
    {
        Assert.True(sizeof(Multiboot.MemoryRange) * Multiboot.MaxMemoryRanges <= Multiboot.MaxMemoryRanges * 24);
        Assert.True(sizeof(Multiboot.Module) * Multiboot.MaxModules <= Multiboot.MaxModules * (16 + 4 + Multiboot.ModuleStringCapacity + 4));
    }
}
