// A fake crashed machine for the dump-format tests: 8 MiB of "physical memory" (AcpiMemory, with
// guard pages, so any read outside it faults the test host), per-CPU crash-note buffers and a
// VMCOREINFO note in it, the core header the first kernel would leave, and the capture kernel's
// path from that header to a /proc/vmcore-style file, done with the kernel's own code.
using System.Text;

namespace Kernel.Tests;

sealed unsafe class DumpMachine : IDisposable
{
    public const ulong MemoryEnd = 0x80_0000;
    /// <summary>Per-CPU crash-note buffers, 368 bytes each, 0x200 apart (inside the second RAM range).</summary>
    public const ulong NotesBase = 0x20_0000, NoteStride = 0x200;
    public const ulong VmcoreinfoAddress = 0x21_0000;
    public const int VmcoreinfoCapacity = Vmcoreinfo.DefaultCapacity;

    /// <summary>RAM as the first kernel's memory map gives it: low memory without page 0 and the EBDA, then 1..8 MiB.</summary>
    public static readonly PhysRange[] Ram = [new(0x1000, 0x9E000), new(0x10_0000, 0x70_0000)];
    /// <summary>The crash-kernel region (crashkernel=2M@4M): never part of the dump.</summary>
    public static readonly PhysRange CrashKernel = new(0x40_0000, 0x20_0000);
    /// <summary>RAM minus the crash-kernel region, identity-mapped.</summary>
    public static readonly LoadSegment[] Loads =
        [new(0x1000, 0x1000, 0x9E000), new(0x10_0000, 0x10_0000, 0x30_0000), new(0x60_0000, 0x60_0000, 0x20_0000)];

    public readonly AcpiMemory Memory = new(0, MemoryEnd);
    public PhysicalWindow Window => Memory.Window;

    public DumpMachine()
    {
        // Every page of RAM starts with its own address, so reads can be checked anywhere.
        foreach (var r in Ram)
            for (ulong pa = r.Start; pa < r.Start + r.Size; pa += 0x1000)
                Memory.Write(pa, BitConverter.GetBytes(pa ^ 0x5A5A_0000_0000_0000));
    }

    public static ulong PageMarker(ulong pa) => (pa & ~0xFFFUL) ^ 0x5A5A_0000_0000_0000;

    public static ulong NoteAddress(int cpu) => NotesBase + (ulong)cpu * NoteStride;

    /// <summary>Registers that say which CPU and which register they are (rip inside RAM for gdb).</summary>
    public static PrStatusRegs RegsOf(int cpu)
    {
        var regs = new PrStatusRegs();
        for (int i = 0; i < PrStatusRegs.Count; i++) regs[(UserReg)i] = 0x1111_0000_0000UL * (ulong)(cpu + 1) + (ulong)i;
        regs[UserReg.Rip] = 0x10_1000 + (ulong)cpu * 0x10;
        regs[UserReg.Rsp] = 0x30_0000 - (ulong)cpu * 0x1000;
        regs[UserReg.Cs] = 0x10;
        regs[UserReg.Ss] = 0x18;
        regs[UserReg.Ds] = regs[UserReg.Es] = regs[UserReg.Fs] = regs[UserReg.Gs] = 0;
        regs[UserReg.Eflags] = 0x46;
        return regs;
    }

    /// <summary>Saves the registers of each CPU that answered (pid = cpu + 1); the others keep only the terminator.</summary>
    public void SaveCrashNotes(int cpus, Func<int, bool>? answered = null)
    {
        for (int cpu = 0; cpu < cpus; cpu++)
        {
            var buffer = Memory.At(NoteAddress(cpu), CrashNote.BufferSize);
            CrashNote.Clear(buffer);
            if (answered == null || answered(cpu))
                Assert.True(CrashNote.Write(buffer, cpu + 1, RegsOf(cpu)));
        }
    }

    public static string VmcoreinfoText(string? extra = null) =>
        "OSRELEASE=0.1-nmidump\nPAGESIZE=4096\nSYMBOL(kmsg)=10f000\nSIZE(kmsg_header)=64\n" + (extra ?? "");

    public void SaveVmcoreinfo(string text)
    {
        var buffer = Memory.At(VmcoreinfoAddress, Vmcoreinfo.NoteBufferSize(VmcoreinfoCapacity));
        buffer.Clear();
        Assert.True(Vmcoreinfo.WriteNote(buffer, Encoding.ASCII.GetBytes(text)) > 0);
    }

    /// <summary>The note buffers the core header lists: every CPU's, then VMCOREINFO.</summary>
    public static PhysRange[] NoteBuffers(int cpus)
    {
        var list = new List<PhysRange>();
        for (int cpu = 0; cpu < cpus; cpu++) list.Add(new(NoteAddress(cpu), CrashNote.BufferSize));
        list.Add(new(VmcoreinfoAddress, (ulong)Vmcoreinfo.NoteBufferSize(VmcoreinfoCapacity)));
        return list.ToArray();
    }

    public static byte[] CoreHeader(PhysRange[] notes, LoadSegment[] loads)
    {
        var header = new byte[ElfCoreHeader.SizeOf(notes.Length, loads.Length)];
        Assert.Equal(header.Length, ElfCoreHeader.Write(header, notes, loads));
        return header;
    }

    /// <summary>A crashed machine with <paramref name="cpus"/> CPUs: notes saved, VMCOREINFO written, the core header built.</summary>
    public byte[] Crash(int cpus, Func<int, bool>? answered = null, string? vmcoreinfo = null, LoadSegment[]? loads = null)
    {
        SaveCrashNotes(cpus, answered);
        SaveVmcoreinfo(vmcoreinfo ?? VmcoreinfoText());
        return CoreHeader(NoteBuffers(cpus), loads ?? Loads);
    }

    public bool ReadHeader(byte[] header, out CoreNoteBuffer[] notes, out LoadSegment[] loads, out CoreHeaderInfo info, out ElfCoreError error,
        int noteRoom = 64, int loadRoom = 16)
    {
        var n = new CoreNoteBuffer[noteRoom];
        var l = new LoadSegment[loadRoom];
        bool ok = ElfCoreHeader.Read(header, Window, Ram, CrashKernel, n, l, out info, out error);
        notes = n[..info.NoteBuffers];
        loads = l[..info.Loads];
        return ok;
    }

    /// <summary>What the capture kernel does: validate the header, lay out the file, write its prefix, stream each PT_LOAD.</summary>
    public byte[] Vmcore(byte[] header)
    {
        Assert.True(ReadHeader(header, out var notes, out var loads, out var info, out var error), Describe(error));
        Assert.True(global::Vmcore.ComputeLayout(info.NotesSize, loads, out var layout, out error), Describe(error));
        var file = new byte[layout.FileSize];
        Assert.True(global::Vmcore.WritePrefix(file.AsSpan(0, (int)layout.LoadsOffset), layout, notes, loads, Window, out error), Describe(error));
        for (int i = 0; i < loads.Length; i++)
        {
            ulong at = global::Vmcore.LoadOffset(layout, loads, i);
            Memory.At(loads[i].PhysAddr, (int)loads[i].Size).CopyTo(file.AsSpan((int)at));
        }
        return file;
    }

    public static string Describe(ElfCoreError error)
    {
        var l = new LogLine(0, 0);
        error.Describe(ref l);
        return Ascii.Of(l);
    }

    public void Dispose() => Memory.Dispose();
}
