// One torture run's draw: everything about the machine, its boot parameters, its crash scenario and
// its NMIs, taken from the seed and the run's number alone, so `--replay S:K` boots the same draw.
// The crash scenarios and apic_extnmi's modes are read from the kernel's own parameter table.
using System.Globalization;
using System.Text;

namespace Nmidump.Build;

/// <summary>A console line an NMI is timed from (the kernel prints each as a phase begins).</summary>
public enum NmiAnchor
{
    /// <summary>The kernel's first console line: early boot, before the memory map and ACPI.</summary>
    FirstLine,
    /// <summary>"smp: Bringing up secondary CPUs": the APs are starting.</summary>
    SmpBringUp,
    /// <summary>"crashkernel reserved": the capture image is being loaded and digested.</summary>
    KexecLoad,
    /// <summary>"crashtest: performing": the crash scenario is under way.</summary>
    Crashtest,
    /// <summary>"idle: nothing more to do": the machine is idle.</summary>
    Idle,
    /// <summary>"capture: exporting vmcore": the capture kernel streams the dump.</summary>
    CaptureExport,
}

/// <summary>One inject-nmi: <paramref name="DelayMs"/> after the <paramref name="Anchor"/> line arrived.</summary>
public sealed record NmiMoment(NmiAnchor Anchor, int DelayMs)
{
    public override string ToString() => $"{TortureDraw.AnchorName(Anchor)}+{DelayMs}ms";
}

/// <summary>What one run is: drawn by <see cref="TortureDraw.Make"/>, never edited.</summary>
public sealed record TortureDraw(long Seed, int Run, int Smp, int MemoryMiB, string ApicExtnmi, bool UnknownNmiPanic,
    bool PostNotifiers, string? Crashtest, int CrashtestCpu, int CrashtestDelayMs, IReadOnlyList<NmiMoment> Nmis)
{
    public const int MinCpus = 1, MaxCpus = 16;
    public const int MinMemoryMiB = 128, MaxMemoryMiB = 1024, MemoryStepMiB = 64;
    public const int MaxCrashtestDelayMs = 400;
    public const string Crashkernel = "crashkernel=16M";

    /// <summary>The crash scenarios, from the parameter table (crashtest='s words), in its order.</summary>
    public static IReadOnlyList<string> Triggers { get; } = Words(BootParam.Crashtest);
    /// <summary>apic_extnmi='s modes, from the parameter table.</summary>
    public static IReadOnlyList<string> ExtnmiModes { get; } = Words(BootParam.ApicExtnmi);

    static List<string> Words(BootParam p)
    {
        var words = BootParams.Spec(p).Words;
        var list = new List<string>();
        for (int i = 0; i < BootParams.WordCount(words); i++) list.Add(Encoding.ASCII.GetString(BootParams.Word(words, i)));
        return list;
    }

    /// <summary>The scenario as the kernel's enum (the table's words are in the enum's order).</summary>
    public CrashTestType Scenario => Crashtest == null ? CrashTestType.None : (CrashTestType)Triggers.ToList().IndexOf(Crashtest);

    /// <summary>Draws run <paramref name="run"/> of seed <paramref name="seed"/>.</summary>
    public static TortureDraw Make(long seed, int run)
    {
        var r = new SplitMix(seed, run);
        int smp = MinCpus + r.Below(MaxCpus - MinCpus + 1);
        int mem = MinMemoryMiB + MemoryStepMiB * r.Below((MaxMemoryMiB - MinMemoryMiB) / MemoryStepMiB + 1);
        string extnmi = ExtnmiModes[r.Below(ExtnmiModes.Count)];
        bool unknownNmiPanic = r.Below(2) == 1;
        bool post = r.Below(2) == 1;
        // Two runs in three have a scenario: the NMI-only runs are the other third.
        string? crashtest = r.Below(3) == 0 ? null : Triggers[r.Below(Triggers.Count)];
        int cpu = r.Below(smp);
        int delay = r.Below(MaxCrashtestDelayMs + 1);
        var anchors = Enum.GetValues<NmiAnchor>().Where(a => a != NmiAnchor.Crashtest || crashtest != null).ToArray();
        var nmis = new List<NmiMoment>();
        int count = 1 + r.Below(3);
        for (int i = 0; i < count; i++)
        {
            var anchor = anchors[r.Below(anchors.Length)];
            nmis.Add(new NmiMoment(anchor, r.Below(MaxDelayMs(anchor) + 1)));
        }
        return new TortureDraw(seed, run, smp, mem, extnmi, unknownNmiPanic, post, crashtest,
            crashtest == null ? 0 : cpu, crashtest == null ? 0 : delay, nmis);
    }

    /// <summary>How far past its anchor an NMI may land: about the length of the phase the anchor opens under TCG.</summary>
    public static int MaxDelayMs(NmiAnchor a) => a switch
    {
        NmiAnchor.FirstLine => 40,
        NmiAnchor.SmpBringUp => 60,
        NmiAnchor.KexecLoad => 300,
        NmiAnchor.Crashtest => 400,
        NmiAnchor.Idle => 300,
        _ => 20,
    };

    public static string AnchorName(NmiAnchor a) => a switch
    {
        NmiAnchor.FirstLine => "first-line",
        NmiAnchor.SmpBringUp => "smp-bringup",
        NmiAnchor.KexecLoad => "kexec-load",
        NmiAnchor.Crashtest => "crashtest",
        NmiAnchor.Idle => "idle",
        _ => "capture-export",
    };

    /// <summary>The console line (a part of it) that opens the anchor's phase.</summary>
    public static string AnchorText(NmiAnchor a) => a switch
    {
        NmiAnchor.SmpBringUp => "smp: Bringing up secondary CPUs",
        NmiAnchor.KexecLoad => "crashkernel reserved:",
        NmiAnchor.Crashtest => "crashtest: performing",
        NmiAnchor.Idle => "idle: nothing more to do",
        NmiAnchor.CaptureExport => "capture: exporting vmcore",
        _ => "",
    };

    /// <summary>The first kernel's command line.</summary>
    public string Append
    {
        get
        {
            var a = new List<string> { $"apic_extnmi={ApicExtnmi}" };
            if (UnknownNmiPanic) a.Add("unknown_nmi_panic");
            if (PostNotifiers) a.Add("crash_kexec_post_notifiers");
            a.Add(Crashkernel);
            if (Crashtest != null)
                a.AddRange([$"crashtest={Crashtest}", $"crashtest_cpu={CrashtestCpu}", $"crashtest_delay_ms={CrashtestDelayMs}"]);
            return string.Join(' ', a);
        }
    }

    /// <summary>The draw in one short phrase, for the run's line.</summary>
    public string Describe()
    {
        var d = new StringBuilder($"smp {Smp} mem {MemoryMiB}M extnmi={ApicExtnmi}");
        if (UnknownNmiPanic) d.Append(" unp");
        if (PostNotifiers) d.Append(" post");
        d.Append(Crashtest == null ? " no-crashtest" : $" {Crashtest}@cpu{CrashtestCpu}+{CrashtestDelayMs}ms");
        d.Append(" nmi ").Append(string.Join(',', Nmis));
        return d.ToString();
    }

    /// <summary>"S:K" as --replay takes it.</summary>
    public static bool TryParseReplay(string text, out long seed, out int run)
    {
        seed = 0;
        run = 0;
        int colon = text.IndexOf(':');
        return colon > 0
            && long.TryParse(text.AsSpan(0, colon), NumberStyles.Integer, CultureInfo.InvariantCulture, out seed)
            && int.TryParse(text.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out run) && run >= 1;
    }

    /// <summary>
    /// SplitMix64 over the seed and the run's number: the same numbers on every host and .NET
    /// version (System.Random's seeded sequence is an implementation detail), and each run's draw
    /// independent of how many runs came before it.
    /// </summary>
    struct SplitMix(long seed, int run)
    {
        ulong _state = (ulong)seed * 0x9E3779B97F4A7C15UL ^ (ulong)run * 0xD1B54A32D192ED03UL;

        ulong Next()
        {
            ulong z = _state += 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }

        /// <summary>Uniform in [0, n).</summary>
        public int Below(int n) => (int)(Next() % (ulong)n);
    }
}
