// Per-CPU crash notes: one buffer per CPU holding an ELF NT_PRSTATUS note (name "CORE") with the
// registers the CPU was stopped with, followed by a zero terminator note, as Linux's crash_notes
// (kernel/crash_core.c crash_save_cpu). A CPU that never answered keeps a buffer that holds only
// the terminator: readers drop it, and gdb never sees a thread at RIP 0. The one-line-per-CPU form
// the first kernel's log and the capture report both print lives here too.
using System;
using System.Runtime;
using System.Runtime.CompilerServices;

static unsafe class CrashNotes
{
    public const int BufferSize = CrashNote.BufferSize;

    struct Storage { public fixed byte Bytes[PerCpuArea.MaxCpus * BufferSize]; }
    struct Stamps { public fixed ulong Tsc[PerCpuArea.MaxCpus]; }

    static Storage s_notes;
    static Stamps s_savedAt;

    [MethodImpl(MethodImplOptions.InternalCall), RuntimeImport("*", "capture_registers")]
    public static extern void CaptureRegisters(TrapFrame* frame);

    public static byte* Buffer(int cpu)
    {
        fixed (byte* p = s_notes.Bytes) return p + cpu * BufferSize;
    }

    public static Span<byte> BufferSpan(int cpu) => new Span<byte>(Buffer(cpu), BufferSize);

    /// <summary>TSC when the CPU's note was written, 0 if it never was.</summary>
    public static ulong SavedAt(int cpu)
    {
        fixed (ulong* t = s_savedAt.Tsc) return t[cpu];
    }

    /// <summary>
    /// crash_save_cpu(): this CPU's registers, as they were when the NMI or fault hit, into its
    /// note; how it stopped goes into its stop-status note (StopStatus.cs).
    /// </summary>
    public static void Save(int cpu, TrapFrame* f, CpuStopState how)
    {
        Bug.On((uint)cpu >= PerCpuArea.MaxCpus, "CrashNotes.Save: every CPU number has a note buffer");
        PrStatusRegs r = default;
        r[UserReg.R15] = f->R15; r[UserReg.R14] = f->R14; r[UserReg.R13] = f->R13; r[UserReg.R12] = f->R12;
        r[UserReg.Rbp] = f->Rbp; r[UserReg.Rbx] = f->Rbx; r[UserReg.R11] = f->R11; r[UserReg.R10] = f->R10;
        r[UserReg.R9] = f->R9; r[UserReg.R8] = f->R8; r[UserReg.Rax] = f->Rax; r[UserReg.Rcx] = f->Rcx;
        r[UserReg.Rdx] = f->Rdx; r[UserReg.Rsi] = f->Rsi; r[UserReg.Rdi] = f->Rdi;
        r[UserReg.OrigRax] = 0xFFFF_FFFF_FFFF_FFFF;    // not a system call
        r[UserReg.Rip] = f->Rip; r[UserReg.Cs] = f->Cs; r[UserReg.Eflags] = f->Rflags;
        r[UserReg.Rsp] = f->Rsp; r[UserReg.Ss] = f->Ss;
        r[UserReg.GsBase] = (ulong)PerCpuArea.Get(cpu);
        r[UserReg.Ds] = Segments.KernelData; r[UserReg.Es] = Segments.KernelData;
        // pr_pid = CPU + 1: gdb makes one thread per note only when each pid is distinct and non-zero.
        CrashNote.Write(BufferSpan(cpu), cpu + 1, in r);
        fixed (ulong* t = s_savedAt.Tsc) t[cpu] = Cpu.Rdtsc();
        StopStatus.Record(cpu, how);
    }

    /// <summary>
    /// At boot: one save into this CPU's note, its report line formatted (and thrown away), the
    /// stop-status notes written, then all of it cleared again. Under TCG the first run of code is
    /// its translation; done here, the shootdown's wait and the time to the jump do not pay for it.
    /// </summary>
    public static void WarmUp(int cpu)
    {
        TrapFrame f;
        CaptureRegisters(&f);
        Save(cpu, &f, CpuStopState.Answered);
        LogLine l = default;
        if (Read(cpu, out PrStatusRegs regs)) FormatCpuLine(ref l, "crash: ", cpu, PerCpuArea.Get(cpu)->ApicId, in regs, default);
        FormatMissingLine(ref l, "crash: ", cpu);
        StopStatus.WarmUp(cpu);
        CrashNote.Clear(BufferSpan(cpu));
        fixed (ulong* t = s_savedAt.Tsc) t[cpu] = 0;
        StopStatus.Forget(cpu);
    }

    /// <summary>Reads a CPU's note back: false when the buffer holds no note (the CPU never answered).</summary>
    public static bool Read(int cpu, out PrStatusRegs regs)
    {
        regs = default;
        if ((uint)cpu >= PerCpuArea.MaxCpus) return false;
        return CrashNote.Read(BufferSpan(cpu), out int pid, out regs) && pid == cpu + 1;
    }

    /// <summary>
    /// After the shootdown: the CPUs that never answered by name, how long the answers took, and
    /// one line per CPU from its note (the summary that stays in the log for the capture report).
    /// </summary>
    public static void ReportShootdown(int me, in ShootdownResult r)
    {
        ulong last = 0;
        for (int cpu = 0; cpu < SmpBoot.PossibleCount; cpu++)
        {
            if (cpu == me || !SmpBoot.IsOnline(cpu)) continue;
            ulong at = SavedAt(cpu);
            if (at == 0) Log.Emerg($"crash: CPU {cpu} did not respond to the shootdown NMI; its registers are missing");
            else if (at > last) last = at;
        }
        // With a capture image armed and the jump next, the capture kernel prints the per-CPU lines
        // from the dump (its report, from these very notes): the lines go into the log (the
        // capture report and the vmcore carry them) but the jump does not wait for the console
        // (1.5 ms for four CPUs under TCG, tens of ms for 255). Otherwise (no image, or
        // crash_kexec_post_notifiers, where notifiers run first) the console gets them now.
        bool console = !Kexec.ImageArmed || Params.Current.CrashKexecPostNotifiers;
        if (r.Others > 0 && last != 0)
        {
            // CPUs that lost the panic in NMI context may all have stopped before the IPI: no wait.
            ulong us = last > r.IpiTsc ? Clock.TicksToNs(last - r.IpiTsc, Clock.TscKhz) / 1000 : 0;
            LogLine took = $"crash: shootdown of {r.Others} CPUs took {us} us ({r.Answered} answered)";
            Log.Printk(KernLevel.Emerg, ref took, console);
        }
        ReportCpus(console);
    }

    /// <summary>One line per online CPU from its note (or "missing"), into the log and, if <paramref name="console"/>, onto the console.</summary>
    static void ReportCpus(bool console)
    {
        for (int cpu = 0; cpu < SmpBoot.PossibleCount; cpu++)
        {
            if (!SmpBoot.IsOnline(cpu)) continue;
            LogLine l = default;
            if (Read(cpu, out PrStatusRegs regs)) FormatCpuLine(ref l, "crash: ", cpu, PerCpuArea.Get(cpu)->ApicId, in regs, default);
            else FormatMissingLine(ref l, "crash: ", cpu);
            Log.Printk(KernLevel.Emerg, ref l, console);
        }
    }

    /// <summary>"CPU %d apic %d rip %s+0x%x/0x%x rsp %016lx r12 %016lx", shared with the capture report.</summary>
    public static void FormatCpuLine(ref LogLine l, string prefix, int cpu, uint apicId, in PrStatusRegs regs, ReadOnlySpan<byte> symbols)
    {
        l.Append(prefix);
        l.Append("CPU ");
        l.AppendDecimal(cpu);
        l.Append(" apic ");
        l.AppendDecimal(apicId);
        l.Append(" rip ");
        // The capture kernel names the first kernel's RIPs with the first kernel's table.
        if (symbols.IsEmpty) Symbols.Append(ref l, regs[UserReg.Rip]);
        else Symbols.AppendFrom(symbols, regs[UserReg.Rip], ref l, regs[UserReg.Rip]);
        l.Append(" rsp ");
        l.AppendHex(regs[UserReg.Rsp], 16);
        l.Append(" r12 ");
        l.AppendHex(regs[UserReg.R12], 16);
    }

    /// <summary>"CPU %d missing": a CPU with no register note.</summary>
    public static void FormatMissingLine(ref LogLine l, string prefix, int cpu)
    {
        l.Append(prefix);
        l.Append("CPU ");
        l.AppendDecimal(cpu);
        l.Append(" missing");
    }
}
