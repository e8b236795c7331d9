// Fuzz target: the capture kernel's ELF core header reader (ElfCoreHeader.Read, what capture
// checks before it follows anything the first kernel left), over a header and the note buffers it
// points at in the first kernel's memory, both fuzzed. An input is [header length, 2 bytes LE]
// [header][the note area's bytes, copied to FuzzMachine.NotesBase]. Everything accepted must lie in
// the memory it was checked against; a refusal is ElfCoreError's one line.
using System.Runtime.InteropServices;
using System.Text;
using CsCheck;

namespace Nmidump.Fuzz;

public sealed unsafe class CoreHeaderTarget : FuzzTarget
{
    public override string Name => "coreheader";
    public override string What => "the capture kernel's ELF core header reader (ElfCoreHeader.Read, notes read from the first kernel's memory)";
    public override int HotPrefix => 2 + 64 + 56 * 8;

    const int NoteArea = (int)(FuzzMachine.NotesEnd - FuzzMachine.NotesBase);

    readonly List<byte[]> _seeds = [];
    public override IReadOnlyList<byte[]> Seeds => _seeds;

    public CoreHeaderTarget()
    {
        byte[] memory = new byte[FuzzMachine.MemoryEnd];
        foreach (int cpus in new[] { 1, 4, 16 })
        {
            byte[] header = FuzzMachine.CoreHeader(memory, cpus);
            _seeds.Add(Input(header, memory.AsSpan((int)FuzzMachine.NotesBase, NoteArea)));
        }
        // The real dump's notes, one buffer each, behind a header naming them.
        var area = new byte[NoteArea];
        var buffers = new List<PhysRange>();
        int at = 0;
        foreach (byte[] b in FuzzMachine.RealNoteBuffers())
        {
            if (at + b.Length > area.Length) break;
            b.CopyTo(area, at);
            buffers.Add(new(FuzzMachine.NotesBase + (ulong)at, (ulong)b.Length));
            at += (b.Length + 63) & ~63;
        }
        LoadSegment[] loads = [new(0x1000, 0x1000, 0x9_F000), new(0x0, 0x0, 0x1000)];
        var realHeader = new byte[ElfCoreHeader.SizeOf(buffers.Count, loads.Length)];
        ElfCoreHeader.Write(realHeader, buffers.ToArray(), loads);
        _seeds.Add(Input(realHeader, area));
    }

    static byte[] Input(byte[] header, ReadOnlySpan<byte> notes)
    {
        var input = new byte[2 + header.Length + notes.Length];
        input[0] = (byte)header.Length;
        input[1] = (byte)(header.Length >> 8);
        header.CopyTo(input, 2);
        notes.CopyTo(input.AsSpan(2 + header.Length));
        return input;
    }

    /// <summary>Headers the kernel's writer makes for random note buffers and loads (in memory or not).</summary>
    public override Gen<byte[]> Generated { get; } = Gen.Select(
        Gen.Select(Gen.ULong[0, 0x12_0000], Gen.ULong[0, 0x2000], (a, s) => new PhysRange(a, s)).Array[0, 12],
        Gen.Select(Gen.ULong[0, 0x12_0000], Gen.ULong[0, 0x12_0000], (a, s) => new LoadSegment(a, a, s)).Array[0, 8],
        Gen.Byte.Array[0, 512],
        (buffers, loads, notes) =>
        {
            var header = new byte[ElfCoreHeader.SizeOf(buffers.Length, loads.Length)];
            ElfCoreHeader.Write(header, buffers, loads);
            return Input(header, notes);
        });

    [ThreadStatic] static byte[]? t_memory;

    public override FuzzOutcome Check(byte[] input)
    {
        int length = input.Length < 2 ? 0 : input[0] | input[1] << 8;
        ReadOnlySpan<byte> header = input.AsSpan(Math.Min(2, input.Length));
        ReadOnlySpan<byte> notes = default;
        if (length <= header.Length)
        {
            notes = header[length..];
            header = header[..length];
        }
        t_memory ??= GC.AllocateArray<byte>((int)FuzzMachine.MemoryEnd, pinned: true);
        Span<byte> area = t_memory.AsSpan((int)FuzzMachine.NotesBase, NoteArea);
        area.Clear();
        notes[..Math.Min(notes.Length, NoteArea)].CopyTo(area);
        fixed (byte* p = t_memory)
        {
            var window = new PhysicalWindow(p, 0, FuzzMachine.MemoryEnd);
            var noteBuffers = new CoreNoteBuffer[64];
            var loads = new LoadSegment[64];
            if (!ElfCoreHeader.Read(header, window, FuzzMachine.Ram, FuzzMachine.CrashRegion, noteBuffers, loads, out CoreHeaderInfo info, out ElfCoreError error))
                return FuzzOutcome.Rejected(Describe(error));
            for (int i = 0; i < info.NoteBuffers; i++)
            {
                CoreNoteBuffer n = noteBuffers[i];
                if (n.Address < FuzzMachine.NotesBase || n.Address + n.UsedSize > FuzzMachine.MemoryEnd || n.UsedSize > n.Size)
                    throw new FuzzFailure($"note buffer {i} accepted at 0x{n.Address:x} ({n.UsedSize} of {n.Size} bytes), outside the memory it was read from");
            }
            for (int i = 0; i < info.Loads; i++)
                if (!ElfCoreHeader.Covered(FuzzMachine.Ram, loads[i].PhysAddr, loads[i].Size) || loads[i].FileSize > loads[i].Size)
                    throw new FuzzFailure($"PT_LOAD {i} accepted at 0x{loads[i].PhysAddr:x} (+0x{loads[i].Size:x}), not inside RAM");
            return FuzzOutcome.Ok;
        }
    }

    internal static string Describe(ElfCoreError e)
    {
        LogLine l = default;
        e.Describe(ref l);
        return Encoding.Latin1.GetString(l.AsSpan());
    }
}
