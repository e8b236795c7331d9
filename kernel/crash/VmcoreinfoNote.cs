// The first kernel's VMCOREINFO note (kernel/vmcore_info.c): KEY=value lines the capture kernel and
// the host tools need to read the dump — where the log ring, the symbol table, the panic message,
// the page tables and the owned-ranges table are (each named range is kept whole by dump
// filtering), the CPUs (lists in cpulist form, CpuList.cs), RAM, and ACPI's power-off values —
// written at kexec load time, and completed at crash time with CRASHTIME=, CRASH_CPU=,
// PANIC_MESSAGE= (the panic message or the oops headline), CRASH_LOG_SEQ= (where the crash's lines
// begin in the log), CPU_MISSING=, NOT_ONLINE_APIC_IDS= and the crash timeline's TSC stamps. It
// lives in the first kernel's memory; a PT_NOTE of the ELF core header points at it.
using System;

static unsafe class VmcoreinfoNote
{
    const int TextCapacity = Vmcoreinfo.DefaultCapacity;
    const int NoteCapacity = TextCapacity + 64;

    const int ListCapacity = 2048;

    struct Storage { public fixed byte Text[TextCapacity]; public fixed byte Note[NoteCapacity]; public int Length; }
    static Storage s_storage;
    // Scratch for a list value (255 CPUs' numbers, 64 RAM ranges): more than a LogLine holds.
    struct ListBuffer { public fixed byte Bytes[ListCapacity]; public fixed uint Values[AcpiInfo.MaxCpus]; }
    static ListBuffer s_list;

    static Span<byte> ListText { get { fixed (byte* p = s_list.Bytes) return new Span<byte>(p, ListCapacity); } }
    static Span<uint> ListValues { get { fixed (uint* p = s_list.Values) return new Span<uint>(p, AcpiInfo.MaxCpus); } }

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
        b.AddLength("crash_notes", PerCpuArea.MaxCpus);
        b.AddSymbol("vmcoreinfo_note", (ulong)NoteAddress);
        b.AddSize("vmcoreinfo_note", (ulong)NoteCapacity);
        b.AddSymbol("owned_ranges", (ulong)OwnedMemory.Address);
        b.AddSize("owned_ranges", OwnedMemory.Size);
        b.AddSymbol("page_tables", k.BootPml4);
        b.AddSize("page_tables", Paging.BootTablesSize);
        b.AddSymbol("page_table_pool", k.PageTablePool);
        b.AddNumber("nr_cpus", SmpBoot.PossibleCount);
        Span<uint> ids = ListValues;
        int n = SmpBoot.PossibleCount;
        for (int cpu = 0; cpu < n; cpu++) ids[cpu] = PerCpuArea.Get(cpu)->ApicId;
        SetList(ref b, "APIC_IDS", ids.Slice(0, n));
        b.AddUnsigned("TSC_KHZ", Clock.TscKhz);
        b.AddDecimal("BOOT_EPOCH", Clock.BootEpochSeconds);
        ref readonly AcpiInfo acpi = ref Platform.Acpi;
        if (Platform.AcpiUsed && acpi.CanPowerOff)
        {
            b.AddHex("ACPI_PM1A_CNT", acpi.Pm1aControl);
            b.AddUnsigned("ACPI_SLP_TYPA", acpi.SlpTypA);
        }
        b.AddText("MEMORY", RangesText(ram));
        b.AddText("CAPTURE_ARGS", captureArgs);
        // What the capture kernel cannot learn itself: the first kernel's view of the firmware's
        // second serial port and text screen (page 0 and the loader's block are gone by then).
        ushort com2 = BiosDataArea.SerialPort(Kmain.BiosData, 1);
        if (com2 != 0) b.AddHex("COM2_PORT", com2);
        if (VgaText.Enabled)
        {
            b.AddHex("VGA_TEXT_BUFFER", VgaText.Buffer);
            b.AddUnsigned("VGA_TEXT_COLUMNS", (ulong)VgaText.Columns);
            b.AddUnsigned("VGA_TEXT_ROWS", (ulong)VgaText.Rows);
        }
        if (Params.Current.Panic != 0) b.AddDecimal("PANIC_TIMEOUT", Params.Current.Panic);
        if (Bmc.Present)
        {
            b.AddHex("IPMI_KCS_DATA", Bmc.DataPort);
            b.AddHex("IPMI_KCS_STATUS", Bmc.StatusPort);
            if (Params.Current.CrashWatchdog > 0) b.AddUnsigned("CRASH_WATCHDOG", (ulong)Params.Current.CrashWatchdog);
        }
        if (b.Overflowed) Log.Warn("kexec: VMCOREINFO is full; some keys are missing");
        int loadLength = s_storage.Length = b.Length;
        // The crash path's own code, run once now and undone (its keys are all new, so they went at
        // the end): under TCG the first run of code is its translation, which cost 1.2-1.7 ms of the
        // panic-to-capture time when left to the crash.
        UpdateAtCrash(0, 0);
        UpdateAtJump(0, 0);
        s_storage.Length = loadLength;
        WriteNote();
    }

    /// <summary>
    /// At crash, after the shootdown: when, why, which CPUs did not answer and which were never
    /// online, the page-table pool's use. The TSC stamps (NMI_TSC when the panic came from an NMI,
    /// PANIC_START_TSC, PANIC_TSC = crash_kexec, SHOOTDOWN_TSC) with the stop-status notes'
    /// stop_tsc draw the inspector's timeline.
    /// </summary>
    /// <param name="shutdownUs">How long machine_crash_shutdown (the shootdown, its report) took, for the capture kernel's timing line.</param>
    public static void UpdateAtCrash(ulong panicTsc, ulong shutdownUs)
    {
        var b = new VmcoreinfoBuilder(Text, s_storage.Length);
        b.SetDecimal("CRASHTIME", Clock.WallSeconds);
        PerCpu* me = PerCpuArea.This;
        if (me != null && me->InNmi != 0) b.SetUnsigned("NMI_TSC", me->NmiTsc);
        if (Panic.StartTsc != 0) b.SetUnsigned("PANIC_START_TSC", Panic.StartTsc);
        b.SetUnsigned("PANIC_TSC", panicTsc);
        b.SetUnsigned("SHUTDOWN_US", shutdownUs);
        if (StopStatus.ShootdownTsc != 0) b.SetUnsigned("SHOOTDOWN_TSC", StopStatus.ShootdownTsc);
        b.SetDecimal("CRASH_CPU", PerCpuArea.ThisCpu);
        b.SetText("PANIC_MESSAGE", Panic.Message);
        if (Panic.CrashLogSeq != Kmsg.NoSeq) b.SetUnsigned("CRASH_LOG_SEQ", Panic.CrashLogSeq);
        Span<uint> cpus = ListValues;
        int n = 0;
        for (int cpu = 0; cpu < SmpBoot.PossibleCount; cpu++)
            if (SmpBoot.IsOnline(cpu) && CrashNotes.SavedAt(cpu) == 0) cpus[n++] = (uint)cpu;
        SetList(ref b, "CPU_MISSING", cpus.Slice(0, n));
        // Who is offline now: a CPU that failed to start may have come online since the load.
        SetList(ref b, "NOT_ONLINE_APIC_IDS", cpus.Slice(0, SmpBoot.NotOnline(NotOnlineReason.None, cpus)));
        b.SetSize("page_table_pool", Paging.PoolBytesUsed);
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

    /// <summary>KEY=cpulist in place of an earlier one; an empty list writes no line (a reader takes no line for "none").</summary>
    static void SetList(ref VmcoreinfoBuilder b, string key, ReadOnlySpan<uint> values)
    {
        b.Remove(key);
        if (values.IsEmpty) return;
        int n = CpuList.Write(ListText, values);
        if (n < 0) Log.Warn($"kexec: the {key} list does not fit {ListCapacity} bytes; VMCOREINFO leaves it out");
        else b.AddText(key, ListText.Slice(0, n));
    }

    /// <summary>"start-end,start-end" in hex, as MEMORY= is read by the capture kernel.</summary>
    static ReadOnlySpan<byte> RangesText(ReadOnlySpan<PhysRange> ram)
    {
        Span<byte> t = ListText;
        int p = 0;
        for (int i = 0; i < ram.Length; i++)
        {
            if (p + 40 > t.Length) break;
            if (i > 0) t[p++] = (byte)',';
            p = PutHex(t, p, ram[i].Start);
            t[p++] = (byte)'-';
            p = PutHex(t, p, ram[i].Start + ram[i].Size);
        }
        return t.Slice(0, p);
    }

    static int PutHex(Span<byte> t, int p, ulong v)
    {
        int digits = 1;
        for (ulong x = v >> 4; x != 0; x >>= 4) digits++;
        for (int k = digits - 1; k >= 0; k--, v >>= 4)
        {
            int d = (int)(v & 0xF);
            t[p + k] = (byte)(d < 10 ? '0' + d : 'a' + d - 10);
        }
        return p + digits;
    }

    static void WriteNote()
    {
        Vmcoreinfo.WriteNote(new Span<byte>(NoteAddress, NoteCapacity), Text.Slice(0, s_storage.Length));
    }
}
