// crashkernel=: Linux's three forms and memparse suffixes, the range boundaries, malformed values,
// and the placement on QEMU-like memory maps (top-down, 2 MiB-aligned, below 4 GiB, clear of the
// kernel, the modules and the first MiB), with the messages the console shows.
namespace Kernel.Tests;

public class CrashKernelTests
{
    const ulong K = KexecMemoryMap.KiB, M = KexecMemoryMap.MiB, G = KexecMemoryMap.GiB;

    static CrashKernelRequest Parsed(string value)
    {
        Assert.True(CrashKernel.Parse(Ascii.Bytes(value), out var request, out var error), $"{value}: {error.Code} at {error.Position}");
        return request;
    }

    static CrashKernelError ParseError(string value)
    {
        Assert.False(CrashKernel.Parse(Ascii.Bytes(value), out _, out var error), value);
        return error;
    }

    // ---- Syntax ----------------------------------------------------------------------------------

    [Fact]
    public void SimpleSize_HasNoOffsetAndNoRanges()
    {
        var r = Parsed("16M");
        Assert.Equal(16 * M, r.Size);
        Assert.False(r.HasOffset);
        Assert.False(r.IsRangeForm);
        Assert.True(r.SizeFor(123, out ulong size));
        Assert.Equal(16 * M, size);
    }

    [Fact]
    public void SizeAtOffset_KeepsTheOffset()
    {
        var r = Parsed("64M@256M");
        Assert.Equal(64 * M, r.Size);
        Assert.True(r.HasOffset);
        Assert.Equal(256 * M, r.Offset);
    }

    [Fact]
    public void OffsetZero_MeansAnywhere_AsInLinux()
    {
        var r = Parsed("64M@0");
        Assert.False(r.HasOffset);
        var m = KexecMemoryMap.Qemu(256 * M);
        Assert.True(m.Setup("64M@0", out var placed));
        Assert.Equal(190 * M, placed.Start);    // the top-down choice, as without "@0"
    }

    [Theory]
    [InlineData("1024", 1024UL)]
    [InlineData("16k", 16UL << 10)]
    [InlineData("16K", 16UL << 10)]
    [InlineData("16m", 16UL << 20)]
    [InlineData("3G", 3UL << 30)]
    [InlineData("2T", 2UL << 40)]
    [InlineData("1P", 1UL << 50)]
    [InlineData("15E", 15UL << 60)]
    [InlineData("0x1000000", 16UL << 20)]
    [InlineData("0X10M", 16UL << 20)]
    [InlineData("0x1E", 30UL)]                 // in hex, E is a digit, not exa
    [InlineData("010M", 10UL << 20)]           // decimal, not octal (as BootParams.ParseInteger)
    [InlineData("18446744073709551615", ulong.MaxValue)]
    public void Sizes_FollowMemparse(string value, ulong expected)
    {
        Assert.Equal(expected, Parsed(value).Size);
    }

    [Fact]
    public void RangeForm_KeepsEveryEntryInOrder()
    {
        var r = Parsed("512M-2G:64M,2G-:128M@16M");
        Assert.True(r.IsRangeForm);
        Assert.Equal(2, r.RangeCount);
        Assert.Equal((512 * M, 2 * G, 64 * M, false), (r.Range(0).Start, r.Range(0).End, r.Range(0).Size, r.Range(0).OpenEnd));
        Assert.Equal((2 * G, ulong.MaxValue, 128 * M, true), (r.Range(1).Start, r.Range(1).End, r.Range(1).Size, r.Range(1).OpenEnd));
        Assert.Equal(16 * M, r.Offset);
        Assert.Equal(0UL, r.Range(2).Size);     // out of range: empty, not garbage
    }

    [Theory]
    [InlineData(512 * M - 1, false, 0UL)]      // below the first range: nothing
    [InlineData(512 * M, true, 64 * M)]        // starts are inclusive
    [InlineData(2 * G - 1, true, 64 * M)]
    [InlineData(2 * G, true, 128 * M)]         // ends are exclusive: 2G exactly picks "2G-"
    [InlineData(ulong.MaxValue - 1, true, 128 * M)]
    public void RangeForm_PicksByRam_StartInclusiveEndExclusive(ulong ram, bool matches, ulong expected)
    {
        var r = Parsed("512M-2G:64M,2G-:128M");
        Assert.Equal(matches, r.SizeFor(ram, out ulong size));
        Assert.Equal(expected, size);
    }

    [Fact]
    public void RangeForm_FirstMatchWins_LikeLinux()
    {
        var r = Parsed("0-1G:32M,0-4G:64M");
        Assert.True(r.SizeFor(512 * M, out ulong size));
        Assert.Equal(32 * M, size);
        Assert.True(r.SizeFor(3 * G, out size));
        Assert.Equal(64 * M, size);
    }

    [Fact]
    public void RangeForm_OnMachineWithExactly2G_ReservesFromThe2GEntry()
    {
        var m = new KexecMemoryMap();
        m.AddRange(0, 2 * G, Multiboot.MemoryAvailable);
        Assert.True(m.Setup("512M-2G:64M,2G-:128M", out var placed));
        Assert.Equal(2 * G, placed.SystemRam);
        Assert.Equal(128 * M, placed.Size);
        Assert.Equal(2 * G - 128 * M, placed.Start);
    }

    [Theory]
    [InlineData("", CrashKernelErrorCode.Empty, 0)]
    [InlineData("@", CrashKernelErrorCode.NumberExpected, 0)]
    [InlineData("abc", CrashKernelErrorCode.NumberExpected, 0)]
    [InlineData("M", CrashKernelErrorCode.NumberExpected, 0)]
    [InlineData(" 64M", CrashKernelErrorCode.NumberExpected, 0)]
    [InlineData("0x", CrashKernelErrorCode.NumberExpected, 2)]
    [InlineData("16Q", CrashKernelErrorCode.UnexpectedCharacter, 2)]
    [InlineData("64M ", CrashKernelErrorCode.UnexpectedCharacter, 3)]
    [InlineData("64M,high", CrashKernelErrorCode.UnexpectedCharacter, 3)]
    [InlineData("64MM", CrashKernelErrorCode.UnexpectedCharacter, 3)]
    [InlineData("64M@", CrashKernelErrorCode.NumberExpected, 4)]
    [InlineData("64M@16M@1M", CrashKernelErrorCode.UnexpectedCharacter, 7)]
    [InlineData("512M-2G", CrashKernelErrorCode.UnexpectedCharacter, 4)]   // no ':': the simple form
    [InlineData("512M-:", CrashKernelErrorCode.NumberExpected, 6)]
    [InlineData("512M:64M", CrashKernelErrorCode.DashExpected, 4)]
    [InlineData("512M-2G64M:1M", CrashKernelErrorCode.ColonExpected, 7)]
    [InlineData("2G-1G:64M", CrashKernelErrorCode.EndNotAboveStart, 3)]
    [InlineData("1G-1G:64M", CrashKernelErrorCode.EndNotAboveStart, 3)]
    [InlineData("512M-2G:64M,", CrashKernelErrorCode.NumberExpected, 12)]
    [InlineData("512M-2G:64M;2G-:128M", CrashKernelErrorCode.UnexpectedCharacter, 11)]
    [InlineData("512M-2G:64M@", CrashKernelErrorCode.NumberExpected, 12)]
    [InlineData("16E", CrashKernelErrorCode.NumberTooLarge, 2)]
    [InlineData("18446744073709551616", CrashKernelErrorCode.NumberTooLarge, 20)]
    [InlineData("0x10000000000000000", CrashKernelErrorCode.NumberTooLarge, 19)]
    [InlineData("64M@17179869184G", CrashKernelErrorCode.NumberTooLarge, 15)]
    [InlineData("0-99999999999999999999:1M", CrashKernelErrorCode.NumberTooLarge, 22)]
    public void Garbage_IsRefusedWithItsReasonAndPosition(string value, CrashKernelErrorCode code, int position)
    {
        var error = ParseError(value);
        Assert.Equal(code, error.Code);
        Assert.Equal(position, error.Position);
        Assert.True(error.IsSyntax);
    }

    [Fact]
    public void EndNotAboveStart_NamesBothBounds()
    {
        var error = ParseError("2G-1G:64M");
        Assert.Equal((2 * G, 1 * G), (error.A, error.B));
    }

    [Fact]
    public void SixteenRangesFit_SeventeenAreRefused()
    {
        string Ranges(int n) => string.Join(",", Enumerable.Range(0, n).Select(i => $"{i}G-{i + 1}G:{i + 1}M"));
        Assert.Equal(CrashKernelRequest.MaxRanges, Parsed(Ranges(16)).RangeCount);
        Assert.Equal(16 * M, Parsed(Ranges(16)).Range(15).Size);
        Assert.Equal(CrashKernelErrorCode.TooManyRanges, ParseError(Ranges(17)).Code);
    }

    [Theory]
    [InlineData("abc")]
    [InlineData("16Q")]
    [InlineData("512M-:")]
    [InlineData("")]
    public void MalformedValue_GetsTheBootParameterMessage(string value)
    {
        var m = KexecMemoryMap.Qemu(128 * M);
        Assert.False(m.Setup(value, out var result));
        Assert.False(result.Reserved);
        Assert.Equal($"Malformed boot parameter crashkernel={value}: expected size[@offset] or ranges like 512M-2G:64M,2G-:128M; kdump disabled",
                     KexecMemoryMap.Message(value, result));
    }

    [Fact]
    public void LongMalformedValue_IsCutLikeOtherBootParameters()
    {
        string value = new string('9', 100) + "Q";
        Assert.Equal("Malformed boot parameter crashkernel=" + new string('9', BootParams.MaxValueShown) +
                     "...: expected size[@offset] or ranges like 512M-2G:64M,2G-:128M; kdump disabled",
                     KexecMemoryMap.Qemu(128 * M).Message(value));
    }

    [Fact]
    public void RandomValues_NeverThrow_AndWhatParsesIsConsistent()
    {
        var random = new Random(20240229);
        string[] pieces = ["0", "1", "2", "5", "12", "0x", "f", "K", "M", "G", "T", "E", "Q", "-", ":", ",", "@", " ", "512M", "2G-", "99999999999"];
        var m = KexecMemoryMap.Qemu(128 * M);
        int parsed = 0;
        for (int n = 0; n < 20000; n++)
        {
            string value = string.Concat(Enumerable.Range(0, random.Next(0, 9)).Select(_ => pieces[random.Next(pieces.Length)]));
            bool ok = CrashKernel.Parse(Ascii.Bytes(value), out var r, out var error);
            Assert.Equal(ok, error.Code == CrashKernelErrorCode.None);
            if (ok)
            {
                parsed++;
                for (int i = 0; i < r.RangeCount; i++) Assert.True(r.Range(i).End > r.Range(i).Start, value);
            }
            else Assert.InRange(error.Position, 0, value.Length);
            m.Setup(value, out var result);
            string message = KexecMemoryMap.Message(value, result);     // asserts one untruncated line
            Assert.True(result.Reserved ? message.StartsWith("crashkernel reserved: ") : message.EndsWith("kdump disabled"), message);
            if (result.Reserved)
            {
                Assert.Equal(0UL, result.Start % CrashKernel.Alignment);
                Assert.True(result.Start >= KexecMemoryMap.ModuleEnd && result.End <= 128 * M - 128 * K, message);
            }
        }
        Assert.True(parsed > 500, $"only {parsed} values parsed: the fuzz does not reach the placement");
    }

    // ---- Placement on QEMU-like machines ---------------------------------------------------------

    [Theory]
    [InlineData(64, "16M", 46)]       // usable to 64M - 128K: the highest 2M-aligned 16M ends at 62M
    [InlineData(128, "64M", 62)]
    [InlineData(128, "3M", 122)]      // rounded up to 4M, top-down
    [InlineData(256, "128M", 126)]
    [InlineData(1024, "512M-2G:64M,2G-:128M", 958)]
    [InlineData(1024, "256M", 766)]
    public void QemuMachine_ReservesHighestAlignedBlockBelowTheTop(int ramMiB, string value, int startMiB)
    {
        var m = KexecMemoryMap.Qemu((ulong)ramMiB * M);
        Assert.True(m.Setup(value, out var r), m.Message(value));
        Assert.True(r.Reserved);
        Assert.Equal((ulong)startMiB * M, r.Start);
        Assert.Equal(0UL, r.Start % CrashKernel.Alignment);
        Assert.Equal(0UL, r.Size % CrashKernel.Alignment);
        Assert.True(r.End <= (ulong)ramMiB * M - 128 * K);
        Assert.Equal(KexecMemoryMap.QemuSystemRam((ulong)ramMiB * M), r.SystemRam);
    }

    [Fact]
    public void Message_OnSuccess_NamesRegionSizeAndRam()
    {
        var m = KexecMemoryMap.Qemu(128 * M);
        Assert.Equal("crashkernel reserved: 0x0000000003e00000 - 0x0000000007e00000 (64M, highest free below 4G; RAM 130559K)",
                     m.Message("64M"));
        Assert.Equal("crashkernel reserved: 0x0000000007a00000 - 0x0000000007e00000 (4M, 3M rounded up to a multiple of 2M, highest free below 4G; RAM 130559K)",
                     m.Message("3M"));
        Assert.Equal("crashkernel reserved: 0x0000000004000000 - 0x0000000006000000 (32M at the requested offset; RAM 130559K)",
                     m.Message("32M@64M"));
    }

    [Fact]
    public void SystemRam_IsTheSumOfUsableEntries_As128MGuestShowsIt()
    {
        // QEMU's -m 128 leaves 130559K usable, so "128M-" does not match it, exactly as on Linux
        // (memblock_phys_mem_size()); the range below it does.
        var m = KexecMemoryMap.Qemu(128 * M);
        Assert.True(m.Setup("64M-128M:32M,128M-:64M", out var r));
        Assert.Equal(130559 * K, r.SystemRam);
        Assert.Equal(32 * M, r.Size);
    }

    [Fact]
    public void NeverBelowOneMiB_NorOverKernelOrModule_EvenWhenOnlyLowMemoryIsLeft()
    {
        // 64M guest asking for everything above the module: the block starts at the first 2M
        // boundary after the module (10M) and nothing lower is ever offered.
        var m = KexecMemoryMap.Qemu(64 * M);
        Assert.True(m.Setup("52M", out var r), m.Message("52M"));
        Assert.Equal(10 * M, r.Start);
        Assert.Equal(62 * M, r.End);
        Assert.False(m.Setup("54M", out r));
        Assert.Equal(52 * M, r.LargestFree);

        // Without the module the kernel is the only obstacle: its end 0x623000 rounds up to 8M.
        var bare = KexecMemoryMap.Qemu(64 * M, withModule: false);
        Assert.True(bare.Setup("54M", out r), bare.Message("54M"));
        Assert.Equal(8 * M, r.Start);
    }

    [Fact]
    public void TopDown_PrefersTheHighestUsableRangeBelow4G_AndIgnoresRamAbove()
    {
        var m = new KexecMemoryMap();
        m.AddRange(0x10_0000, 511 * M, Multiboot.MemoryAvailable);
        m.AddRange(1 * G, 512 * M, Multiboot.MemoryAvailable);
        m.AddRange(3 * G, 2 * G, Multiboot.MemoryAvailable);       // straddles 4G: only [3G, 4G) counts
        m.AddRange(8 * G, 8 * G, Multiboot.MemoryAvailable);       // above 4G: never used
        Assert.True(m.Setup("64M", out var r));
        Assert.Equal(4 * G - 64 * M, r.Start);
        Assert.Equal(1 * G, r.LargestFree);
        Assert.Equal(511 * M + 512 * M + 2 * G + 8 * G, r.SystemRam);

        Assert.True(m.Setup("1G", out r));
        Assert.Equal(3 * G, r.Start);
        Assert.False(m.Setup("1026M", out r));
        Assert.Equal("crashkernel: cannot reserve 1026M: the largest free usable block below 4G is 1G (RAM 11263M); kdump disabled",
                     KexecMemoryMap.Message("1026M", r));
    }

    [Fact]
    public void TopDown_StepsBelowAModuleNearTheTop()
    {
        var m = KexecMemoryMap.Qemu(128 * M);
        m.AddModule(120 * M + 4 * K, 121 * M);        // a second module high up
        Assert.True(m.Setup("32M", out var r));
        Assert.Equal(88 * M, r.Start);                // ends at 120M, the 2M boundary below the module
        Assert.True(m.Setup("8M", out r));
        Assert.Equal(112 * M, r.Start);
    }

    [Fact]
    public void TopDown_AvoidsAReservedHoleListedInsideUsableRam()
    {
        var m = KexecMemoryMap.Qemu(128 * M);
        m.AddRange(100 * M, 1 * M, Multiboot.MemoryReserved);
        Assert.True(m.Setup("16M", out var r));
        Assert.Equal(110 * M, r.Start);               // [102M, 126M) is above the hole
        Assert.True(m.Setup("32M", out r));
        Assert.Equal(68 * M, r.Start);                // only below the hole: ends at 100M
    }

    [Fact]
    public void TooLarge_NamesSizeLargestBlockAndRam()
    {
        var m = KexecMemoryMap.Qemu(128 * M);
        Assert.False(m.Setup("512M", out var r));
        Assert.Equal(CrashKernelErrorCode.TooLarge, r.Error.Code);
        Assert.Equal(116 * M, r.LargestFree);        // [10M, 126M): after the module, below the top
        Assert.Equal("crashkernel: cannot reserve 512M: the largest free usable block below 4G is 116M (RAM 130559K); kdump disabled",
                     KexecMemoryMap.Message("512M", r));
        Assert.True(m.Setup("116M", out r));
        Assert.Equal(10 * M, r.Start);
        Assert.False(m.Setup("117M", out r));        // rounds to 118M
        Assert.Equal("crashkernel: cannot reserve 117M: the largest free usable block below 4G is 116M (RAM 130559K); kdump disabled",
                     KexecMemoryMap.Message("117M", r));
        Assert.False(m.Setup("15E", out r));
        Assert.Equal(CrashKernelErrorCode.TooLarge, r.Error.Code);
    }

    [Fact]
    public void RangeForm_WithoutAMatch_OrWithSizeZero_ReservesNothing()
    {
        var m = KexecMemoryMap.Qemu(128 * M);
        Assert.False(m.Setup("512M-2G:64M,2G-:128M", out var r));
        Assert.Equal(CrashKernelErrorCode.NoRangeMatches, r.Error.Code);
        Assert.Equal("crashkernel: no range in crashkernel=512M-2G:64M,2G-:128M covers RAM 130559K; kdump disabled",
                     KexecMemoryMap.Message("512M-2G:64M,2G-:128M", r));
        Assert.False(m.Setup("0M", out r));
        Assert.Equal("crashkernel: crashkernel=0M asks for 0 bytes; kdump disabled", KexecMemoryMap.Message("0M", r));
        Assert.False(m.Setup("0-1G:0,1G-:64M", out r));
        Assert.Equal(CrashKernelErrorCode.ZeroSize, r.Error.Code);
    }

    // ---- @offset -----------------------------------------------------------------------------------

    [Fact]
    public void Offset_WhenItFits_IsTakenExactly()
    {
        var m = KexecMemoryMap.Qemu(128 * M);
        Assert.True(m.Setup("32M@64M", out var r));
        Assert.Equal((64 * M, 32 * M), (r.Start, r.Size));
        Assert.True(m.Setup("2M@10M", out r));       // right after the module's 2M boundary
        Assert.Equal(10 * M, r.Start);
        Assert.True(m.Setup("2M@124M", out r));      // the last whole 2M below the reserved top
        Assert.Equal(124 * M, r.Start);
    }

    [Theory]
    [InlineData("16M@7M", CrashKernelErrorCode.OffsetUnaligned, "cannot reserve 16M at 0x00700000: the offset is not a multiple of 2M")]
    [InlineData("2M@0x100000", CrashKernelErrorCode.OffsetUnaligned, "cannot reserve 2M at 0x00100000: the offset is not a multiple of 2M")]
    [InlineData("32M@2M", CrashKernelErrorCode.OffsetOverlapsKernel, "cannot reserve 32M at 0x00200000: it overlaps the kernel [mem 0x00100000-0x00622fff]")]
    [InlineData("2M@6M", CrashKernelErrorCode.OffsetOverlapsKernel, "cannot reserve 2M at 0x00600000: it overlaps the kernel [mem 0x00100000-0x00622fff]")]
    [InlineData("2M@8M", CrashKernelErrorCode.OffsetOverlapsModule, "cannot reserve 2M at 0x00800000: it overlaps module 0 [mem 0x00623000-0x00922fff]")]
    [InlineData("4M@124M", CrashKernelErrorCode.OffsetOverlapsReserved, "cannot reserve 4M at 0x07c00000: it overlaps [mem 0x07fe0000-0x07ffffff], which is not usable RAM")]
    [InlineData("32M@4000M", CrashKernelErrorCode.OffsetNotUsable, "cannot reserve 32M at 0xfa000000: it is not inside one usable RAM range")]
    [InlineData("128M@4032M", CrashKernelErrorCode.OffsetAbove4G, "cannot reserve 128M at 0xfc000000: it ends above 4G")]
    [InlineData("2M@8G", CrashKernelErrorCode.OffsetAbove4G, "cannot reserve 2M at 0x200000000: it ends above 4G")]
    public void Offset_WhenItDoesNotFit_FailsAndSaysWhy(string value, CrashKernelErrorCode code, string reason)
    {
        var m = KexecMemoryMap.Qemu(128 * M);
        Assert.False(m.Setup(value, out var r));
        Assert.False(r.Reserved);
        Assert.Equal(0UL, r.Size);
        Assert.Equal(code, r.Error.Code);
        Assert.Equal($"crashkernel: {reason}; kdump disabled", KexecMemoryMap.Message(value, r));
    }

    [Fact]
    public void Offset_DoesNotFallBackToAnotherPlace()
    {
        // 100M@2M cannot be honoured; a top-down 100M would fit, but a fixed request is not moved.
        var m = KexecMemoryMap.Qemu(256 * M);
        Assert.True(m.Setup("100M", out _));
        Assert.False(m.Setup("100M@2M", out var r));
        Assert.Equal(CrashKernelErrorCode.OffsetOverlapsKernel, r.Error.Code);
    }

    [Fact]
    public void Offset_AcrossTwoAdjacentUsableEntries_IsRefused()
    {
        // "inside one usable range": two entries that touch are not merged.
        var m = new KexecMemoryMap();
        m.AddRange(0x10_0000, 63 * M, Multiboot.MemoryAvailable);
        m.AddRange(64 * M, 64 * M, Multiboot.MemoryAvailable);
        Assert.True(m.Setup("16M@32M", out _));
        Assert.False(m.Setup("16M@56M", out var r));
        Assert.Equal(CrashKernelErrorCode.OffsetNotUsable, r.Error.Code);
    }

    // ---- Formatting ------------------------------------------------------------------------------------

    [Theory]
    [InlineData(0UL, "0")]
    [InlineData(1000UL, "1000")]
    [InlineData(1024UL, "1K")]
    [InlineData(130559UL << 10, "130559K")]
    [InlineData(64UL << 20, "64M")]
    [InlineData(1536UL << 20, "1536M")]
    [InlineData(2UL << 30, "2G")]
    [InlineData(1UL << 60, "1E")]
    public void Sizes_PrintAsMemparseReadsThem(ulong bytes, string expected)
    {
        LogLine l = default;
        Kstrtox.AppendSize(ref l, bytes);
        Assert.Equal(expected, Ascii.Of(l.AsSpan()));
    }
}
