// A crashed machine in 2 MiB of pinned host memory, and its vmcore made the way the capture kernel
// makes it: per-CPU crash notes (CrashNote.Write, pid = CPU + 1), the stop-status notes, a
// VMCOREINFO note built with VmcoreinfoBuilder, a log ring (Kmsg), a kallsyms table
// (KallsymsWriter) and unwind tables (.eh_frame) at the addresses VMCOREINFO names, a little real
// x86-64 code for the RIPs to point at and stacks that unwind through it to an outermost frame,
// then the core header (ElfCoreHeader.Write/Read) and the file (Vmcore.ComputeLayout/WritePrefix
// and the PT_LOADs).
using System.Runtime.InteropServices;
using System.Text;

namespace Nmidump.Inspector.Tests;

sealed unsafe class FakeCrash
{
    public const ulong MemoryEnd = 0x20_0000;
    public const ulong IdleAddress = 0x10_0100, PanicAddress = 0x10_0200, NmiPanicAddress = 0x10_0300, BottomAddress = 0x10_0400;
    public const ulong EhFrameAddress = 0x17_0000, KallsymsAddress = 0x18_0000, LogAddress = 0x19_0000;
    public const ulong NotesBase = 0x1F_0000, StopStatusAddress = 0x1F_4000, VmcoreinfoAddress = 0x1F_8000;
    /// <summary>TSC stamps of the crash (VMCOREINFO, at 2 GHz: 2000 ticks a microsecond) and of each CPU's stop.</summary>
    public const ulong PanicStartTsc = 10_000_000, CrashKexecTsc = 10_200_000, ShootdownTsc = 10_400_000, JumpTsc = 2_100_000_000;
    public static ulong StopTsc(int cpu) => ShootdownTsc + 2_000 * (ulong)(cpu + 1);
    public const int LogSize = 0x1_0000;
    public const ulong CrashTime = 1763770092;   // 2025-11-22 00:08:12 UTC
    public const string PanicMessage = "Kernel panic - not syncing: NMI: Not continuing [unknown reason 0x2c]";
    public const string BuildId = "2029acfa5ade9940d2efccdc287b91e162576bf0";

    /// <summary>Low memory without page 0, and 1..2 MiB; the crash kernel lives above, outside the dump.</summary>
    public static readonly PhysRange[] Ram = [new(0x1000, 0x9F000), new(0x10_0000, 0x10_0000)];
    public static readonly LoadSegment[] Loads = [new(0x1000, 0x1000, 0x9F000), new(0x10_0000, 0x10_0000, 0x10_0000)];
    public static readonly PhysRange CrashKernel = new(0x30_0000, 0x10_0000);

    /// <summary>CPU n's RIP: the panic CPU in KernelPanic at its call, others idle or in NmiPanic.</summary>
    public static readonly ulong[] Rips = [PanicAddress + 9, IdleAddress + 2, NmiPanicAddress + 5, IdleAddress + 2, IdleAddress + 2];
    public static readonly string[] RipSymbols =
        ["Kernel_Panic__KernelPanic+0x9/0x40", "cpu_idle+0x2/0x100", "Kernel_Nmi__NmiPanic+0x5/0x30", "cpu_idle+0x2/0x100", "cpu_idle+0x2/0x100"];

    // Pinned, so the kernel's readers can be handed a PhysicalWindow onto it.
    readonly byte[] _memory = GC.AllocateArray<byte>((int)MemoryEnd, pinned: true);

    public int Cpus = 4;
    /// <summary>CPUs that left no note (they did not answer the shootdown).</summary>
    public HashSet<int> Silent = [3];
    /// <summary>Whether VMCOREINFO names the silent CPUs in CPU_MISSING.</summary>
    public bool NameMissing = true;
    public int LogLines = 80;
    public bool WithVmcoreinfo = true, WithKallsyms = true, WithLog = true, WithEhFrame = true, WithStopStatus = true;
    public string Release = "0.1-nmidump";
    /// <summary>The capture kernel's dump-filter note to add to the PT_NOTE, if any.</summary>
    public DumpFilterStats? Filter;
    /// <summary>VMCOREINFO's NOT_ONLINE_APIC_IDS, if any.</summary>
    public string? NotOnline;
    /// <summary>What each CPU saved; <see cref="RegsOf"/> unless a test wants something else.</summary>
    public Func<int, PrStatusRegs> Regs = RegsOf;
    public string Build = BuildId;
    /// <summary>CRASH_CHANNEL= (null: no key, as in dumps from before the channel) and its owner.</summary>
    public string? CrashChannel;
    public int CrashChannelOwner = 3;

    public PhysicalWindow Window
    {
        get { fixed (byte* p = _memory) return new PhysicalWindow(p, 0, MemoryEnd); }
    }

    public Span<byte> At(ulong pa, int length) => _memory.AsSpan((int)pa, length);

    public static string LogText(int i) => $"log line {i}: cpu {i % 4} says [{i}]";
    public static KernLevel LogLevel(int i) => (KernLevel)(i % 8);
    public static ulong LogTime(int i) => 1_000_000_000UL + (ulong)i * 1_234_567;
    public static ulong NoteAddress(int cpu) => NotesBase + (ulong)cpu * 0x200;

    /// <summary>The top of CPU n's stack.</summary>
    public static ulong StackTop(int cpu) => 0x1F_0000 - (ulong)cpu * 0x1000;

    /// <summary>
    /// Registers that say which CPU and register they are; RIP at real code, RSP and RBP where the
    /// stack <see cref="WriteStack"/> builds has them: stack_bottom called KernelPanic, which (after
    /// push rbp; mov rbp, rsp; push r12) called cpu_idle, or stopped at that call; NmiPanic was
    /// called by stack_bottom directly.
    /// </summary>
    public static PrStatusRegs RegsOf(int cpu)
    {
        var regs = new PrStatusRegs();
        for (int i = 0; i < PrStatusRegs.Count; i++) regs[(UserReg)i] = 0x1111_0000_0000UL * (ulong)(cpu + 1) + (ulong)i;
        ulong rip = Rips[cpu % Rips.Length], top = StackTop(cpu);
        regs[UserReg.Rip] = rip;
        regs[UserReg.Rbp] = top - 16;
        regs[UserReg.Rsp] = rip == IdleAddress + 2 ? top - 32 : rip == NmiPanicAddress + 5 ? top - 8 : top - 24;
        regs[UserReg.Cs] = 0x10;
        regs[UserReg.Ss] = 0x18;
        regs[UserReg.Ds] = regs[UserReg.Es] = regs[UserReg.Fs] = regs[UserReg.Gs] = 0;
        regs[UserReg.Eflags] = 0x46;
        return regs;
    }

    public static readonly (ulong Address, ulong Size, string Name)[] Symbols =
    [
        (IdleAddress, 0, "cpu_idle"),
        (PanicAddress, 0x40, "Kernel_Panic__KernelPanic"),
        (NmiPanicAddress, 0x30, "Kernel_Nmi__NmiPanic"),
        (BottomAddress, 8, "stack_bottom"),
    ];

    /// <summary>The frames <see cref="WriteStack"/> leaves for CPU n, innermost first, as the report names them.</summary>
    public static string[] BacktraceOf(int cpu)
    {
        ulong rip = Rips[cpu % Rips.Length];
        if (rip == IdleAddress + 2) return ["cpu_idle+0x2/0x100", "Kernel_Panic__KernelPanic+0xe/0x40", "stack_bottom+0x5/0x8"];
        if (rip == NmiPanicAddress + 5) return ["Kernel_Nmi__NmiPanic+0x5/0x30", "stack_bottom+0x5/0x8"];
        return ["Kernel_Panic__KernelPanic+0x9/0x40", "stack_bottom+0x5/0x8"];
    }

    /// <summary>The stack under <see cref="RegsOf"/>: return addresses and saved registers where the CFI says.</summary>
    void WriteStack(int cpu)
    {
        ulong top = StackTop(cpu);
        At(top - 0x100, 0x100).Clear();
        void Put(ulong at, ulong v) => BitConverter.GetBytes(v).CopyTo(At(at, 8));
        if (Rips[cpu % Rips.Length] == NmiPanicAddress + 5)
        {
            Put(top - 8, BottomAddress + 5);                          // stack_bottom's call
            return;
        }
        Put(top - 8, BottomAddress + 5);                              // stack_bottom's call
        Put(top - 16, 0);                                             // push rbp: the outermost has none
        Put(top - 24, 0xC0DE_0000UL + (ulong)cpu);                    // push r12
        Put(top - 32, PanicAddress + 14);                             // KernelPanic's call of cpu_idle
    }

    /// <summary>.eh_frame for the fake code, as GNU as would write it.</summary>
    public static byte[] EhFrame()
    {
        var b = new EhFrameBuilder(EhFrameAddress);
        int cie = b.Cie(EhFrameBuilder.DefaultInitial);
        b.Fde(cie, IdleAddress, 4);
        // push rbp (1 byte); mov rbp, rsp (3); push r12 (2): CFA = rbp + 16, rbp at CFA-16, r12 at CFA-24.
        b.Fde(cie, PanicAddress, 0x40, EhFrameBuilder.Concat(
            EhFrameBuilder.AdvanceLoc(1), EhFrameBuilder.DefCfaOffset(16), EhFrameBuilder.Offset(6, 2),
            EhFrameBuilder.AdvanceLoc(3), EhFrameBuilder.DefCfaRegister(6),
            EhFrameBuilder.AdvanceLoc(2), EhFrameBuilder.Offset(12, 3)));
        b.Fde(cie, NmiPanicAddress, 0x30);
        int bottom = b.Cie([0x0C, 7, 0, 0x07, 16]);                   // CFA = rsp, rip undefined: the outermost frame
        b.Fde(bottom, BottomAddress, 8);
        b.Terminator();
        return b.Bytes;
    }

    /// <summary>The stop-status notes: CPU 0 panicked, the silent CPUs never answered, the others did.</summary>
    int WriteStopStatus()
    {
        Span<byte> buffer = At(StopStatusAddress, 0x1000);
        buffer.Clear();
        int at = 0;
        for (int cpu = 0; cpu < Cpus; cpu++)
        {
            var s = cpu == 0 ? new CpuStopStatus(0, 0, CpuStopState.Panicking, 0, StopTsc(Cpus))
                : Silent.Contains(cpu) ? new CpuStopStatus((uint)cpu, (uint)cpu * 2, CpuStopState.NeverAnswered, 1000, 0)
                : new CpuStopStatus((uint)cpu, (uint)cpu * 2, CpuStopState.Answered, 0, StopTsc(cpu));
            at += NmidumpNote.WriteStopStatus(buffer.Slice(at), s);
        }
        return at + ElfNote.WriteTerminator(buffer.Slice(at));
    }

    void WriteCode()
    {
        // cpu_idle: sti; hlt; jmp cpu_idle
        byte[] idle = [0xFB, 0xF4, 0xEB, 0xFC];
        // KernelPanic: push %rbp; mov %rsp,%rbp; push %r12; mov %rdi,%r12; call cpu_idle; ud2; pause; jmp .-2
        byte[] panic = [0x55, 0x48, 0x89, 0xE5, 0x41, 0x54, 0x49, 0x89, 0xFC, 0xE8, 0, 0, 0, 0, 0x0F, 0x0B, 0xF3, 0x90, 0xEB, 0xFC];
        BitConverter.GetBytes((int)IdleAddress - (int)(PanicAddress + 14)).CopyTo(panic, 10);
        At(IdleAddress, 0x100).Fill(0xCC);
        At(PanicAddress, 0x100).Fill(0xCC);
        At(NmiPanicAddress, 0x30).Fill(0x90);
        idle.CopyTo(At(IdleAddress, idle.Length));
        panic.CopyTo(At(PanicAddress, panic.Length));
        At(NmiPanicAddress + 0x2F, 1)[0] = 0xC3;
        // stack_bottom: call KernelPanic; hlt
        byte[] bottom = [0xE8, 0, 0, 0, 0, 0xF4, 0xEB, 0xFD];
        BitConverter.GetBytes((int)PanicAddress - (int)(BottomAddress + 5)).CopyTo(bottom, 1);
        bottom.CopyTo(At(BottomAddress, bottom.Length));
    }

    byte[] Kallsyms() => KallsymsWriter.Build(Symbols);

    void WriteLog()
    {
        Span<byte> area = At(LogAddress, LogSize);
        Assert.True(Kmsg.Init(area));
        for (int i = 0; i < LogLines; i++)
            Assert.NotEqual(Kmsg.NoSeq, Kmsg.Append(area, LogTime(i), Encoding.ASCII.GetBytes(LogText(i)), LogLevel(i)));
    }

    public string VmcoreinfoText()
    {
        var text = new byte[Vmcoreinfo.DefaultCapacity];
        var b = new VmcoreinfoBuilder(text, 0);
        Assert.True(b.AddText("OSRELEASE", Release));
        Assert.True(b.AddText("BUILD-ID", Build));
        Assert.True(b.AddUnsigned("PAGESIZE", 4096));
        Assert.True(b.AddSymbol("log_buf", LogAddress));
        Assert.True(b.AddSize("log_buf", LogSize));
        if (WithKallsyms)
        {
            Assert.True(b.AddSymbol("kallsyms", KallsymsAddress));
            Assert.True(b.AddSize("kallsyms", (ulong)Kallsyms().Length));
        }
        Assert.True(b.AddSymbol("panic_message", 0x11_0000));
        if (WithEhFrame)
        {
            Assert.True(b.AddSymbol("eh_frame", EhFrameAddress));
            Assert.True(b.AddSize("eh_frame", (ulong)EhFrame().Length));
        }
        Assert.True(b.AddNumber("nr_cpus", Cpus));
        Assert.True(b.AddText("APIC_IDS", string.Join(",", Enumerable.Range(0, Cpus).Select(c => c * 2))));
        Assert.True(b.AddUnsigned("TSC_KHZ", 2_000_000));
        Assert.True(b.SetUnsigned("CRASHTIME", CrashTime));
        Assert.True(b.SetText("PANIC_MESSAGE", PanicMessage));
        Assert.True(b.SetDecimal("CRASH_CPU", 0));
        Assert.True(b.SetUnsigned("PANIC_START_TSC", PanicStartTsc));
        Assert.True(b.SetUnsigned("PANIC_TSC", CrashKexecTsc));
        Assert.True(b.SetUnsigned("SHOOTDOWN_TSC", ShootdownTsc));
        Assert.True(b.SetUnsigned("KEXEC_JUMP_TSC", JumpTsc));
        if (NameMissing && Silent.Count > 0) Assert.True(b.SetText("CPU_MISSING", string.Join(",", Silent.Order())));
        if (CrashChannel != null)
        {
            Assert.True(b.SetText("CRASH_CHANNEL", CrashChannel));
            if (CrashChannel != "none") Assert.True(b.SetDecimal("CRASH_CHANNEL_OWNER", CrashChannelOwner));
        }
        Assert.True(b.AddText("MEMORY", "1000-a0000,100000-200000"));
        Assert.True(b.AddText("CAPTURE_ARGS", "console=ttyS0 nmidump=window"));
        if (NotOnline != null) Assert.True(b.AddText("NOT_ONLINE_APIC_IDS", NotOnline));
        return Encoding.ASCII.GetString(b.Text);
    }

    /// <summary>The first kernel's memory at the crash: code, kallsyms, the log, each CPU's note, VMCOREINFO; returns the note buffers.</summary>
    List<PhysRange> WriteMemory()
    {
        WriteCode();
        if (WithKallsyms) Kallsyms().CopyTo(At(KallsymsAddress, Kallsyms().Length));
        if (WithEhFrame) EhFrame().CopyTo(At(EhFrameAddress, EhFrame().Length));
        if (WithLog) WriteLog();
        for (int cpu = 0; cpu < Cpus; cpu++) WriteStack(cpu);

        var noteBuffers = new List<PhysRange>();
        for (int cpu = 0; cpu < Cpus; cpu++)
        {
            Span<byte> buffer = At(NoteAddress(cpu), CrashNote.BufferSize);
            CrashNote.Clear(buffer);
            if (!Silent.Contains(cpu)) Assert.True(CrashNote.Write(buffer, cpu + 1, Regs(cpu)));
            noteBuffers.Add(new(NoteAddress(cpu), CrashNote.BufferSize));
        }
        if (WithStopStatus) noteBuffers.Add(new(StopStatusAddress, (ulong)WriteStopStatus()));
        if (WithVmcoreinfo)
        {
            int size = Vmcoreinfo.NoteBufferSize(Vmcoreinfo.DefaultCapacity);
            Span<byte> buffer = At(VmcoreinfoAddress, size);
            buffer.Clear();
            Assert.True(Vmcoreinfo.WriteNote(buffer, Encoding.ASCII.GetBytes(VmcoreinfoText())) > 0);
            noteBuffers.Add(new(VmcoreinfoAddress, (ulong)size));
        }
        return noteBuffers;
    }

    /// <summary>The first kernel's state at the crash, then the capture kernel's vmcore of it.</summary>
    public byte[] Vmcore()
    {
        List<PhysRange> noteBuffers = WriteMemory();
        var header = new byte[ElfCoreHeader.SizeOf(noteBuffers.Count, Loads.Length)];
        Assert.Equal(header.Length, ElfCoreHeader.Write(header, noteBuffers.ToArray(), Loads));
        var notes = new CoreNoteBuffer[64];
        var loads = new LoadSegment[16];
        Assert.True(ElfCoreHeader.Read(header, Window, Ram, CrashKernel, notes, loads, out CoreHeaderInfo info, out ElfCoreError error),
            DumpInspector.Describe(error));
        byte[] extra = [];
        if (Filter is DumpFilterStats f)
        {
            var text = new byte[256];
            int n = DumpFilter.WriteNoteText(text, f);
            extra = new byte[ElfNote.SizeOf(DumpFilter.NoteName.Length, n)];
            ElfNote.Write(extra, DumpFilter.NoteName, DumpFilter.NoteType, text.AsSpan(0, n));
        }
        Assert.True(global::Vmcore.ComputeLayout(info.NotesSize + (ulong)extra.Length, loads.AsSpan(0, info.Loads), out VmcoreLayout layout, out error));
        var file = new byte[layout.FileSize];
        Assert.True(global::Vmcore.WritePrefix(file.AsSpan(0, (int)layout.LoadsOffset), layout, notes.AsSpan(0, info.NoteBuffers), extra,
            loads.AsSpan(0, info.Loads), Window, out error), DumpInspector.Describe(error));
        for (int i = 0; i < info.Loads; i++)
        {
            ulong at = global::Vmcore.LoadOffset(layout, loads.AsSpan(0, info.Loads), i);
            At(loads[i].PhysAddr, (int)loads[i].Size).CopyTo(file.AsSpan((int)at));
        }
        return file;
    }

    /// <summary>
    /// The vmcore with one more PT_LOAD of <paramref name="size"/> bytes at <paramref name="physAddr"/>
    /// (above 4 GiB, past 2 GiB of file), written to <paramref name="path"/> sparse: all zeros but
    /// <paramref name="marker"/> at its last bytes. Returns the marker's physical address.
    /// </summary>
    public ulong WriteWithHighLoad(string path, ulong physAddr, ulong size, byte[] marker)
    {
        List<PhysRange> noteBuffers = WriteMemory();
        var header = new byte[ElfCoreHeader.SizeOf(noteBuffers.Count, Loads.Length)];
        Assert.Equal(header.Length, ElfCoreHeader.Write(header, noteBuffers.ToArray(), Loads));
        var notes = new CoreNoteBuffer[64];
        var loads = new LoadSegment[16];
        Assert.True(ElfCoreHeader.Read(header, Window, Ram, CrashKernel, notes, loads, out CoreHeaderInfo info, out ElfCoreError error));
        loads[info.Loads] = new LoadSegment(physAddr, physAddr, size);
        int count = info.Loads + 1;
        Assert.True(global::Vmcore.ComputeLayout(info.NotesSize, loads.AsSpan(0, count), out VmcoreLayout layout, out error));
        var prefix = new byte[layout.LoadsOffset];
        Assert.True(global::Vmcore.WritePrefix(prefix, layout, notes.AsSpan(0, info.NoteBuffers), loads.AsSpan(0, count), Window, out error));
        using var f = new FileStream(path, FileMode.Create, FileAccess.Write);
        f.Write(prefix);
        for (int i = 0; i < info.Loads; i++)
        {
            f.Position = (long)global::Vmcore.LoadOffset(layout, loads.AsSpan(0, count), i);
            f.Write(At(loads[i].PhysAddr, (int)loads[i].Size));
        }
        f.SetLength((long)layout.FileSize);
        f.Position = (long)layout.FileSize - marker.Length;
        f.Write(marker);
        return physAddr + size - (ulong)marker.Length;
    }

    /// <summary>The default crash's vmcore, made once: the tests that only read it share it.</summary>
    public static byte[] Default => s_default.Value;
    static readonly Lazy<byte[]> s_default = new(() => new FakeCrash().Vmcore());
}
