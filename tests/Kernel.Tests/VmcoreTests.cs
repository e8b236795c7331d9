// The dump file (kernel/dump/Vmcore.cs): the /proc/vmcore merge of a fake crashed machine, read back by
// our reader, by binutils' readelf and by gdb; and the reader fed truncated, foreign and mutated files.
using System.Buffers.Binary;
using System.Diagnostics;
using System.Text;

namespace Kernel.Tests;

public class VmcoreTests
{
    static string Reason(ElfCoreError e) => DumpMachine.Describe(e);

    static VmcoreFile Open(byte[] file)
    {
        Assert.True(VmcoreFile.Open(file, out var core, out var error), Reason(error));
        return core;
    }

    // ---- Layout and merge -------------------------------------------------------------------------

    [Fact]
    public void Layout_NotesRightAfterTheHeaders_LoadsFromTheNextPage_Consecutive()
    {
        LoadSegment[] loads = [new(0x1000, 0x1000, 0x9E000), new(0x10_0000, 0x10_0000, 0x123)];
        Assert.True(Vmcore.ComputeLayout(1000, loads, out var layout, out _));
        Assert.Equal(3, layout.ProgramHeaders);
        Assert.Equal(64UL + 3 * 56, layout.NotesOffset);
        Assert.Equal(1000UL, layout.NotesSize);
        Assert.Equal(0x1000UL, layout.LoadsOffset);
        Assert.Equal(0x1000UL + 0x9E000 + 0x123, layout.FileSize);
        Assert.Equal(0x1000UL, Vmcore.LoadOffset(layout, loads, 0));
        Assert.Equal(0x9F000UL, Vmcore.LoadOffset(layout, loads, 1));

        Assert.True(Vmcore.ComputeLayout(0x1000 - 232, loads, out layout, out _));
        Assert.Equal(0x1000UL, layout.LoadsOffset);             // notes end exactly on the page
        Assert.True(Vmcore.ComputeLayout(0x1000 - 231, loads, out layout, out _));
        Assert.Equal(0x2000UL, layout.LoadsOffset);
        Assert.True(Vmcore.ComputeLayout(0, default, out layout, out _));
        Assert.Equal(0x1000UL, layout.FileSize);
    }

    [Fact]
    public void Layout_ThatWouldOverflow_IsRefused()
    {
        Assert.False(Vmcore.ComputeLayout(0, [new(0, 0, ulong.MaxValue - 0x100), new(0, 0, 0x1000)], out _, out var error));
        Assert.Equal(ElfCoreErrorCode.LayoutOverflow, error.Code);
        Assert.False(Vmcore.ComputeLayout(0x8000_0000, default, out _, out error));
        Assert.Equal(ElfCoreErrorCode.LayoutOverflow, error.Code);
    }

    [Fact]
    public void Merge_OnePtNoteFirst_AllNotesWithoutTerminators_ThenLoadsAtTheirFileOffsets()
    {
        using var m = new DumpMachine();
        var file = m.Vmcore(m.Crash(4, cpu => cpu != 2));
        var core = Open(file);

        Assert.Equal(4, core.ProgramHeaderCount);
        var note = core.ProgramHeader(0);
        Assert.Equal(Elf.PtNote, note.Type);
        Assert.Equal(64UL + 4 * 56, note.Offset);
        int vmcoreinfoNote = ElfNote.SizeOf(10, DumpMachine.VmcoreinfoText().Length);
        Assert.Equal((ulong)(3 * 356 + vmcoreinfoNote), note.FileSize);
        Assert.Equal(note.FileSize, note.MemSize);
        Assert.Equal(0UL, note.PhysAddr);

        // The merged notes are the three CPUs' notes and VMCOREINFO, byte for byte.
        var expected = new List<byte>();
        foreach (int cpu in new[] { 0, 1, 3 }) expected.AddRange(m.Memory.At(DumpMachine.NoteAddress(cpu), 356).ToArray());
        expected.AddRange(m.Memory.At(DumpMachine.VmcoreinfoAddress, vmcoreinfoNote).ToArray());
        Assert.Equal(expected.ToArray(), core.Notes.ToArray());

        ulong offset = 0x1000;
        for (int i = 0; i < 3; i++)
        {
            Assert.True(core.Load(i, out var load));
            Assert.Equal(Elf.PtLoad, load.Type);
            Assert.Equal(7u, load.Flags);
            Assert.Equal(offset, load.Offset);
            Assert.Equal(DumpMachine.Loads[i].PhysAddr, load.PhysAddr);
            Assert.Equal(DumpMachine.Loads[i].VirtAddr, load.VirtAddr);
            Assert.Equal(DumpMachine.Loads[i].Size, load.FileSize);
            Assert.Equal(load.FileSize, load.MemSize);
            offset += load.FileSize;
        }
        Assert.False(core.Load(3, out _));
        Assert.Equal((ulong)file.Length, offset);
        Assert.All(file[(int)(note.Offset + note.FileSize)..0x1000], b => Assert.Equal(0, b));
    }

    [Fact]
    public void Merge_LoadsOfOddSizes_FollowEachOtherWithoutPadding()
    {
        using var m = new DumpMachine();
        LoadSegment[] loads = [new(0x1000, 0x1000, 0x123), new(0x10_0000, 0x10_0000, 0x1001), new(0x20_3000, 0x20_3000, 0x10)];
        var file = m.Vmcore(m.Crash(1, loads: loads));
        var core = Open(file);
        ulong[] offsets = [0x1000, 0x1123, 0x2124];
        for (int i = 0; i < 3; i++)
        {
            Assert.True(core.Load(i, out var load));
            Assert.Equal(offsets[i], load.Offset);
        }
        Assert.Equal(0x2134, file.Length);
        var buffer = new byte[8];
        Assert.Equal(8, core.ReadPhysical(0x20_3000, buffer));
        Assert.Equal(DumpMachine.PageMarker(0x20_3000), BinaryPrimitives.ReadUInt64LittleEndian(buffer));
        Assert.Equal(1, core.ReadPhysical(0x10_1000, buffer));
        Assert.Equal(DumpMachine.PageMarker(0x10_1000) & 0xFF, buffer[0]);
    }

    [Fact]
    public void Reader_GivesEachCpusRegistersAndVmcoreinfo()
    {
        using var m = new DumpMachine();
        var file = m.Vmcore(m.Crash(4, cpu => cpu != 2, DumpMachine.VmcoreinfoText("CRASHTIME=1700000000\n")));
        var core = Open(file);
        Assert.Equal(3, core.PrStatusCount);
        int[] cpus = [0, 1, 3];
        for (int n = 0; n < 3; n++)
        {
            Assert.True(core.PrStatus(n, out int pid, out var regs));
            Assert.Equal(cpus[n] + 1, pid);
            var want = DumpMachine.RegsOf(cpus[n]);
            for (int r = 0; r < 27; r++) Assert.Equal(want[(UserReg)r], regs[(UserReg)r]);
        }
        Assert.False(core.PrStatus(3, out _, out _));
        Assert.True(core.VmcoreinfoText(out var text));
        Assert.True(Vmcoreinfo.FindDecimal(text, "CRASHTIME", out long t));
        Assert.Equal(1700000000, t);
        Assert.True(Vmcoreinfo.FindSymbol(text, "kmsg", out ulong kmsg));
        Assert.Equal(0x10F000UL, kmsg);
    }

    [Fact]
    public void Reader_ReadsMemoryByPhysicalAndVirtualAddress_AcrossLoads_StoppingAtHoles()
    {
        using var m = new DumpMachine();
        // Non-identity virtual addresses, to tell the two lookups apart.
        LoadSegment[] loads = [new(0x1000, 0xFFFF_8880_0000_1000, 0x9E000), new(0x10_0000, 0xFFFF_8880_0010_0000, 0x30_0000)];
        var core = Open(m.Vmcore(m.Crash(1, loads: loads)));
        var buffer = new byte[16];

        Assert.Equal(16, core.ReadPhysical(0x20_3000, buffer));
        Assert.Equal(DumpMachine.PageMarker(0x20_3000), BinaryPrimitives.ReadUInt64LittleEndian(buffer));
        Assert.Equal(16, core.ReadVirtual(0xFFFF_8880_0020_3000, buffer));
        Assert.Equal(DumpMachine.PageMarker(0x20_3000), BinaryPrimitives.ReadUInt64LittleEndian(buffer));
        Assert.Equal(0, core.ReadVirtual(0x20_3000, buffer));

        Assert.Equal(8, core.ReadPhysical(0x9EFF8, buffer));      // runs into the hole at 0x9f000
        Assert.Equal(0, core.ReadPhysical(0x9F000, buffer));
        Assert.Equal(0, core.ReadPhysical(0x40_0000, buffer));    // crash-kernel region: not in the dump
        Assert.Equal(16, core.ReadPhysical(0x3F_FFF0, buffer));   // the last bytes of a load
        Assert.Equal(0, core.ReadPhysical(ulong.MaxValue, buffer));

        // The CPU's crash note, seen in memory as the first kernel left it.
        var note = new byte[CrashNote.BufferSize];
        Assert.Equal(note.Length, core.ReadPhysical(DumpMachine.NoteAddress(0), note));
        Assert.True(CrashNote.Read(note, out int pid, out _));
        Assert.Equal(1, pid);
    }

    [Fact]
    public void Reader_LoadWithMemszBeyondFilesz_ReadsZerosThere()
    {
        var file = TinyVmcore();
        BinaryPrimitives.WriteUInt64LittleEndian(file.AsSpan(64 + 56 + 40), 0x3000);   // p_memsz of the PT_LOAD
        file.AsSpan(0x2FF0, 16).Fill(0xAB);
        var core = Open(file);
        var buffer = new byte[32];
        Array.Fill(buffer, (byte)0xEE);
        Assert.Equal(32, core.ReadPhysical(0x2FF0, buffer));      // the last 16 file bytes, then 16 of p_memsz only
        Assert.All(buffer[..16], b => Assert.Equal(0xAB, b));
        Assert.All(buffer[16..], b => Assert.Equal(0, b));
        Assert.Equal(16, core.ReadPhysical(0x3FF0, new byte[64]));
    }

    [Fact]
    public void WritePrefix_RefusesATooSmallBufferAndNotesThatChangedSinceValidation()
    {
        using var m = new DumpMachine();
        var header = m.Crash(2);
        Assert.True(m.ReadHeader(header, out var notes, out var loads, out var info, out _));
        Assert.True(Vmcore.ComputeLayout(info.NotesSize, loads, out var layout, out _));
        Assert.False(Vmcore.WritePrefix(new byte[layout.LoadsOffset - 1], layout, notes, loads, m.Window, out var error));
        Assert.Equal("buffer too small: 0x1000 bytes needed, 0xfff available", Reason(error));

        BinaryPrimitives.WriteUInt32LittleEndian(m.Memory.At(DumpMachine.NoteAddress(1) + 4, 4), 0x400);  // descsz scribbled
        Assert.False(Vmcore.WritePrefix(new byte[layout.LoadsOffset], layout, notes, loads, m.Window, out error));
        Assert.Equal("note buffer 1 changed after it was validated", Reason(error));

        var wrong = layout;
        wrong.NotesSize++;
        Assert.False(Vmcore.WritePrefix(new byte[layout.LoadsOffset], wrong, notes, loads, m.Window, out error));
        Assert.Equal(ElfCoreErrorCode.LayoutOverflow, error.Code);
    }

    // ---- Real tools -----------------------------------------------------------------------------

    static (int Exit, string Out, string Err) Run(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["LC_ALL"] = "C";
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {file}");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        Assert.True(p.WaitForExit(60_000), $"{file} did not finish in 60 s");
        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    sealed class TempDir : IDisposable
    {
        public readonly string Path = Directory.CreateTempSubdirectory("vmcore-test-").FullName;
        public string this[string name] => System.IO.Path.Combine(Path, name);
        public void Dispose() => Directory.Delete(Path, true);
    }

    [Fact]
    public void Readelf_ListsOneNtPrstatusPerCpuAndVmcoreinfo_AndTheLoads()
    {
        using var m = new DumpMachine();
        using var dir = new TempDir();
        File.WriteAllBytes(dir["vmcore"], m.Vmcore(m.Crash(4, cpu => cpu != 2)));

        var notes = Run("readelf", "-n", "-W", dir["vmcore"]);
        Assert.True(notes.Exit == 0, notes.Err);
        Assert.Equal("", notes.Err);
        var lines = notes.Out.Split('\n').Select(l => l.Trim()).ToList();
        Assert.Equal(3, lines.Count(l => l.StartsWith("CORE") && l.Contains("0x00000150") && l.Contains("NT_PRSTATUS")));
        Assert.Single(lines, l => l.StartsWith("VMCOREINFO") && l.Contains("Unknown note type: (0x00000000)"));
        // readelf prints the VMCOREINFO desc as hex (on the note's line with -W); its text must be ours.
        string data = lines.Single(l => l.Contains("description data:"));
        string hex = data[(data.IndexOf("description data:") + "description data:".Length)..].Replace(" ", "");
        Assert.Equal(DumpMachine.VmcoreinfoText(), Encoding.ASCII.GetString(Convert.FromHexString(hex)));

        var segments = Run("readelf", "-l", "-W", dir["vmcore"]);
        Assert.True(segments.Exit == 0, segments.Err);
        Assert.Equal("", segments.Err);
        Assert.Contains("Elf file type is CORE (Core file)", segments.Out);
        var rows = segments.Out.Split('\n').Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)).Where(f => f.Length > 6).ToList();
        var note = rows.Single(f => f[0] == "NOTE");
        Assert.Equal("0x000120", note[1]);
        var loads = rows.Where(f => f[0] == "LOAD").ToList();
        Assert.Equal(3, loads.Count);
        Assert.Equal(["0x001000", "0x09f000", "0x39f000"], loads.Select(f => f[1]));
        Assert.Equal(["0x0000000000100000", "0x0000000000600000"], loads.Skip(1).Select(f => f[3]));   // PhysAddr
        Assert.Equal(["0x300000", "0x200000"], loads.Skip(1).Select(f => f[4]));
        Assert.All(loads, f => Assert.Equal("RWE", f[6]));
    }

    [Fact]
    public void Gdb_ShowsOneThreadPerCpuNote_WithItsPidAndRegisters_AndReadsMemory()
    {
        using var m = new DumpMachine();
        using var dir = new TempDir();
        File.WriteAllBytes(dir["vmcore"], m.Vmcore(m.Crash(4, cpu => cpu != 2)));
        // Any static x86-64 ELF will do as the executable: a one-instruction one.
        File.WriteAllText(dir["t.asm"], "global _start\nsection .text\n_start:\n    hlt\n");
        var nasm = Run("nasm", "-f", "elf64", "-o", dir["t.o"], dir["t.asm"]);
        Assert.True(nasm.Exit == 0, nasm.Err);
        var ld = Run("ld", "-static", "-o", dir["t.elf"], dir["t.o"]);
        Assert.True(ld.Exit == 0, ld.Err);

        var gdb = Run("gdb", "-batch", "-nx", "-ex", "info threads", "-ex", "thread apply all info registers rip rsp rax",
            "-ex", "x/1gx 0x203000", dir["t.elf"], dir["vmcore"]);
        Assert.True(gdb.Exit == 0, gdb.Out + gdb.Err);
        string output = gdb.Out;
        Assert.Contains("* 1    LWP 1 ", output);
        Assert.Contains("  2    LWP 2 ", output);
        Assert.Contains("  3    LWP 4 ", output);
        Assert.DoesNotContain("LWP 3", output);
        Assert.DoesNotContain("  4    ", output);
        foreach (int cpu in new[] { 0, 1, 3 })
        {
            var regs = DumpMachine.RegsOf(cpu);
            Assert.Contains($"Thread {(cpu == 3 ? 3 : cpu + 1)} (LWP {cpu + 1}):", output);
            Assert.Contains($"0x{regs[UserReg.Rip]:x16} in ?? ()", output);
            Assert.Contains($"rsp            0x{regs[UserReg.Rsp]:x}", output);
            Assert.Contains($"rax            0x{regs[UserReg.Rax]:x}", output);
        }
        Assert.Contains($"0x203000:\t0x{DumpMachine.PageMarker(0x203000):x16}", output);
    }

    // ---- Untrusted files --------------------------------------------------------------------------

    /// <summary>A small but complete dump: one CPU, VMCOREINFO, one 8 KiB PT_LOAD.</summary>
    static byte[] TinyVmcore()
    {
        using var m = new DumpMachine();
        return m.Vmcore(m.Crash(1, loads: [new(0x1000, 0x1000, 0x2000)]));
    }

    static ElfCoreError Refuse(byte[] file)
    {
        Assert.False(VmcoreFile.Open(file, out _, out var error));
        return error;
    }

    [Fact]
    public void Open_NotAnElfFile()
    {
        Assert.Equal("not an ELF file (0 bytes, no 7f 45 4c 46 header)", Reason(Refuse([])));
        Assert.Equal("not an ELF file (5 bytes, no 7f 45 4c 46 header)", Reason(Refuse(Encoding.ASCII.GetBytes("hello"))));
        var text = Encoding.ASCII.GetBytes(new string('x', 4096));
        Assert.Equal(ElfCoreErrorCode.NotElf, Refuse(text).Code);
    }

    [Fact]
    public void Open_ForeignMachines_AreNamed()
    {
        var file = TinyVmcore();
        file[18] = 40;
        Assert.Equal("not x86-64 (e_machine 40)", Reason(Refuse(file)));
        file[18] = 183;
        Assert.Equal("not x86-64 (e_machine 183)", Reason(Refuse(file)));
        file = TinyVmcore();
        file[4] = 1;
        Assert.Equal("not ELF64 (EI_CLASS 1)", Reason(Refuse(file)));
        file = TinyVmcore();
        file[16] = 2;
        Assert.Equal("not a core file (e_type 2)", Reason(Refuse(file)));
    }

    [Fact]
    public void Open_TruncatedProgramHeaderTable_SaysWhereItEnds()
    {
        var file = TinyVmcore();
        Assert.Equal("truncated: program header table ends at 0xb0 but the file has 0xa0 bytes", Reason(Refuse(file[..0xA0])));
    }

    [Fact]
    public void Open_TruncatedSegment_SaysWhichAndWhereItEnds()
    {
        var file = TinyVmcore();
        Assert.Equal(0x3000, file.Length);
        Assert.Equal("truncated: program header 1 ends at 0x3000 but the file has 0x2fff bytes", Reason(Refuse(file[..0x2FFF])));
        Assert.Equal("truncated: program header 1 ends at 0x3000 but the file has 0x1000 bytes", Reason(Refuse(file[..0x1000])));
        // The notes end before the page boundary: a cut inside them names the PT_NOTE.
        Assert.Equal(ElfCoreErrorCode.SegmentTruncated, Refuse(file[..0x200]).Code);
        Assert.Equal(0, Refuse(file[..0x200]).Index);
    }

    [Fact]
    public void Open_SegmentOffsetsThatWrap_AreRefused()
    {
        var file = TinyVmcore();
        BinaryPrimitives.WriteUInt64LittleEndian(file.AsSpan(64 + 56 + 8), ulong.MaxValue - 0x100);
        Assert.Equal("program header 1: offset 0xfffffffffffffeff size 0x2000 wraps around", Reason(Refuse(file)));
        file = TinyVmcore();
        BinaryPrimitives.WriteUInt64LittleEndian(file.AsSpan(64 + 56 + 24), ulong.MaxValue - 0x100);
        Assert.Equal(ElfCoreErrorCode.LoadWraps, Refuse(file).Code);
    }

    [Fact]
    public void Open_EveryTruncationOfAValidFile_IsRefusedWithAReason_NeverThrows()
    {
        var file = TinyVmcore();
        for (int length = 0; length < file.Length; length++)
        {
            var error = Refuse(file[..length]);
            Assert.NotEqual(ElfCoreErrorCode.None, error.Code);
            string reason = Reason(error);
            Assert.True(reason.StartsWith("not an ELF file") || reason.StartsWith("truncated: "), reason);
        }
        Open(file);
    }

    [Theory]
    [InlineData(41)]
    [InlineData(42)]
    [InlineData(43)]
    public void Reader_Fuzz_MutatedFilesNeverThrow_AndReadsStayInside(int seed)
    {
        var valid = TinyVmcore();
        var rng = new Random(seed);
        var buffer = new byte[0x3000];
        int opened = 0;
        for (int iter = 0; iter < 3000; iter++)
        {
            var file = (byte[])valid.Clone();
            // Mutate the headers and notes (the first page), where the structure is.
            for (int k = rng.Next(1, 5); k > 0; k--)
            {
                int at = rng.Next(0x400);
                file[at] = rng.Next(3) switch { 0 => 0, 1 => 0xFF, _ => (byte)rng.Next(256) };
            }
            if (rng.Next(10) == 0) file = file[..rng.Next(file.Length)];
            bool ok = VmcoreFile.Open(file, out var core, out var error);
            Assert.NotEqual("", Reason(error));
            if (!ok) continue;
            opened++;
            // Whatever survived, every accessor stays inside the file.
            _ = core.PrStatusCount;
            core.PrStatus(0, out _, out _);
            core.VmcoreinfoText(out _);
            for (int i = 0; i < core.LoadCount; i++)
            {
                Assert.True(core.Load(i, out var load));
                Assert.True(load.Offset + load.FileSize <= (ulong)file.Length);
            }
            ulong address = rng.Next(2) == 0 ? (ulong)rng.Next(0, 0x4000) : (ulong)rng.NextInt64();
            int n = core.ReadPhysical(address, buffer.AsSpan(0, rng.Next(buffer.Length)));
            Assert.InRange(n, 0, buffer.Length);
            core.ReadVirtual(address, buffer);
        }
        Assert.InRange(opened, 300, 3000);
    }
}
