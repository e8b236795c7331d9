// The NMIDUMP notes (kernel/dump/NmidumpNotes.cs): the stop-status note byte for byte (owner
// "NMIDUMP", type 1, u32 cpu, u32 apic_id, u32 state, u32 waited_ms, u64 stop_tsc), its text, the
// capture-entry note, and that readers take neither a CORE note nor a wrong-sized one for them.
using System.Buffers.Binary;
using System.Text;

namespace Kernel.Tests;

public class NmidumpNotesTests
{
    [Fact]
    public void StopStatus_IsA44ByteNoteWithTheIssuesLayout()
    {
        var buffer = new byte[64];
        var s = new CpuStopStatus(7, 14, CpuStopState.NeverAnswered, 1000, 0x1122_3344_5566_7788);
        Assert.Equal(44, NmidumpNote.WriteStopStatus(buffer, s));
        Assert.Equal(8u, BinaryPrimitives.ReadUInt32LittleEndian(buffer.AsSpan(0)));      // namesz: "NMIDUMP\0"
        Assert.Equal(24u, BinaryPrimitives.ReadUInt32LittleEndian(buffer.AsSpan(4)));     // descsz
        Assert.Equal(1u, BinaryPrimitives.ReadUInt32LittleEndian(buffer.AsSpan(8)));      // type
        Assert.Equal("NMIDUMP\0", Encoding.ASCII.GetString(buffer, 12, 8));
        Assert.Equal(7u, BinaryPrimitives.ReadUInt32LittleEndian(buffer.AsSpan(20)));
        Assert.Equal(14u, BinaryPrimitives.ReadUInt32LittleEndian(buffer.AsSpan(24)));
        Assert.Equal(3u, BinaryPrimitives.ReadUInt32LittleEndian(buffer.AsSpan(28)));
        Assert.Equal(1000u, BinaryPrimitives.ReadUInt32LittleEndian(buffer.AsSpan(32)));
        Assert.Equal(0x1122_3344_5566_7788UL, BinaryPrimitives.ReadUInt64LittleEndian(buffer.AsSpan(36)));
    }

    [Theory]
    [InlineData(CpuStopState.Panicking, 0u, "panicking")]
    [InlineData(CpuStopState.Answered, 3u, "answered the shootdown")]
    [InlineData(CpuStopState.StoppedInNmi, 0u, "stopped itself in NMI context")]
    [InlineData(CpuStopState.NeverAnswered, 1000u, "never answered, waited 1000 ms")]
    [InlineData(CpuStopState.NeverStarted, 0u, "never started")]
    [InlineData((CpuStopState)9, 0u, "unknown stop state 9")]
    public void StopStatus_RoundTripsAndReadsAsText(CpuStopState state, uint waited, string text)
    {
        var buffer = new byte[NmidumpNote.StopStatusNoteSize + ElfNote.TerminatorSize];
        var s = new CpuStopStatus(2, 4, state, waited, 12345);
        NmidumpNote.WriteStopStatus(buffer, s);
        Assert.True(ElfNote.Find(buffer, NmidumpNote.Owner, NmidumpNote.StopStatusType, out ElfNoteEntry note));
        Assert.True(NmidumpNote.ReadStopStatus(in note, out CpuStopStatus back));
        Assert.Equal(s, back);
        var l = new LogLine(0, 0);
        back.Describe(ref l);
        Assert.Equal(text, Ascii.Of(l.AsSpan()));
        Assert.Equal(state is CpuStopState.Panicking or CpuStopState.Answered or CpuStopState.StoppedInNmi, back.SavedRegisters);
    }

    [Fact]
    public void Readers_TakeNeitherACoreNoteNorAWrongSizedOne()
    {
        var core = new byte[64];
        ElfNote.Write(core, "CORE", 1, new byte[24]);
        Assert.True(ElfNote.Find(core, "CORE", 1, out ElfNoteEntry c));
        Assert.False(NmidumpNote.ReadStopStatus(in c, out _));
        var shortNote = new byte[64];
        ElfNote.Write(shortNote, NmidumpNote.Owner, NmidumpNote.StopStatusType, new byte[20]);
        Assert.True(ElfNote.Find(shortNote, NmidumpNote.Owner, 1, out ElfNoteEntry n));
        Assert.False(NmidumpNote.ReadStopStatus(in n, out _));
        Assert.False(NmidumpNote.ReadCaptureEntry(in n, out _));
    }

    [Fact]
    public void CaptureEntry_RoundTripsUnderATypeGdbDoesNotTakeForRegisters()
    {
        var buffer = new byte[NmidumpNote.CaptureEntryNoteSize];
        Assert.Equal(28, NmidumpNote.WriteCaptureEntry(buffer, 0xABCDEF));
        Assert.True(ElfNote.Find(buffer, NmidumpNote.Owner, NmidumpNote.CaptureEntryType, out ElfNoteEntry note));
        Assert.True(NmidumpNote.ReadCaptureEntry(in note, out ulong tsc));
        Assert.Equal(0xABCDEFUL, tsc);
        // BFD reads small note types whatever their owner: 1..20 are prstatus, fpregset, prpsinfo, ...
        Assert.True(NmidumpNote.CaptureEntryType > 0x1000);
    }

    [Fact]
    public void StopStatusNotes_DoNotFitInAWrongBuffer()
    {
        Assert.Equal(0, NmidumpNote.WriteStopStatus(new byte[43], new CpuStopStatus(0, 0, 0, 0, 0)));
        Assert.Equal(0, NmidumpNote.WriteCaptureEntry(new byte[27], 1));
    }
}
