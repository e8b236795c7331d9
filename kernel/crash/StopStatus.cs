// The stop-status notes (kernel/dump/NmidumpNotes.cs): one per CPU slot, saying how each CPU
// stopped for the dump, or that it never did, so a reader learns more of a silent CPU than the gap
// its missing NT_PRSTATUS leaves. Each CPU records how it saved its registers (CrashNotes.Save);
// the panicking CPU writes every note once the shootdown's wait is over. Linux has no equivalent.
using System;

static unsafe class StopStatus
{
    public const int BufferSize = PerCpuArea.MaxCpus * NmidumpNote.StopStatusNoteSize + ElfNote.TerminatorSize;

    struct Storage { public fixed byte Bytes[BufferSize]; }
    struct Ways { public fixed uint State[PerCpuArea.MaxCpus]; }   // CpuStopState + 1; 0 = never saved

    static Storage s_notes;
    static Ways s_how;
    // What Write decided per CPU (state + 1, 0 = not written; and the wait), for the RAM crashlog.
    static Ways s_written, s_waitedMs;
    static ulong s_shootdownTsc;

    /// <summary>The note buffer (zero, so empty to readers, until the crash writes it): one PT_NOTE of the core header.</summary>
    public static byte* Buffer { get { fixed (byte* p = s_notes.Bytes) return p; } }

    /// <summary>When the shootdown NMI IPI went out, 0 if none was sent (one CPU, or no shootdown yet).</summary>
    public static ulong ShootdownTsc => s_shootdownTsc;

    /// <summary>How this CPU saved its registers; called by CrashNotes.Save, in NMI context.</summary>
    public static void Record(int cpu, CpuStopState how)
    {
        if ((uint)cpu >= PerCpuArea.MaxCpus) return;
        fixed (uint* s = s_how.State) s[cpu] = (uint)how + 1;
    }

    /// <summary>Forgets a record (CrashNotes.WarmUp's trial save at boot).</summary>
    public static void Forget(int cpu)
    {
        if ((uint)cpu >= PerCpuArea.MaxCpus) return;
        fixed (uint* s = s_how.State) s[cpu] = 0;
    }

    /// <summary>
    /// After the shootdown (the panicking CPU, once): one note per CPU slot. A late CPU may still
    /// save its registers while this runs; it then has a register note and a "never answered" one,
    /// which is what happened from the panicking CPU's point of view.
    /// </summary>
    public static void Write(int me, in ShootdownResult r)
    {
        s_shootdownTsc = r.IpiTsc;
        var buffer = new Span<byte>(Buffer, BufferSize);
        int at = 0;
        for (int cpu = 0; cpu < SmpBoot.PossibleCount && cpu < PerCpuArea.MaxCpus; cpu++)
        {
            CpuStopStatus s = Status(cpu, me, in r);
            at += NmidumpNote.WriteStopStatus(buffer.Slice(at), in s);
            s_written.State[cpu] = (uint)s.State + 1;
            s_waitedMs.State[cpu] = s.WaitedMs;
        }
        ElfNote.WriteTerminator(buffer.Slice(at));
    }

    /// <summary>How a CPU stopped, as the last Write recorded it; false before any.</summary>
    public static bool Last(int cpu, out CpuStopState state, out uint waitedMs)
    {
        state = default;
        waitedMs = 0;
        if ((uint)cpu >= PerCpuArea.MaxCpus || s_written.State[cpu] == 0) return false;
        state = (CpuStopState)(s_written.State[cpu] - 1);
        waitedMs = s_waitedMs.State[cpu];
        return true;
    }

    /// <summary>At boot (CrashNotes.WarmUp): the notes written once as at a crash, then zeroed again.</summary>
    public static void WarmUp(int me)
    {
        ShootdownResult r = default;
        Write(me, in r);
        new Span<byte>(Buffer, BufferSize).Clear();
        for (int cpu = 0; cpu < PerCpuArea.MaxCpus; cpu++) s_written.State[cpu] = 0;
        s_shootdownTsc = 0;
    }

    static CpuStopStatus Status(int cpu, int me, in ShootdownResult r)
    {
        uint how;
        fixed (uint* s = s_how.State) how = s[cpu];
        ulong savedAt = CrashNotes.SavedAt(cpu);
        CpuStopState state;
        ulong waitedTicks = 0;
        if (cpu == me) state = CpuStopState.Panicking;
        else if (!SmpBoot.IsOnline(cpu)) state = CpuStopState.NeverStarted;
        else if (how == 0 || savedAt == 0)
        {
            state = CpuStopState.NeverAnswered;
            // The whole bound: the wait ends at the first clock read past the deadline, a few
            // microseconds (or, on a loaded TCG host, milliseconds) after it.
            if (r.IpiTsc != 0) waitedTicks = r.WaitEndTsc - r.IpiTsc;
            ulong bound = CrashShutdown.ShootdownBoundUs * Clock.TscKhz / 1000;
            if (waitedTicks > bound) waitedTicks = bound;
        }
        else
        {
            state = (CpuStopState)(how - 1);
            // A CPU stopped in NMI context may have saved its registers before the IPI went out.
            if (r.IpiTsc != 0 && savedAt > r.IpiTsc) waitedTicks = savedAt - r.IpiTsc;
        }
        ulong ms = Clock.TicksToNs(waitedTicks, Clock.TscKhz) / 1_000_000;
        return new CpuStopStatus((uint)cpu, PerCpuArea.Get(cpu)->ApicId, state, ms > uint.MaxValue ? uint.MaxValue : (uint)ms,
            state == CpuStopState.NeverAnswered || state == CpuStopState.NeverStarted ? 0 : savedAt);
    }
}
