// The crash as a sequence of TSC stamps: the NMI, the panic, crash_kexec, the shootdown IPI, each
// CPU's answer (the stop-status notes' stop_tsc), the jump and the capture kernel's entry (its own
// note), put in order and shown relative to the first, so a reader sees at a glance who stopped
// when. Every stamp comes from the same TSC (the capture kernel runs on the machine that crashed).
namespace Nmidump.Inspector;

public sealed record TimelineEvent(ulong Tsc, string What, int? Cpu = null);

public static class Timeline
{
    /// <summary>Gathers the events of a dump whose VMCOREINFO and notes were read into <paramref name="r"/>.</summary>
    public static void Build(ReadOnlySpan<byte> notes, ReadOnlySpan<byte> info, Inspection r)
    {
        var events = r.Timeline;
        string panicCpu = r.PanicCpu is long p ? $" on CPU {p}" : "";
        int? cpu = r.PanicCpu is long q ? (int)q : null;
        if (Vmcoreinfo.FindUnsigned(info, "TSC_KHZ", out ulong khz) && khz > 0) r.TscKhz = khz;
        Stamp(info, "NMI_TSC", $"NMI{panicCpu}", cpu, events);
        Stamp(info, "PANIC_START_TSC", $"panic{panicCpu}", cpu, events);
        Stamp(info, "PANIC_TSC", "crash_kexec: stopping the other CPUs", cpu, events);
        bool shootdown = Vmcoreinfo.FindUnsigned(info, "SHOOTDOWN_TSC", out ulong ipi) && ipi != 0;
        if (shootdown) events.Add(new TimelineEvent(ipi, "shootdown NMI sent to the other CPUs", cpu));
        foreach (CpuStopStatus s in r.StopStatuses)
        {
            int c = (int)s.Cpu;
            switch (s.State)
            {
                case CpuStopState.Panicking when s.StopTsc != 0:
                    events.Add(new TimelineEvent(s.StopTsc, $"CPU {c} saved its own registers (panicking)", c));
                    break;
                case CpuStopState.Answered when s.StopTsc != 0:
                    events.Add(new TimelineEvent(s.StopTsc, $"CPU {c} answered the shootdown", c));
                    break;
                case CpuStopState.StoppedInNmi when s.StopTsc != 0:
                    events.Add(new TimelineEvent(s.StopTsc, $"CPU {c} stopped itself in NMI context", c));
                    break;
                case CpuStopState.NeverAnswered when shootdown && r.TscKhz is ulong k:
                    events.Add(new TimelineEvent(ipi + s.WaitedMs * k, $"CPU {c} never answered: given up after {s.WaitedMs} ms", c));
                    break;
            }
        }
        Stamp(info, "KEXEC_JUMP_TSC", "jump to the capture image", cpu, events);
        ElfNoteReader walk = new ElfNoteReader(notes);
        while (walk.MoveNext())
        {
            ElfNoteEntry e = walk.Current;
            if (NmidumpNote.ReadCaptureEntry(in e, out ulong entry) && entry != 0)
                events.Add(new TimelineEvent(entry, "capture kernel entered"));
        }
        // Stable: events with the same stamp keep the order of the crash path.
        var sorted = events.OrderBy(e => e.Tsc).ToList();
        events.Clear();
        events.AddRange(sorted);
    }

    static void Stamp(ReadOnlySpan<byte> info, string key, string what, int? cpu, List<TimelineEvent> events)
    {
        if (Vmcoreinfo.FindUnsigned(info, key, out ulong tsc) && tsc != 0) events.Add(new TimelineEvent(tsc, what, cpu));
    }

    /// <summary>Microseconds from <paramref name="first"/> to <paramref name="tsc"/>, or null without the TSC rate.</summary>
    public static double? MicrosecondsAfter(ulong first, ulong tsc, ulong? khz)
        => khz is ulong k && k > 0 ? (tsc - first) * 1000.0 / k : null;
}
