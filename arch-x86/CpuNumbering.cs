// Which present CPUs get a CPU number, and why the others do not: the boot CPU is 0, the others
// follow in firmware (MADT) order up to nr_cpus= and the compile-time limit, as Linux's
// prefill_possible_map()/generic_processor_info() do. A present CPU without a number, or with one
// that never came online, stays where the firmware parked it: no broadcast IPI or NMI may reach it.
// Pure logic over APIC IDs, so host tests cover every mix.
using System;

/// <summary>Why a present CPU is not online.</summary>
public enum NotOnlineReason : byte
{
    None,
    /// <summary>Past the nr_cpus= cap.</summary>
    NrCpus,
    /// <summary>Past CpuLimit.MaxCpus (or past what the ACPI parser keeps).</summary>
    Limit,
    /// <summary>Numbered and sent INIT-SIPI-SIPI, but never called in.</summary>
    FailedStart,
}

public static class CpuNumbering
{
    /// <summary>
    /// The most CPUs numbered: nr_cpus= (0 = no cap) and the limit, whichever is smaller.
    /// </summary>
    public static int Cap(int nrCpus, int maxCpus) => nrCpus > 0 && nrCpus < maxCpus ? nrCpus : maxCpus;

    /// <summary>
    /// Numbers the present CPUs: <paramref name="cpuOf"/>[i] is the CPU number of present[i], or -1
    /// when it gets none. The boot CPU is 0 whether it is listed or not (a firmware that forgot it
    /// still boots on it). Returns how many CPUs were numbered.
    /// </summary>
    public static int Assign(uint bootApicId, ReadOnlySpan<uint> present, int nrCpus, int maxCpus, Span<int> cpuOf)
    {
        int cap = Cap(nrCpus, maxCpus);
        int next = 1;
        for (int i = 0; i < present.Length; i++)
        {
            if (present[i] == bootApicId) cpuOf[i] = 0;
            else if (next < cap) cpuOf[i] = next++;
            else cpuOf[i] = -1;
        }
        return next;
    }

    /// <summary>Why a present CPU that got no number has none.</summary>
    public static NotOnlineReason WhyUnnumbered(int nrCpus, int maxCpus) =>
        nrCpus > 0 && nrCpus < maxCpus ? NotOnlineReason.NrCpus : NotOnlineReason.Limit;

    /// <summary>The words the log uses for a reason.</summary>
    public static string Describe(NotOnlineReason reason) => reason switch
    {
        NotOnlineReason.NrCpus => "nr_cpus=",
        NotOnlineReason.Limit => "beyond the CPU limit",
        NotOnlineReason.FailedStart => "failed to start",
        _ => "online",
    };
}
