// A small crashed machine for the binary targets' seeds, written with the kernel's own writers:
// 1 MiB of physical memory holding each CPU's crash note, a VMCOREINFO note that names a log ring
// and a kallsyms table, the ELF core header the first kernel hands the capture kernel, and the
// vmcore the capture kernel makes of it. Plus the real dump's headers and notes kept in Seeds/.
using System.Runtime.InteropServices;
using System.Text;

namespace Nmidump.Fuzz;

public static unsafe class FuzzMachine
{
    public const ulong MemoryEnd = 0x10_0000;
    public const ulong NotesBase = 0x8_0000, NotesEnd = 0x9_0000, VmcoreinfoAt = 0x8_8000;
    public const ulong LogAt = 0x4_0000, KallsymsAt = 0x6_0000, CodeAt = 0x1_0000;
    public const int LogSize = 0x4000;
    public static readonly PhysRange[] Ram = [new(0x1000, MemoryEnd - 0x1000)];
    /// <summary>The capture kernel's own region: no PT_LOAD may overlap it.</summary>
    public static readonly PhysRange CrashRegion = new(MemoryEnd, 0x10_0000);

    /// <summary>The first kernel's memory at a crash with <paramref name="cpus"/> CPUs; returns the note buffers.</summary>
    public static List<PhysRange> WriteMemory(Span<byte> memory, int cpus, int logLines)
    {
        memory.Clear();
        for (int i = 0; i < 0x100; i++) memory[(int)CodeAt + i] = (byte)(0x90 + i % 3);   // nops and friends: something to disassemble
        byte[] kallsyms = KallsymsWriter.Build([(CodeAt, 0x40, "cpu_idle"), (CodeAt + 0x40, 0x80, "Kernel_Panic__KernelPanic")]);
        kallsyms.CopyTo(memory[(int)KallsymsAt..]);
        Span<byte> log = memory.Slice((int)LogAt, LogSize);
        Kmsg.Init(log);
        for (int i = 0; i < logLines; i++) Kmsg.Append(log, 1_000_000UL * (ulong)i, Encoding.ASCII.GetBytes($"line {i}: Kernel panic - not syncing: fuzz"), (KernLevel)(i % 8), i % 4);

        var buffers = new List<PhysRange>();
        for (int cpu = 0; cpu < cpus; cpu++)
        {
            ulong at = NotesBase + (ulong)cpu * 0x200;
            var regs = new PrStatusRegs();
            for (int r = 0; r < PrStatusRegs.Count; r++) regs[(UserReg)r] = 0x1000UL * (ulong)cpu + (ulong)r;
            regs[UserReg.Rip] = CodeAt + 0x10 + (ulong)cpu;
            regs[UserReg.Rsp] = 0x7_0000 - 0x100 * (ulong)cpu;
            regs[UserReg.R12] = 0xC0DE0000UL + (ulong)cpu;
            Span<byte> buffer = memory.Slice((int)at, CrashNote.BufferSize);
            CrashNote.Clear(buffer);
            CrashNote.Write(buffer, cpu + 1, regs);
            buffers.Add(new(at, CrashNote.BufferSize));
        }
        var text = new byte[Vmcoreinfo.DefaultCapacity];
        var b = new VmcoreinfoBuilder(text, 0);
        b.AddText("OSRELEASE", "0.1.0");
        b.AddText("BUILD-ID", "00112233445566778899aabbccddeeff00112233");
        b.AddUnsigned("PAGESIZE", 4096);
        b.AddSymbol("log_buf", LogAt);
        b.AddSize("log_buf", LogSize);
        b.AddSymbol("kallsyms", KallsymsAt);
        b.AddSize("kallsyms", (ulong)kallsyms.Length);
        b.AddNumber("nr_cpus", cpus);
        b.AddText("APIC_IDS", $"0-{cpus - 1}");
        b.AddUnsigned("TSC_KHZ", 2_000_000);
        b.SetUnsigned("CRASHTIME", 1_796_199_325);
        b.SetText("PANIC_MESSAGE", "NMI: Not continuing");
        b.SetDecimal("CRASH_CPU", 0);
        b.SetUnsigned("PANIC_START_TSC", 1_000_000);
        b.SetUnsigned("KEXEC_JUMP_TSC", 2_000_000);
        int size = Vmcoreinfo.NoteBufferSize(Vmcoreinfo.DefaultCapacity);
        Vmcoreinfo.WriteNote(memory.Slice((int)VmcoreinfoAt, size), b.Text);
        buffers.Add(new(VmcoreinfoAt, (ulong)size));
        return buffers;
    }

    /// <summary>The ELF core header for a crash with <paramref name="cpus"/> CPUs, its note buffers in <paramref name="memory"/>.</summary>
    public static byte[] CoreHeader(Span<byte> memory, int cpus, int logLines = 8)
    {
        List<PhysRange> buffers = WriteMemory(memory, cpus, logLines);
        LoadSegment[] loads = [new(0x1000, 0x1000, MemoryEnd - 0x1000)];
        var header = new byte[ElfCoreHeader.SizeOf(buffers.Count, loads.Length)];
        ElfCoreHeader.Write(header, buffers.ToArray(), loads);
        return header;
    }

    /// <summary>The vmcore the capture kernel makes of that crash.</summary>
    public static byte[] Vmcore(int cpus, int logLines)
    {
        byte[] memory = GC.AllocateArray<byte>((int)MemoryEnd, pinned: true);
        byte[] header = CoreHeader(memory, cpus, logLines);
        fixed (byte* p = memory)
        {
            var window = new PhysicalWindow(p, 0, MemoryEnd);
            var notes = new CoreNoteBuffer[64];
            var loads = new LoadSegment[8];
            if (!ElfCoreHeader.Read(header, window, Ram, CrashRegion, notes, loads, out CoreHeaderInfo info, out _)
                || !global::Vmcore.ComputeLayout(info.NotesSize, loads.AsSpan(0, info.Loads), out VmcoreLayout layout, out _))
                throw new InvalidOperationException("the fuzz machine's own crash does not make a vmcore");
            var file = new byte[layout.FileSize];
            global::Vmcore.WritePrefix(file.AsSpan(0, (int)layout.LoadsOffset), layout, notes.AsSpan(0, info.NoteBuffers), loads.AsSpan(0, info.Loads), window, out _);
            for (int i = 0; i < info.Loads; i++)
                memory.AsSpan((int)loads[i].PhysAddr, (int)loads[i].Size).CopyTo(file.AsSpan((int)global::Vmcore.LoadOffset(layout, loads.AsSpan(0, info.Loads), i)));
            return file;
        }
    }

    /// <summary>A real vmcore's headers and notes (./build.sh run, -smp 4), its PT_LOADs made zero pages so the file is just that.</summary>
    public static byte[] RealVmcoreHeaders => s_real.Value;
    static readonly Lazy<byte[]> s_real = new(() => File.ReadAllBytes(SeedPath("real-vmcore-headers.bin")));

    static string SeedPath(string name)
    {
        foreach (var start in new[] { AppContext.BaseDirectory, Environment.CurrentDirectory })
            for (var dir = new DirectoryInfo(start); dir != null; dir = dir.Parent)
            {
                foreach (var candidate in new[] { Path.Combine(dir.FullName, "Seeds", name), Path.Combine(dir.FullName, "tools", "Fuzz", "Seeds", name) })
                    if (File.Exists(candidate)) return candidate;
            }
        throw new FileNotFoundException($"fuzz seed {name} not found (tools/Fuzz/Seeds/)");
    }

    /// <summary>The real dump's notes, each alone in a buffer with its terminator, as the first kernel keeps them.</summary>
    public static List<byte[]> RealNoteBuffers()
    {
        byte[] file = RealVmcoreHeaders;
        var buffers = new List<byte[]>();
        if (!VmcoreFile.Open(file, out VmcoreFile core, out _)) return buffers;
        ElfNoteReader walk = new ElfNoteReader(core.Notes);
        while (walk.MoveNext())
        {
            ElfNoteEntry e = walk.Current;
            var buffer = new byte[ElfNote.SizeOf(e.Name.Length, e.Desc.Length) + ElfNote.TerminatorSize];
            ElfNote.Write(buffer, Encoding.ASCII.GetString(e.Name), e.Type, e.Desc);
            buffers.Add(buffer);
        }
        return buffers;
    }
}
