// The first kernel's VMCOREINFO note (kernel/vmcore_info.c): KEY=value lines the capture kernel and
// the host tools need to read the dump — where the log ring, the symbol table and the panic
// message are, the CPUs, RAM, and ACPI's power-off values — written at kexec load time, and
// completed at crash time with CRASHTIME=, CRASH_CPU=, PANIC_MESSAGE= (the panic message or the
// oops headline), CRASH_LOG_SEQ= (where the crash's lines begin in the log), CPU_MISSING= and the
// crash timeline's TSC stamps. It lives in the first kernel's memory; a PT_NOTE of the ELF core
// header points at it.
using System;

static unsafe class VmcoreinfoNote
{
    const int TextCapacity = Vmcoreinfo.DefaultCapacity;
    const int NoteCapacity = TextCapacity + 64;

    struct Storage { public fixed byte Text[TextCapacity]; public fixed byte Note[NoteCapacity]; public int Length; }
    static Storage s_storage;

    static Span<byte> Text { get { fixed (byte* p = s_storage.Text) return new Span<byte>(p, TextCapacity); } }
    public static byte* NoteAddress { get { fixed (byte* p = s_storage.Note) return p; } }
    public static int NoteSize => NoteCapacity;

    /// <summary>At kexec load: everything known before a crash.</summary>
    public static void Build(ReadOnlySpan<PhysRange> ram, ReadOnlySpan<byte> captureArgs)
    {
        var b = new VmcoreinfoBuilder(Text, 0);
        b.AddText("OSRELEASE", Version.Release);
        LogLine id = default;
        BuildId.Append(ref id);
        b.AddText("BUILD-ID", id.AsSpan());
        b.AddUnsigned("PAGESIZE", 4096);
        b.AddSymbol("log_buf", (ulong)Log.Area);
        b.AddSize("log_buf", Log.AreaBytes);
        ref KernelLayout k = ref KernelLayout.Get;
        b.AddSymbol("kallsyms", k.KallsymsStart);
        b.AddSize("kallsyms", k.KallsymsEnd - k.KallsymsStart);
        b.AddSymbol("_stext", k.TextStart);
        b.AddSymbol("_etext", k.TextEnd);
        // The top page table (CR3): drgn's kernel mode refuses a VMCOREINFO without it. The kernel
        // runs identity-mapped, so the virtual address is the physical one too.
        b.AddSymbol("swapper_pg_dir", k.BootPml4);
        // The unwind tables, so a reader without the kernel's ELF can still unwind every stack.
        b.AddSymbol("eh_frame", k.EhFrameStart);
        b.AddSize("eh_frame", k.EhFrameEnd - k.EhFrameStart);
        b.AddSymbol("panic_message", (ulong)Panic.MessageAddress);
        b.AddSize("panic_message", Panic.MessageCapacity);
        b.AddSymbol("crash_notes", (ulong)CrashNotes.Buffer(0));
        b.AddSize("crash_notes", CrashNotes.BufferSize);
        b.AddNumber("nr_cpus", SmpBoot.PossibleCount);
        LogLine ids = default;
        for (int cpu = 0; cpu < SmpBoot.PossibleCount; cpu++)
        {
            if (cpu > 0) ids.AppendChar(',');
            ids.AppendDecimal(PerCpuArea.Get(cpu)->ApicId);
        }
        b.AddText("APIC_IDS", ids.AsSpan());
        b.AddUnsigned("TSC_KHZ", Clock.TscKhz);
        b.AddDecimal("BOOT_EPOCH", Clock.BootEpochSeconds);
        ref readonly AcpiInfo acpi = ref Platform.Acpi;
        if (Platform.AcpiUsed && acpi.CanPowerOff)
        {
            b.AddHex("ACPI_PM1A_CNT", acpi.Pm1aControl);
            b.AddUnsigned("ACPI_SLP_TYPA", acpi.SlpTypA);
        }
        LogLine mem = default;
        for (int i = 0; i < ram.Length; i++)
        {
            if (i > 0) mem.AppendChar(',');
            mem.AppendHex(ram[i].Start, 0);
            mem.AppendChar('-');
            mem.AppendHex(ram[i].Start + ram[i].Size, 0);
        }
        b.AddText("MEMORY", mem.AsSpan());
        b.AddText("CAPTURE_ARGS", captureArgs);
        if (b.Overflowed) Log.Warn("kexec: VMCOREINFO is full; some keys are missing");
        s_storage.Length = b.Length;
        WriteNote();
    }

    /// <summary>
    /// At crash, after the shootdown: when, why, and which CPUs did not answer. The TSC stamps
    /// (NMI_TSC when the panic came from an NMI, PANIC_START_TSC, PANIC_TSC = crash_kexec,
    /// SHOOTDOWN_TSC) with the stop-status notes' stop_tsc draw the inspector's timeline.
    /// </summary>
    public static void UpdateAtCrash(ulong panicTsc)
    {
        var b = new VmcoreinfoBuilder(Text, s_storage.Length);
        b.SetDecimal("CRASHTIME", Clock.WallSeconds);
        PerCpu* me = PerCpuArea.This;
        if (me != null && me->InNmi != 0) b.SetUnsigned("NMI_TSC", me->NmiTsc);
        if (Panic.StartTsc != 0) b.SetUnsigned("PANIC_START_TSC", Panic.StartTsc);
        b.SetUnsigned("PANIC_TSC", panicTsc);
        if (StopStatus.ShootdownTsc != 0) b.SetUnsigned("SHOOTDOWN_TSC", StopStatus.ShootdownTsc);
        b.SetDecimal("CRASH_CPU", PerCpuArea.ThisCpu);
        b.SetText("PANIC_MESSAGE", Panic.Message);
        if (Panic.CrashLogSeq != Kmsg.NoSeq) b.SetUnsigned("CRASH_LOG_SEQ", Panic.CrashLogSeq);
        LogLine missing = default;
        int n = 0;
        for (int cpu = 0; cpu < SmpBoot.PossibleCount; cpu++)
        {
            if (!SmpBoot.IsOnline(cpu) || CrashNotes.SavedAt(cpu) != 0) continue;
            if (n++ > 0) missing.AppendChar(',');
            missing.AppendDecimal(cpu);
        }
        if (n > 0) b.SetText("CPU_MISSING", missing.AsSpan());
        s_storage.Length = b.Length;
        WriteNote();
    }

    /// <summary>Just before the jump: how long the digest check took, and when the jump happens.</summary>
    public static void UpdateAtJump(ulong digestUs, ulong jumpTsc)
    {
        var b = new VmcoreinfoBuilder(Text, s_storage.Length);
        b.SetUnsigned("KEXEC_DIGEST_US", digestUs);
        b.SetUnsigned("KEXEC_JUMP_TSC", jumpTsc);
        s_storage.Length = b.Length;
        WriteNote();
    }

    /// <summary>A key a platform crash handler records before the shootdown (CRASH_CHANNEL=); UpdateAtCrash keeps it.</summary>
    public static void SetAtCrash(string key, string value)
    {
        var b = new VmcoreinfoBuilder(Text, s_storage.Length);
        b.SetText(key, value);
        s_storage.Length = b.Length;
        WriteNote();
    }

    public static void SetAtCrash(string key, long value)
    {
        var b = new VmcoreinfoBuilder(Text, s_storage.Length);
        b.SetDecimal(key, value);
        s_storage.Length = b.Length;
        WriteNote();
    }

    static void WriteNote()
    {
        Vmcoreinfo.WriteNote(new Span<byte>(NoteAddress, NoteCapacity), Text.Slice(0, s_storage.Length));
    }
}
