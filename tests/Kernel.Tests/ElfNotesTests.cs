// ELF notes and the x86-64 NT_PRSTATUS (kernel/dump/ElfNotes.cs): the prstatus is checked byte for byte
// against the offsets of Linux's struct elf_prstatus, the per-CPU buffer against Linux's 368-byte
// crash_notes, and the walker is fed truncated, oversized and random buffers.
using System.Buffers.Binary;
using System.Text;

namespace Kernel.Tests;

public class ElfNotesTests
{
    static readonly string[] UserRegsStructOrder =
    [
        "r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9", "r8", "rax", "rcx", "rdx", "rsi", "rdi",
        "orig_rax", "rip", "cs", "eflags", "rsp", "ss", "fs_base", "gs_base", "ds", "es", "fs", "gs",
    ];

    static PrStatusRegs Numbered(ulong seed)
    {
        var regs = new PrStatusRegs();
        for (int i = 0; i < PrStatusRegs.Count; i++) regs[(UserReg)i] = seed * 0x0101_0101_0101_0101UL + (ulong)i * 0x1_0000_0001UL;
        return regs;
    }

    static List<(string Name, uint Type, byte[] Desc, int Offset)> Walk(ReadOnlySpan<byte> buffer, out ElfNoteReader end)
    {
        var list = new List<(string, uint, byte[], int)>();
        var r = ElfNote.Read(buffer);
        while (r.MoveNext()) list.Add((Ascii.Of(r.Current.Name), r.Current.Type, r.Current.Desc.ToArray(), r.Current.Offset));
        end = r;
        return list;
    }

    [Fact]
    public void UserReg_FollowsUserRegsStructOrder()
    {
        Assert.Equal(27, Enum.GetValues<UserReg>().Length);
        for (int i = 0; i < UserRegsStructOrder.Length; i++)
            Assert.Equal(UserRegsStructOrder[i].Replace("_", ""), ((UserReg)i).ToString().ToLowerInvariant());
        Assert.Equal(16, (int)UserReg.Rip);
        Assert.Equal(19, (int)UserReg.Rsp);
        Assert.Equal(26, (int)UserReg.Gs);
    }

    [Fact]
    public void PrStatus_IsLinuxsX86_64ElfPrstatusByteForByte()
    {
        var desc = new byte[400];
        Array.Fill(desc, (byte)0xCC);
        var regs = Numbered(7);
        Assert.True(PrStatus.Write(desc, 0x0A0B0C0D, regs));

        Assert.Equal(336, PrStatus.Size);
        Assert.All(desc[..32], b => Assert.Equal(0, b));                    // siginfo, cursig, sigpend, sighold
        Assert.Equal(0x0A0B0C0Du, BinaryPrimitives.ReadUInt32LittleEndian(desc.AsSpan(32)));   // pr_pid
        Assert.All(desc[36..112], b => Assert.Equal(0, b));                 // ppid, pgrp, sid, four timevals
        for (int i = 0; i < 27; i++)
            Assert.Equal(regs[(UserReg)i], BinaryPrimitives.ReadUInt64LittleEndian(desc.AsSpan(112 + 8 * i)));
        Assert.Equal(328, 112 + 27 * 8);
        Assert.All(desc[328..336], b => Assert.Equal(0, b));                // pr_fpvalid and padding
        Assert.All(desc[336..], b => Assert.Equal(0xCC, b));                // nothing past the struct
    }

    [Fact]
    public void PrStatus_RipAndRspLandAtUserRegsStructOffsets()
    {
        var regs = new PrStatusRegs();
        regs[UserReg.Rip] = 0xFFFF_FFFF_8100_1234;
        regs[UserReg.Rsp] = 0xFFFF_C900_0000_7F00;
        regs[UserReg.R15] = 0x15;
        regs[UserReg.Gs] = 0x2B;
        var desc = new byte[PrStatus.Size];
        Assert.True(PrStatus.Write(desc, 1, regs));
        Assert.Equal(0xFFFF_FFFF_8100_1234UL, BinaryPrimitives.ReadUInt64LittleEndian(desc.AsSpan(112 + 16 * 8)));
        Assert.Equal(0xFFFF_C900_0000_7F00UL, BinaryPrimitives.ReadUInt64LittleEndian(desc.AsSpan(112 + 19 * 8)));
        Assert.Equal(0x15UL, BinaryPrimitives.ReadUInt64LittleEndian(desc.AsSpan(112)));
        Assert.Equal(0x2BUL, BinaryPrimitives.ReadUInt64LittleEndian(desc.AsSpan(320)));
    }

    [Fact]
    public void PrStatusRegs_IndexOutsideTheRegisters_ReadsZeroAndIgnoresWrites()
    {
        var regs = Numbered(1);
        regs[(UserReg)27] = 99;
        regs[(UserReg)(-1)] = 99;
        Assert.Equal(0UL, regs[(UserReg)27]);
        Assert.Equal(0UL, regs[(UserReg)int.MaxValue]);
        Assert.Equal(Numbered(1)[UserReg.Gs], regs[UserReg.Gs]);
    }

    [Fact]
    public void PrStatus_WriteIntoTooSmallDesc_Fails_ReadOfWrongSize_Fails()
    {
        Assert.False(PrStatus.Write(new byte[335], 1, default));
        Assert.False(PrStatus.Read(new byte[335], out _, out _));
        Assert.False(PrStatus.Read(new byte[337], out _, out _));   // gdb knows no other x86-64 size
        Assert.True(PrStatus.Read(new byte[336], out int pid, out _));
        Assert.Equal(0, pid);
    }

    [Fact]
    public void CoreNote_Is356Bytes_NamedCoreWithNtPrStatus()
    {
        var buffer = new byte[CrashNote.BufferSize];
        Assert.True(CrashNote.Write(buffer, 3, Numbered(3)));
        Assert.Equal(356, CrashNote.NoteSize);
        Assert.Equal(5u, BinaryPrimitives.ReadUInt32LittleEndian(buffer));          // "CORE" and its NUL
        Assert.Equal(336u, BinaryPrimitives.ReadUInt32LittleEndian(buffer.AsSpan(4)));
        Assert.Equal(1u, BinaryPrimitives.ReadUInt32LittleEndian(buffer.AsSpan(8)));
        Assert.Equal("CORE\0\0\0\0", Encoding.ASCII.GetString(buffer, 12, 8));
        Assert.Equal(3u, BinaryPrimitives.ReadUInt32LittleEndian(buffer.AsSpan(20 + 32)));
        Assert.Equal(Numbered(3)[UserReg.Rip], BinaryPrimitives.ReadUInt64LittleEndian(buffer.AsSpan(20 + 112 + 16 * 8)));
    }

    [Fact]
    public void CrashNoteBuffer_Is368Bytes_NoteThenAllZeroTerminator_NothingWrittenPast()
    {
        var buffer = new byte[CrashNote.BufferSize + 16];
        Array.Fill(buffer, (byte)0xEE);
        Assert.True(CrashNote.Write(buffer, 1, Numbered(1)));
        Assert.Equal(368, CrashNote.BufferSize);
        Assert.All(buffer[356..368], b => Assert.Equal(0, b));
        Assert.All(buffer[368..], b => Assert.Equal(0xEE, b));
        Assert.False(CrashNote.Write(new byte[367], 1, default));
    }

    [Fact]
    public void CrashNote_RoundTrip_GivesPidAndEveryRegister()
    {
        var buffer = new byte[CrashNote.BufferSize];
        var regs = Numbered(9);
        Assert.True(CrashNote.Write(buffer, 42, regs));
        Assert.True(CrashNote.Read(buffer, out int pid, out var back));
        Assert.Equal(42, pid);
        for (int i = 0; i < 27; i++) Assert.Equal(regs[(UserReg)i], back[(UserReg)i]);
    }

    [Fact]
    public void CrashNote_OnlyTheTerminator_MeansNoNote()
    {
        var buffer = new byte[CrashNote.BufferSize];
        Assert.True(CrashNote.Write(buffer, 5, Numbered(5)));
        CrashNote.Clear(buffer);
        Assert.All(buffer, b => Assert.Equal(0, b));
        Assert.False(CrashNote.Read(buffer, out int pid, out _));
        Assert.Equal(0, pid);
        var walk = Walk(buffer, out var end);
        Assert.Empty(walk);
        Assert.True(end.Terminated);
        Assert.Equal(0, end.UsedSize);
    }

    [Fact]
    public void CrashNote_WithAnotherNoteOnly_IsNoNote()
    {
        var buffer = new byte[CrashNote.BufferSize];
        Assert.True(ElfNote.Write(buffer, "CORE", 2, new byte[16]) > 0);   // NT_PRFPREG, not NT_PRSTATUS
        Assert.False(CrashNote.Read(buffer, out _, out _));
        buffer.AsSpan().Clear();
        Assert.True(ElfNote.Write(buffer, "LINUX", 1, new byte[336]) > 0);
        Assert.False(CrashNote.Read(buffer, out _, out _));
    }

    [Theory]
    [InlineData("A", 0)]
    [InlineData("CORE", 1)]
    [InlineData("ABC", 3)]       // "ABC\0" is exactly 4: no name padding
    [InlineData("VMCOREINFO", 5)]
    [InlineData("LONGERNAME12", 7)]
    public void Note_PadsNameAndDescToFourWithZeros(string name, int descLength)
    {
        var buffer = new byte[128];
        Array.Fill(buffer, (byte)0xAA);
        var desc = Enumerable.Range(1, descLength).Select(i => (byte)i).ToArray();
        int size = ElfNote.Write(buffer, name, 0x1234, desc);
        int nameField = (name.Length + 1 + 3) & ~3, descField = (descLength + 3) & ~3;
        Assert.Equal(12 + nameField + descField, size);
        Assert.Equal(size, ElfNote.SizeOf(name.Length, descLength));
        Assert.Equal((uint)name.Length + 1, BinaryPrimitives.ReadUInt32LittleEndian(buffer));
        Assert.Equal((uint)descLength, BinaryPrimitives.ReadUInt32LittleEndian(buffer.AsSpan(4)));
        Assert.Equal(0x1234u, BinaryPrimitives.ReadUInt32LittleEndian(buffer.AsSpan(8)));
        Assert.Equal(name, Encoding.ASCII.GetString(buffer, 12, name.Length));
        Assert.All(buffer[(12 + name.Length)..(12 + nameField)], b => Assert.Equal(0, b));
        Assert.Equal(desc, buffer[(12 + nameField)..(12 + nameField + descLength)]);
        Assert.All(buffer[(12 + nameField + descLength)..size], b => Assert.Equal(0, b));
        Assert.All(buffer[size..], b => Assert.Equal(0xAA, b));
    }

    [Fact]
    public void NoteWriter_RefusesWhatDoesNotFitOrIsNotAName()
    {
        Assert.Equal(0, ElfNote.Write(new byte[355], "CORE", 1, new byte[336]));
        Assert.Equal(356, ElfNote.Write(new byte[356], "CORE", 1, new byte[336]));
        Assert.Equal(0, ElfNote.Write(new byte[64], "", 1, default));
        Assert.Equal(0, ElfNote.Write(new byte[64], "CO RE", 1, default));
        Assert.Equal(0, ElfNote.Write(new byte[64], "CORE\n", 1, default));
        Assert.Equal(-1, ElfNote.Begin(new byte[64], "CORE", 1, -1));
        Assert.Equal(0, ElfNote.WriteTerminator(new byte[11]));
        Assert.Equal(12, ElfNote.WriteTerminator(new byte[12]));
    }

    [Fact]
    public void NoteBuffer_RoundTrip_WalksEveryNoteToTheTerminatorAndNotBeyond()
    {
        var buffer = new byte[1024];
        int at = 0;
        at += ElfNote.Write(buffer.AsSpan(at), "CORE", 1, new byte[336]);
        at += ElfNote.Write(buffer.AsSpan(at), "VMCOREINFO", 0, "PAGESIZE=4096\n"u8);
        at += ElfNote.Write(buffer.AsSpan(at), "X", 77, default);
        int used = at;
        at += ElfNote.WriteTerminator(buffer.AsSpan(at));
        ElfNote.Write(buffer.AsSpan(at), "AFTER", 1, new byte[8]);     // stale bytes past the terminator

        var notes = Walk(buffer, out var end);
        Assert.Equal(["CORE", "VMCOREINFO", "X"], notes.Select(n => n.Name));
        Assert.Equal([1u, 0u, 77u], notes.Select(n => n.Type));
        Assert.Equal("PAGESIZE=4096\n", Encoding.ASCII.GetString(notes[1].Desc));
        Assert.Equal([0, 356, 356 + 40], notes.Select(n => n.Offset));
        Assert.Empty(notes[2].Desc);
        Assert.True(end.Terminated);
        Assert.False(end.Corrupt);
        Assert.Equal(used, end.UsedSize);
        Assert.True(ElfNote.Find(buffer, "X", 77, out var x));
        Assert.Equal(356 + 40, x.Offset);
        Assert.False(ElfNote.Find(buffer, "AFTER", 1, out _));
        Assert.False(ElfNote.Find(buffer, "CORE", 2, out _));
    }

    [Fact]
    public void NoteBuffer_WithoutTerminator_EndsAtTheBufferEnd_AsAMergedPtNoteDoes()
    {
        var buffer = new byte[356 * 2];
        ElfNote.Write(buffer, "CORE", 1, new byte[336]);
        ElfNote.Write(buffer.AsSpan(356), "CORE", 1, new byte[336]);
        var notes = Walk(buffer, out var end);
        Assert.Equal(2, notes.Count);
        Assert.False(end.Terminated);
        Assert.False(end.Corrupt);
        Assert.Equal(712, end.UsedSize);
    }

    [Fact]
    public void NoteReader_NoteClaimingMoreThanRemains_StopsWithAReason()
    {
        var buffer = new byte[CrashNote.BufferSize];
        ElfNote.Write(buffer, "CORE", 1, new byte[336]);
        BinaryPrimitives.WriteUInt32LittleEndian(buffer.AsSpan(4), 0x1000);   // descsz scribbled
        var notes = Walk(buffer, out var end);
        Assert.Empty(notes);
        Assert.True(end.Corrupt);
        Assert.Equal(0, end.UsedSize);
        var l = new LogLine(0, 0);
        end.DescribeCorruption(ref l);
        Assert.Equal("note at offset 0x0 needs 0x1014 bytes, 0x170 remain", Ascii.Of(l));
    }

    [Theory]
    [InlineData(0xFFFF_FFFFu, 0u)]
    [InlineData(5u, 0xFFFF_FFFFu)]
    [InlineData(0xFFFF_FFFDu, 0xFFFF_FFFDu)]   // padded sum exceeds 2^32
    [InlineData(0x7FFF_FFFFu, 0x7FFF_FFFFu)]
    public void NoteReader_HugeSizes_DoNotWrapIntoAValidNote(uint namesz, uint descsz)
    {
        var buffer = new byte[64];
        BinaryPrimitives.WriteUInt32LittleEndian(buffer, namesz);
        BinaryPrimitives.WriteUInt32LittleEndian(buffer.AsSpan(4), descsz);
        Assert.Empty(Walk(buffer, out var end));
        Assert.True(end.Corrupt);
    }

    [Fact]
    public void NoteReader_StrayBytesShorterThanAHeader_AreCorrupt()
    {
        var buffer = new byte[356 + 5];
        ElfNote.Write(buffer, "CORE", 1, new byte[336]);
        var notes = Walk(buffer, out var end);
        Assert.Single(notes);
        Assert.True(end.Corrupt);
        Assert.Equal(356, end.UsedSize);
    }

    [Fact]
    public void NoteReader_NameWithoutNul_IsTakenWhole()
    {
        var buffer = new byte[32];
        BinaryPrimitives.WriteUInt32LittleEndian(buffer, 4);
        BinaryPrimitives.WriteUInt32LittleEndian(buffer.AsSpan(8), 1);
        "CORE"u8.CopyTo(buffer.AsSpan(12));
        var notes = Walk(buffer.AsSpan(0, 16), out _);
        Assert.Equal("CORE", Assert.Single(notes).Name);
    }

    // A walker written from the gABI text alone, to compare against.
    static (int Count, int Used, bool Terminated, bool Corrupt) ReferenceWalk(byte[] b)
    {
        int pos = 0, count = 0;
        while (true)
        {
            if (pos == b.Length) return (count, pos, false, false);
            if (b.Length - pos < 12) return (count, pos, false, true);
            long namesz = BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(pos));
            long descsz = BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(pos + 4));
            if (namesz == 0) return (count, pos, true, false);
            long size = 12 + ((namesz + 3) & ~3L) + ((descsz + 3) & ~3L);
            if (size > b.Length - pos) return (count, pos, false, true);
            pos += (int)size;
            count++;
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void NoteReader_Fuzz_AgreesWithAReferenceWalkAndStaysInside(int seed)
    {
        var rng = new Random(seed);
        for (int iter = 0; iter < 20000; iter++)
        {
            byte[] b;
            if (iter % 2 == 0)
            {
                // Valid notes, then a few bytes changed: sizes, names, a cut.
                b = new byte[rng.Next(0, 1200)];
                int at = 0;
                while (at < b.Length - 40 && rng.Next(4) != 0)
                {
                    int n = ElfNote.Write(b.AsSpan(at), rng.Next(2) == 0 ? "CORE" : "VMCOREINFO", (uint)rng.Next(3), new byte[rng.Next(0, 40)]);
                    if (n == 0) break;
                    at += n;
                }
                for (int k = rng.Next(0, 4); k > 0 && b.Length > 0; k--) b[rng.Next(b.Length)] = (byte)rng.Next(256);
                if (rng.Next(3) == 0 && b.Length > 0) b = b[..rng.Next(b.Length)];
            }
            else
            {
                b = new byte[rng.Next(0, 200)];
                rng.NextBytes(b);
                // Small sizes make multi-note walks likely.
                for (int i = 0; i + 8 <= b.Length; i += 4) if (rng.Next(3) == 0) b[i + 1] = b[i + 2] = b[i + 3] = 0;
            }

            var expected = ReferenceWalk(b);
            var r = ElfNote.Read(b);
            int count = 0;
            while (r.MoveNext())
            {
                var c = r.Current;
                Assert.InRange(c.Offset + c.Size, 0, b.Length);
                Assert.InRange(c.Name.Length, 0, c.Size);
                count++;
                Assert.True(count <= b.Length / 16 + 1);
            }
            Assert.Equal(expected, (count, r.UsedSize, r.Terminated, r.Corrupt));
            Assert.False(r.MoveNext());
        }
    }
}
