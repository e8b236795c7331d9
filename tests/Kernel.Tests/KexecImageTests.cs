// The capture-image loader on real PIEs (nasm + ld -pie): bytes copied, bss zeroed, RELATIVE
// relocations applied for the region's base, entry point, SHA-256 against .NET's, Verify catching a
// changed byte; and refusals (truncation, wrong machine, ET_EXEC, a segment past the region, an
// unsupported relocation, garbage) that leave the region untouched and never write outside it.
using System.Security.Cryptography;

namespace Kernel.Tests;

public class KexecImageTests
{
    const ulong Base = 0x07C0_0000;          // 2 MiB-aligned, as CrashKernel places regions
    const int RegionSize = 0x40_0000;
    const byte Fill = 0xCC;

    static byte[] Region(int size = RegionSize)
    {
        var r = new byte[size];
        r.AsSpan().Fill(Fill);
        return r;
    }

    static string Reason(in KexecImage image)
    {
        LogLine l = default;
        image.Error.Describe(ref l);
        Assert.False(l.Truncated);
        return Ascii.Of(l.AsSpan());
    }

    static KexecImage Loaded(byte[] elf, byte[] region, ulong regionBase = Base, ulong tail = 0)
    {
        bool ok = KexecImage.Load(elf, region, regionBase, tail, out var image);
        Assert.True(ok, Reason(image));
        Assert.Equal(KexecErrorCode.None, image.Error.Code);
        return image;
    }

    static string Rejected(byte[] elf, int regionSize = RegionSize, ulong regionBase = Base, ulong tail = 0)
    {
        var region = Region(regionSize);
        Assert.False(KexecImage.Load(elf, region, regionBase, tail, out var image));
        Assert.Equal(0, image.SegmentCount);
        Assert.Equal(0UL, image.Entry);
        Assert.True(region.All(b => b == Fill), "a rejected image must leave the region untouched");
        return Reason(image);
    }

    /// <summary>SHA-256 of the loaded PT_LOADs in program-header order, by .NET, from the test's own ELF reader.</summary>
    static byte[] IndependentDigest(byte[] elf, byte[] region)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var p in KexecElf.Loads(elf).Where(p => p.Digested)) sha.AppendData(region, (int)p.Vaddr, (int)p.Filesz);
        return sha.GetHashAndReset();
    }

    static byte[] Digest(in KexecImage image)
    {
        var d = new byte[32];
        Assert.True(image.CopyDigest(d));
        return d;
    }

    // ---- Loading a real PIE ------------------------------------------------------------------------

    [Fact]
    public void StandardPie_IsCopiedToItsVirtualAddresses()
    {
        var pie = KexecPie.Standard;
        var region = Region();
        var image = Loaded(pie.Bytes, region);
        foreach (var p in KexecElf.Loads(pie.Bytes))
            if (p.Filesz != 0)
            {
                // Relocated words differ from the file; compare the text segment, which has none.
                if (p.Vaddr <= pie["entry"] && pie["entry"] < p.Vaddr + p.Filesz)
                    Assert.Equal(pie.Bytes.AsSpan((int)p.Offset, (int)p.Filesz).ToArray(), region.AsSpan((int)p.Vaddr, (int)p.Filesz).ToArray());
            }
        Assert.Equal("capture\0", Ascii.Of(region.AsSpan((int)pie["message"], 8)));
        Assert.Equal(pie["_end"], image.ImageSize);
    }

    [Fact]
    public void StandardPie_PointersAreRelocatedToTheBase()
    {
        var pie = KexecPie.Standard;
        foreach (ulong regionBase in new ulong[] { Base, 0x0020_0000, 0xFFE0_0000 - 0x40_0000 })
        {
            var region = Region();
            var image = Loaded(pie.Bytes, region, regionBase);
            int table = (int)pie["table"];
            Assert.Equal(regionBase + pie["entry"], BitConverter.ToUInt64(region, table));
            Assert.Equal(regionBase + pie["table"], BitConverter.ToUInt64(region, table + 8));
            Assert.Equal(regionBase + pie["message"], BitConverter.ToUInt64(region, table + 16));
            Assert.Equal(regionBase + pie["bss_area"] + 16, BitConverter.ToUInt64(region, table + 24));
            Assert.Equal(4, image.Relocations);
            Assert.Equal(KexecElf.Relocations(pie.Bytes).Count, image.Relocations);
        }
    }

    [Fact]
    public void StandardPie_BssIsZeroed_AndNothingOutsideTheSegmentsIsWritten()
    {
        var pie = KexecPie.Standard;
        var region = Region();
        var image = Loaded(pie.Bytes, region, tail: 0x1000);
        ulong bss = pie["bss_area"], end = pie["_end"];
        Assert.True(end - bss >= 4096);
        Assert.True(region.AsSpan((int)bss, (int)(end - bss)).ToArray().All(b => b == 0), "bss must be zero");

        var inside = new bool[region.Length];
        foreach (var p in KexecElf.Loads(pie.Bytes))
            for (ulong a = p.Vaddr; a < p.Vaddr + p.Memsz; a++) inside[a] = true;
        int written = Enumerable.Range(0, region.Length).FirstOrDefault(a => !inside[a] && region[a] != Fill, -1);
        Assert.True(written < 0, $"byte 0x{written:x} outside every segment was written");
    }

    [Fact]
    public void StandardPie_EntryAndSegmentsAreReported()
    {
        var pie = KexecPie.Standard;
        var image = Loaded(pie.Bytes, Region());
        Assert.Equal(Base + KexecElf.Entry(pie.Bytes), image.Entry);
        Assert.Equal(Base + pie["entry"], image.Entry);
        Assert.Equal(Base, image.Base);
        Assert.Equal((ulong)RegionSize, image.RegionSize);

        var loads = KexecElf.Loads(pie.Bytes);
        Assert.True(KexecElf.ProgramHeaders(pie.Bytes).Count(p => p.Type == 1) > loads.Count, "ld's empty PT_LOAD should be there and be skipped");
        Assert.Equal(loads.Count, image.SegmentCount);
        var copied = new PhysRange[KexecImage.MaxSegments];
        Assert.Equal(loads.Count, image.CopySegments(copied));
        for (int i = 0; i < loads.Count; i++)
        {
            Assert.Equal(Base + loads[i].Vaddr, image.Segment(i).Start);
            Assert.Equal(loads[i].Memsz, image.Segment(i).Size);
            Assert.Equal(image.Segment(i).Start, copied[i].Start);
            Assert.Equal(image.Segment(i).Size, copied[i].Size);
        }
        Assert.Equal(0UL, image.Segment(loads.Count).Size);
    }

    [Fact]
    public void Digest_EqualsDotNetSha256OfTheLoadedSegments()
    {
        var pie = KexecPie.Standard;
        var region = Region();
        var image = Loaded(pie.Bytes, region);
        Assert.Equal(IndependentDigest(pie.Bytes, region), Digest(image));

        // The same file at another base relocates differently, so its digest differs.
        var other = Region();
        var moved = Loaded(pie.Bytes, other, Base + 0x20_0000);
        Assert.Equal(IndependentDigest(pie.Bytes, other), Digest(moved));
        Assert.NotEqual(Digest(image), Digest(moved));
    }

    [Fact]
    public void Verify_PassesUntouched_AndCatchesOneChangedByteInAnySegment()
    {
        var pie = KexecPie.Standard;
        var region = Region();
        var image = Loaded(pie.Bytes, region);
        var actual = new byte[32];
        Assert.True(image.Verify(region, actual));
        Assert.Equal(Digest(image), actual);

        foreach (var p in KexecElf.Loads(pie.Bytes).Where(p => p.Filesz > 0 && p.Digested))
        {
            foreach (ulong at in new[] { p.Vaddr, p.Vaddr + p.Filesz - 1 })
            {
                region[at] ^= 0x01;
                Assert.False(image.Verify(region, actual), $"a flipped byte at 0x{at:x} went unnoticed");
                Assert.NotEqual(Digest(image), actual);
                region[at] ^= 0x01;
                Assert.True(image.Verify(region, actual));
            }
        }

        // A read-only, non-executable segment (relocations, dynamic symbols, unwind tables) is
        // loaded but not hashed: nothing the capture kernel runs or reads lies there.
        foreach (var p in KexecElf.Loads(pie.Bytes).Where(p => p.Filesz > 0 && !p.Digested))
        {
            region[p.Vaddr] ^= 0x01;
            Assert.True(image.Verify(region, actual));
            region[p.Vaddr] ^= 0x01;
        }

        // bss is not covered: the capture image zeroes it itself before using it.
        var withBss = KexecElf.Loads(pie.Bytes).Where(p => p.Memsz > p.Filesz).ToList();
        Assert.NotEmpty(withBss);
        foreach (var b in withBss.Take(1))
        {
            var withBss1 = b;
            region[withBss1.Vaddr + withBss1.Memsz - 1] ^= 0xFF;
            Assert.True(image.Verify(region, actual));
            region[withBss1.Vaddr + withBss1.Memsz - 1] ^= 0xFF;
        }

        // Bytes outside the segments (here the gap after the text) are not part of the image.
        var text = KexecElf.Loads(pie.Bytes).Single(p => p.Vaddr <= pie["entry"] && pie["entry"] < p.Vaddr + p.Memsz);
        region[text.Vaddr + text.Memsz] ^= 0xFF;
        Assert.True(image.Verify(region, actual));
    }

    [Fact]
    public void Verify_StaticForm_ChecksTheSegmentsItIsGiven()
    {
        var pie = KexecPie.Standard;
        var region = Region();
        var image = Loaded(pie.Bytes, region);
        var segments = new PhysRange[image.SegmentCount];
        image.CopyDigestRanges(segments);
        var expected = Digest(image);
        var actual = new byte[32];
        Assert.True(KexecImage.Verify(region, Base, segments, expected, actual));

        var wrongExpected = (byte[])expected.Clone();
        wrongExpected[31] ^= 0x80;
        Assert.False(KexecImage.Verify(region, Base, segments, wrongExpected, actual));
        Assert.Equal(expected, actual);

        var outside = (PhysRange[])segments.Clone();
        outside[0] = new PhysRange(Base + RegionSize - 8, 16);          // runs past the region
        Assert.False(KexecImage.Verify(region, Base, outside, expected, actual));
        outside[0] = new PhysRange(Base - 4096, 16);                    // below it
        Assert.False(KexecImage.Verify(region, Base, outside, expected, actual));
        Assert.False(KexecImage.Verify(region, Base, segments, expected, new byte[31]));
    }

    [Fact]
    public void Message_Mismatch_IsOneLineWithBothDigests()
    {
        var pie = KexecPie.Standard;
        var image = Loaded(pie.Bytes, Region());
        string hex = Convert.ToHexString(Digest(image)).ToLowerInvariant();
        var other = new byte[32];
        other[0] = 0xAB;
        foreach (string what in new[] { "capture image", "hand-over code", "page tables" })
        {
            LogLine l = default;
            KexecImage.DescribeMismatch(ref l, what, Digest(image), other);
            Assert.False(l.Truncated);
            Assert.Equal($"kexec: {what} digest mismatch: expected {hex} got ab{new string('0', 62)}", Ascii.Of(l.AsSpan()));
        }
    }

    /// <summary>
    /// The hand-over code in its control page and the page tables, digested at load time like the
    /// image: any byte changed inside the range is caught; the range must lie in the region.
    /// </summary>
    [Fact]
    public void RangeDigest_CatchesAnyChangedByteInItsRange_AndNothingOutside()
    {
        var region = Region();
        new Random(3).NextBytes(region);
        var range = new PhysRange(Base + RegionSize - 0x6000, 0x1800);
        var d = new KexecRangeDigest();
        Assert.True(d.Take(region, Base, range));
        Assert.Equal(range.Start, d.Range.Start);
        var actual = new byte[32];
        Assert.True(d.Verify(region, Base, actual));
        var expected = new byte[32];
        d.CopyDigest(expected);
        Assert.Equal(System.Security.Cryptography.SHA256.HashData(region.AsSpan((int)(range.Start - Base), (int)range.Size)), expected);

        foreach (int at in new[] { 0, 1, 0x17FF, 0xC00 })
        {
            region[(int)(range.Start - Base) + at] ^= 0x10;
            Assert.False(d.Verify(region, Base, actual), $"a flipped byte at +0x{at:x} went unnoticed");
            region[(int)(range.Start - Base) + at] ^= 0x10;
        }
        region[(int)(range.Start - Base) - 1] ^= 0x10;                      // just before: not covered
        region[(int)(range.Start - Base + range.Size)] ^= 0x10;             // just after: not covered
        Assert.True(d.Verify(region, Base, actual));

        Assert.False(new KexecRangeDigest().Take(region, Base, new PhysRange(Base + RegionSize - 8, 16)));
    }

    [Fact]
    public void RelocationNone_IsSkipped_LeavingTheLinkTimeValue()
    {
        var elf = KexecPie.Standard.Copy();
        var third = KexecElf.Relocations(elf)[2];
        KexecElf.Put64(elf, third.FileOffset + 8, 0);                  // R_X86_64_NONE
        var region = Region();
        var image = Loaded(elf, region);
        Assert.Equal(3, image.Relocations);
        Assert.Equal(KexecPie.Standard["message"], BitConverter.ToUInt64(region, (int)third.Offset));   // ld's unrelocated word
        Assert.Equal(Base + KexecPie.Standard["table"], BitConverter.ToUInt64(region, (int)third.Offset - 8));
    }

    [Fact]
    public void PieWithoutRelocations_Loads()
    {
        var pie = KexecPie.Build("""
            bits 64
            section .text
            global entry
            entry: hlt
                jmp entry
            """, KexecPie.PieFlags);
        var region = Region();
        var image = Loaded(pie.Bytes, region);
        Assert.Equal(0, image.Relocations);
        Assert.Equal(Base + pie["entry"], image.Entry);
        Assert.Equal(0xF4, region[pie["entry"]]);
        Assert.Equal(IndependentDigest(pie.Bytes, region), Digest(image));
    }

    [CaptureImageFact]
    public void RealCaptureImage_LoadsRelocatesAndVerifies()
    {
        byte[] elf = File.ReadAllBytes(KexecPie.CaptureImagePath());
        var loads = KexecElf.Loads(elf);
        Assert.NotEmpty(loads);
        ulong top = loads.Max(p => p.Vaddr + p.Memsz);
        int size = (int)((top + 0x10_0000 + 0x1F_FFFF) & ~0x1F_FFFFUL);    // the image plus a 1 MiB tail, in 2 MiB
        var region = Region(size);
        var image = Loaded(elf, region, Base, 0x10_0000);
        Assert.Equal(Base + KexecElf.Entry(elf), image.Entry);
        Assert.Equal(loads.Count, image.SegmentCount);
        Assert.Equal(top, image.ImageSize);
        Assert.Equal(IndependentDigest(elf, region), Digest(image));
        Assert.True(image.Verify(region, new byte[32]));
        // capture.ld: code and data digested, the loader's metadata and unwind tables not.
        Assert.Contains(loads, p => (p.Flags & 1) != 0 && p.Digested);
        Assert.Contains(loads, p => p.Filesz > 0 && !p.Digested);
        if (elf.Length > 0 && KexecElf.ProgramHeaders(elf).Any(p => p.Type == 2))
            Assert.Equal(KexecElf.Relocations(elf).Count(r => (uint)r.Info == 8), image.Relocations);
    }

    // ---- Refusals --------------------------------------------------------------------------------

    [Fact]
    public void Truncated_AtEveryStage_IsRefused()
    {
        var elf = KexecPie.Standard.Bytes;
        Assert.Equal("kexec: capture image rejected: not an ELF file (0 bytes, no 7f 45 4c 46 header)", Rejected([]));
        Assert.Equal("kexec: capture image rejected: truncated: 40 bytes, shorter than the 64-byte ELF header", Rejected(elf[..40]));
        int phEnd = KexecElf.ProgramHeaderOffset(elf, KexecElf.U16(elf, 56));
        Assert.Equal($"kexec: capture image rejected: truncated: program headers end at 0x{phEnd:x} but the file has 0x{phEnd - 1:x} bytes",
                     Rejected(elf[..(phEnd - 1)]));
        var last = KexecElf.Loads(elf).Last();
        int cut = (int)(last.Offset + last.Filesz) - 1;
        Assert.Equal($"kexec: capture image rejected: PT_LOAD {last.Index}: file bytes end at 0x{last.Offset + last.Filesz:x} but the file has 0x{cut:x} bytes",
                     Rejected(elf[..cut]));
    }

    [Fact]
    public void WrongMachine_IsRefused()
    {
        var elf = KexecPie.Standard.Copy();
        KexecElf.Put16(elf, 18, 40);
        Assert.Equal("kexec: capture image rejected: not x86-64 (e_machine 40)", Rejected(elf));
    }

    [Fact]
    public void HeaderFields_AreChecked()
    {
        var elf = KexecPie.Standard.Copy();
        elf[4] = 1;
        Assert.Equal("kexec: capture image rejected: not ELF64 (EI_CLASS 1)", Rejected(elf));
        elf = KexecPie.Standard.Copy();
        elf[5] = 2;
        Assert.Equal("kexec: capture image rejected: not little-endian (EI_DATA 2)", Rejected(elf));
        elf = KexecPie.Standard.Copy();
        KexecElf.Put16(elf, 54, 32);
        Assert.Equal("kexec: capture image rejected: bad e_phentsize 32 (56 expected)", Rejected(elf));
        elf = KexecPie.Standard.Copy();
        KexecElf.Put16(elf, 56, 0);
        Assert.Equal("kexec: capture image rejected: no program headers (e_phnum 0)", Rejected(elf));
        elf = KexecPie.Standard.Copy();
        KexecElf.Put64(elf, 24, 0x10_0000);
        Assert.Equal("kexec: capture image rejected: entry 0x100000 is outside every PT_LOAD", Rejected(elf));
    }

    [Fact]
    public void EtExec_FromARealNonPieLink_IsRefused()
    {
        var exec = KexecPie.Build(KexecPie.StandardSource, ["--no-dynamic-linker", "-e", "entry"]);
        Assert.Equal(2, KexecElf.U16(exec.Bytes, 16));
        Assert.Equal("kexec: capture image rejected: not a position-independent executable (e_type 2)", Rejected(exec.Bytes));
    }

    [Fact]
    public void PieNeedingADynamicLinker_IsRefused()
    {
        var pie = KexecPie.Build(KexecPie.StandardSource, ["-pie", "-z", "norelro", "-e", "entry"]);
        int interp = KexecElf.ProgramHeaders(pie.Bytes).Single(p => p.Type == 3).Index;
        Assert.Equal($"kexec: capture image rejected: program header {interp} is PT_INTERP: it needs a dynamic linker (link with --no-dynamic-linker)",
                     Rejected(pie.Bytes));
    }

    [Fact]
    public void LoadPastTheRegion_OrIntoTheReservedTail_IsRefused()
    {
        var elf = KexecPie.Standard.Bytes;
        var last = KexecElf.Loads(elf).Last();
        ulong end = last.Vaddr + last.Memsz;
        int size = (int)(end & ~0xFFFUL);          // the region ends inside the last segment
        Assert.Equal($"kexec: capture image rejected: PT_LOAD {last.Index} ends at 0x{end:x} beyond the region (0x{size:x} bytes)",
                     Rejected(elf, size));
        Assert.Equal($"kexec: capture image rejected: PT_LOAD {last.Index} ends at 0x{end:x} beyond the region (0x{size:x} bytes)",
                     Rejected(elf, size + 0x2000, tail: 0x2000));
        Assert.Equal("kexec: capture image rejected: the reserved tail 0x5000 exceeds the region (0x4000 bytes)", Rejected(elf, 0x4000, tail: 0x5000));

        // Exactly at the end fits.
        var region = Region((int)end + 0x1000);
        Loaded(elf, region, Base, 0x1000);
    }

    [Fact]
    public void SegmentChecks_FilesizeOverlapAlignment()
    {
        var loads = KexecElf.Loads(KexecPie.Standard.Bytes);
        var elf = KexecPie.Standard.Copy();
        int ph = KexecElf.ProgramHeaderOffset(elf, loads[0].Index);
        KexecElf.Put64(elf, ph + 32, loads[0].Memsz + 1);
        Assert.Equal($"kexec: capture image rejected: PT_LOAD {loads[0].Index}: p_filesz 0x{loads[0].Memsz + 1:x} exceeds p_memsz 0x{loads[0].Memsz:x}", Rejected(elf));

        elf = KexecPie.Standard.Copy();
        KexecElf.Put64(elf, KexecElf.ProgramHeaderOffset(elf, loads[1].Index) + 16, loads[0].Vaddr + 0x100);
        Assert.Equal($"kexec: capture image rejected: PT_LOAD {loads[1].Index} overlaps PT_LOAD {loads[0].Index}", Rejected(elf));

        elf = KexecPie.Standard.Copy();
        KexecElf.Put64(elf, KexecElf.ProgramHeaderOffset(elf, loads[1].Index) + 16, ulong.MaxValue - 4);
        Assert.Equal($"kexec: capture image rejected: PT_LOAD {loads[1].Index} at 0x{ulong.MaxValue - 4:x} size 0x{loads[1].Memsz:x} wraps around", Rejected(elf));

        Assert.Equal($"kexec: capture image rejected: PT_LOAD {loads[0].Index} needs 0x{loads[0].Align:x} alignment; the region at 0x7c00800 has less",
                     Rejected(KexecPie.Standard.Bytes, regionBase: Base + 0x800));
    }

    [Fact]
    public void UnknownRelocationType_IsRefused()
    {
        var elf = KexecPie.Standard.Copy();
        var third = KexecElf.Relocations(elf)[2];
        KexecElf.Put64(elf, third.FileOffset + 8, 1);                  // R_X86_64_64 against symbol 0
        Assert.Equal($"kexec: capture image rejected: relocation 2 at 0x{third.Offset:x} has type 1 (only R_X86_64_RELATIVE and R_X86_64_NONE are supported)",
                     Rejected(elf));
        KexecElf.Put64(elf, third.FileOffset + 8, (5UL << 32) | 6);    // R_X86_64_GLOB_DAT, symbol 5
        Assert.Contains("relocation 2 at", Rejected(elf));
        Assert.Contains("has type 6 ", Rejected(elf));
    }

    [Fact]
    public void RelocationOutsideTheImage_IsRefused()
    {
        var elf = KexecPie.Standard.Copy();
        var first = KexecElf.Relocations(elf)[0];
        ulong end = KexecPie.Standard["_end"];
        KexecElf.Put64(elf, first.FileOffset, end - 4);                // 8 bytes from 4 before the end
        Assert.Equal($"kexec: capture image rejected: relocation 0 at 0x{end - 4:x} is outside the loaded image", Rejected(elf));
        KexecElf.Put64(elf, first.FileOffset, 0x1008);                 // the gap between text and data
        Assert.Contains("relocation 0 at 0x1008 is outside the loaded image", Rejected(elf));
    }

    [Fact]
    public void DynamicSection_UnsupportedOrInconsistent_IsRefused()
    {
        var elf = KexecPie.Standard.Copy();
        KexecElf.Put64(elf, KexecElf.DynamicEntry(elf, 0x15), 1);      // DT_DEBUG becomes DT_NEEDED
        Assert.Equal("kexec: capture image rejected: unsupported dynamic entry DT_NEEDED (value 0x0)", Rejected(elf));

        elf = KexecPie.Standard.Copy();
        KexecElf.Put64(elf, KexecElf.DynamicEntry(elf, 9) + 8, 16);     // DT_RELAENT 16
        Assert.Equal("kexec: capture image rejected: DT_RELAENT 16 with DT_RELASZ 0x60 (24-byte entries expected)", Rejected(elf));

        elf = KexecPie.Standard.Copy();
        KexecElf.Put64(elf, KexecElf.DynamicEntry(elf, 8) + 8, 0x61);   // DT_RELASZ not a multiple of 24
        Assert.Contains("DT_RELAENT 24 with DT_RELASZ 0x61", Rejected(elf));

        elf = KexecPie.Standard.Copy();
        KexecElf.Put64(elf, KexecElf.DynamicEntry(elf, 7), 0x15);       // DT_RELA gone: only DT_RELASZ left
        Assert.Equal("kexec: capture image rejected: DT_RELA 0x0 and DT_RELASZ 0x60 must come together", Rejected(elf));

        elf = KexecPie.Standard.Copy();
        KexecElf.Put64(elf, KexecElf.DynamicEntry(elf, 7) + 8, 0x1000); // DT_RELA pointing at the text
        Assert.Equal("kexec: capture image rejected: relocations at 0x1000 size 0x60 are not inside one PT_LOAD's file bytes", Rejected(elf));

        elf = KexecPie.Standard.Copy();
        var dynamic = KexecElf.ProgramHeaders(elf).Single(p => p.Type == 2);
        KexecElf.Put64(elf, KexecElf.ProgramHeaderOffset(elf, dynamic.Index) + 32, (ulong)elf.Length);
        Assert.Equal($"kexec: capture image rejected: PT_DYNAMIC {dynamic.Index} at offset 0x{dynamic.Offset:x} size 0x{elf.Length:x} is outside the file", Rejected(elf));
    }

    [Fact]
    public void SourceOverlappingTheRegion_IsRefused()
    {
        var pie = KexecPie.Standard.Bytes;
        var memory = new byte[RegionSize + pie.Length];
        pie.CopyTo(memory, 0);
        var region = memory.AsMemory(0x1000, RegionSize);              // starts inside the module's bytes
        var before = (byte[])memory.Clone();
        Assert.False(KexecImage.Load(memory.AsSpan(0, pie.Length), region.Span, Base, 0, out var image));
        Assert.Equal(KexecErrorCode.SourceOverlapsRegion, image.Error.Code);
        Assert.Equal(before, memory);
    }

    [Fact]
    public void RandomGarbage_AndMutatedPies_NeverThrowNorWriteOutsideTheRegion()
    {
        var random = new Random(0x6B65_7865);
        var good = KexecPie.Standard.Bytes;
        const int Guard = 4096, Size = 0x8000;
        var memory = new byte[Guard + Size + Guard];
        int loadedCount = 0, rejected = 0;
        var codes = new HashSet<KexecErrorCode>();
        int dynamicAt = KexecElf.FileOffset(good, KexecPie.Standard["_DYNAMIC"]), relaAt = KexecElf.Relocations(good)[0].FileOffset;
        for (int n = 0; n < 4000; n++)
        {
            byte[] elf;
            if (n % 4 == 0)
            {
                elf = new byte[random.Next(0, 600)];
                random.NextBytes(elf);
                if (elf.Length >= 4 && n % 8 == 0) { elf[0] = 0x7F; elf[1] = (byte)'E'; elf[2] = (byte)'L'; elf[3] = (byte)'F'; }
            }
            else
            {
                elf = (byte[])good.Clone();
                // Mutate the parts that steer the loader: the headers, the dynamic section, the relocations.
                for (int k = random.Next(1, 6); k > 0; k--)
                {
                    int at = random.Next(3) switch
                    {
                        0 => random.Next(0, 64 + 56 * 6),
                        1 => dynamicAt + random.Next(0, 0x110),
                        _ => relaAt + random.Next(0, 96),
                    };
                    elf[at] = random.Next(4) == 0 ? (byte)0xFF : (byte)random.Next(256);
                }
                if (n % 16 == 1) elf = elf[..random.Next(0, elf.Length)];
            }
            memory.AsSpan().Fill(0xA5);
            var region = memory.AsSpan(Guard, Size);
            bool ok = KexecImage.Load(elf, region, Base, (ulong)random.Next(0, 0x100), out var image);
            Assert.True(memory.AsSpan(0, Guard).IndexOfAnyExcept((byte)0xA5) < 0, $"iteration {n}: wrote below the region");
            Assert.True(memory.AsSpan(Guard + Size, Guard).IndexOfAnyExcept((byte)0xA5) < 0, $"iteration {n}: wrote above the region");
            LogLine l = default;
            image.Error.Describe(ref l);
            Assert.False(l.Truncated);
            if (ok)
            {
                loadedCount++;
                Assert.InRange(image.SegmentCount, 1, KexecImage.MaxSegments);
                for (int i = 0; i < image.SegmentCount; i++)
                    Assert.True(image.Segment(i).Start >= Base && image.Segment(i).End <= Base + Size);
                Assert.True(image.Verify(region, new byte[32]), $"iteration {n}: a loaded image must verify");
            }
            else
            {
                rejected++;
                codes.Add(image.Error.Code);
                Assert.True(memory.AsSpan(Guard, Size).IndexOfAnyExcept((byte)0xA5) < 0, $"iteration {n}: rejected ({image.Error.Code}) but wrote");
            }
        }
        Assert.True(loadedCount > 100 && rejected > 1000, $"{loadedCount} loaded, {rejected} rejected: the fuzz is not exercising both paths");
        Assert.True(codes.Count >= 10, $"only {codes.Count} distinct reasons: {string.Join(", ", codes)}");
    }
}
