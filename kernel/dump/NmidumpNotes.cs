// NmidumpNotes: this project's own ELF notes in a vmcore, owner "NMIDUMP". Linux has no stop-status
// note: a CPU that never answered the shootdown simply leaves no NT_PRSTATUS, and readers that
// trusted the notes' order have shown the wrong CPU's registers. Here every CPU slot gets a note
// saying how it stopped (or that it never did), and the capture kernel adds when it started.
using System;

// Both notes: owner "NMIDUMP" (namesz 8), every field little-endian. Never owner "CORE": readers give
// CORE's types fixed meanings (CORE type 4 is NT_TASKSTRUCT, which makes drgn take the file for
// /proc/kcore). Some readers also ignore the owner for small types: gdb (BFD) takes any type-2 note
// for NT_FPREGSET of the last thread, hence the capture note's large type. Type 1 with its 24-byte
// body is left alone by gdb (which wants a 336-byte prstatus) and by drgn (which wants "CORE").
//
// type 1, stop status, 24 bytes, one per CPU slot (the first kernel writes them after the shootdown):
//   offset  size
//        0     4  cpu
//        4     4  apic_id
//        8     4  state        CpuStopState
//       12     4  waited_ms    answered: time from the shootdown NMI to the CPU's stop; never
//                              answered: how long the panicking CPU waited for it
//       16     8  stop_tsc     TSC when the CPU saved its registers, 0 if it never did
//
// type 0x4e4d0002, capture entry, 8 bytes (the capture kernel appends it to the merged PT_NOTE):
//        0     8  entry_tsc    TSC at the capture kernel's first C# instruction (same TSC as the first kernel's)
//
// type 0x4e4d0003, dump filter, text (the capture kernel appends it when it filters, DumpFilter.cs):
//   KEY=value lines as VMCOREINFO's: DUMP_LEVEL, RAM_BYTES, DATA_BYTES, ZERO_BYTES, FREE_BYTES, SEGMENTS

/// <summary>How a CPU stopped for the dump: the state field of a stop-status note.</summary>
public enum CpuStopState : uint
{
    /// <summary>The CPU that panicked and took the dump.</summary>
    Panicking = 0,
    /// <summary>Took the shootdown NMI and saved its registers.</summary>
    Answered = 1,
    /// <summary>Was already looping in NMI context (NMIs blocked) and saved its registers itself once the shootdown was issued.</summary>
    StoppedInNmi = 2,
    /// <summary>Online, but did not save its registers within the bound.</summary>
    NeverAnswered = 3,
    /// <summary>Listed by the firmware, never came online.</summary>
    NeverStarted = 4,
}

/// <summary>The body of a stop-status note.</summary>
public struct CpuStopStatus
{
    public uint Cpu, ApicId;
    public CpuStopState State;
    public uint WaitedMs;
    public ulong StopTsc;

    public CpuStopStatus(uint cpu, uint apicId, CpuStopState state, uint waitedMs, ulong stopTsc)
    {
        Cpu = cpu;
        ApicId = apicId;
        State = state;
        WaitedMs = waitedMs;
        StopTsc = stopTsc;
    }

    /// <summary>True for the states whose CPU saved its registers.</summary>
    public readonly bool SavedRegisters => State is CpuStopState.Panicking or CpuStopState.Answered or CpuStopState.StoppedInNmi;

    /// <summary>"never answered, waited 1000 ms", "answered the shootdown", ...</summary>
    public readonly void Describe(ref LogLine l)
    {
        switch (State)
        {
            case CpuStopState.Panicking: l.Append("panicking"); break;
            case CpuStopState.Answered: l.Append("answered the shootdown"); break;
            case CpuStopState.StoppedInNmi: l.Append("stopped itself in NMI context"); break;
            case CpuStopState.NeverAnswered:
                l.Append("never answered, waited ");
                l.AppendDecimal(WaitedMs);
                l.Append(" ms");
                break;
            case CpuStopState.NeverStarted: l.Append("never started"); break;
            default:
                l.Append("unknown stop state ");
                l.AppendDecimal((uint)State);
                break;
        }
    }
}

public static class NmidumpNote
{
    public const string Owner = "NMIDUMP";
    public const uint StopStatusType = 1, CaptureEntryType = 0x4E4D_0002, DumpFilterType = 0x4E4D_0003;
    public const int StopStatusDescSize = 24, CaptureEntryDescSize = 8;
    /// <summary>12 + 8 ("NMIDUMP\0") + 24.</summary>
    public const int StopStatusNoteSize = ElfNote.HeaderSize + 8 + StopStatusDescSize;
    /// <summary>12 + 8 + 8.</summary>
    public const int CaptureEntryNoteSize = ElfNote.HeaderSize + 8 + CaptureEntryDescSize;

    /// <summary>Writes one stop-status note; returns its size, or 0 if it does not fit. Allocates nothing (crash path).</summary>
    public static int WriteStopStatus(Span<byte> dst, in CpuStopStatus s)
    {
        int at = ElfNote.Begin(dst, Owner, StopStatusType, StopStatusDescSize);
        if (at < 0) return 0;
        Span<byte> d = dst.Slice(at, StopStatusDescSize);
        LittleEndian.Put32(d, 0, s.Cpu);
        LittleEndian.Put32(d, 4, s.ApicId);
        LittleEndian.Put32(d, 8, (uint)s.State);
        LittleEndian.Put32(d, 12, s.WaitedMs);
        LittleEndian.Put64(d, 16, s.StopTsc);
        return StopStatusNoteSize;
    }

    /// <summary>Decodes a note if it is an NMIDUMP stop-status note of the right size.</summary>
    public static bool ReadStopStatus(in ElfNoteEntry note, out CpuStopStatus s)
    {
        s = default;
        if (!note.Is(Owner, StopStatusType) || note.Desc.Length != StopStatusDescSize) return false;
        ReadOnlySpan<byte> d = note.Desc;
        s = new CpuStopStatus(LittleEndian.U32(d, 0), LittleEndian.U32(d, 4), (CpuStopState)LittleEndian.U32(d, 8),
            LittleEndian.U32(d, 12), LittleEndian.U64(d, 16));
        return true;
    }

    /// <summary>Writes the capture-entry note; returns its size, or 0 if it does not fit.</summary>
    public static int WriteCaptureEntry(Span<byte> dst, ulong entryTsc)
    {
        int at = ElfNote.Begin(dst, Owner, CaptureEntryType, CaptureEntryDescSize);
        if (at < 0) return 0;
        LittleEndian.Put64(dst, at, entryTsc);
        return CaptureEntryNoteSize;
    }

    public static bool ReadCaptureEntry(in ElfNoteEntry note, out ulong entryTsc)
    {
        entryTsc = 0;
        if (!note.Is(Owner, CaptureEntryType) || note.Desc.Length != CaptureEntryDescSize) return false;
        entryTsc = LittleEndian.U64(note.Desc, 0);
        return true;
    }
}
