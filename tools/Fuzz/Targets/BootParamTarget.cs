// Fuzz target: the kernel's boot-parameter parser (kernel/params: CommandLine, BootParams.Parse),
// fed whole command lines. Every value it keeps lies in its row's range, and every parameter it
// refuses or does not know is named in a clear line (the console's "Malformed boot parameter ..."
// and "Unknown kernel command line parameters ..."), whatever bytes the line holds.
using System.Text;
using CsCheck;

namespace Nmidump.Fuzz;

public sealed class BootParamTarget : FuzzTarget
{
    public override string Name => "params";
    public override string What => "the boot-parameter parser (BootParams.Parse over a whole command line)";
    public override int HotPrefix => 4096;

    /// <summary>Command lines from the README, the tests, run's default and the torture's draws.</summary>
    static readonly string[] RealLines =
    [
        "apic_extnmi=all unknown_nmi_panic crashkernel=16M",
        "apic_extnmi=bsp unknown_nmi_panic crash_kexec_post_notifiers crashkernel=16M crashtest=NMI_HANG crashtest_cpu=3 crashtest_delay_ms=120",
        "crashkernel=512M-2G:64M,2G-:128M panic=-1 nr_cpus=2 loglevel=4",
        "crashtest=PANIC crashtest_delay_ms=600 poweroff_after_ms=100 acpi=off",
        "console=ttyS0 \"quoted value\" panic=abc foo bar=1 -- init args here",
        "kexec_corrupt_test=handover selftest=highmem nmi_reason=iochk cpu_init_udelay=10000 crash_channel=1 unknown_nmi_one_cpu",
        "dump_channels=both dump_level=31 capture_nmi_test",
        "apic-extnmi=none panic_on_io_nmi=1 panic_on_unrecovered_nmi=y panic_on_oops=off poweroff_at_entry",
        "crashkernel=64M@256M nr_cpus=4096 panic=2147483647 crashtest_cpu=-1",
    ];

    static readonly List<byte[]> s_seeds = RealLines.Select(Encoding.ASCII.GetBytes).ToList();
    public override IReadOnlyList<byte[]> Seeds => s_seeds;

    /// <summary>Names from the kernel's own table, plus near misses.</summary>
    static readonly string[] Names = Enumerable.Range(0, (int)BootParam.Count)
        .Select(i => Encoding.ASCII.GetString(BootParams.Spec((BootParam)i).Name))
        .Concat(["foo", "console", "apic-extnmi", "CRASHKERNEL", "panic_", "", "=", "\""]).ToArray();

    static readonly string[] Values =
    [
        "", "0", "1", "-1", "y", "n", "on", "off", "yes", "bsp", "all", "none", "PANIC", "NMI_HANG", "16M", "512M-2G:64M,2G-:128M",
        "64M@256M", "0x10", "0X7fffffff", "2147483648", "-2147483649", "9223372036854775807", "99999999999999999999", "1k", "4G",
        "abc", " ", "\"a b\"", "\"", "--", "\t", "==", "1e3", "+5", "0b101", "\u00ff", "\u0001",
    ];

    static readonly Gen<string> Token = Gen.Frequency(
        (6, Gen.Select(Gen.Int[0, Names.Length - 1], Gen.Int[0, Values.Length - 1], Gen.Bool, (n, v, bare) => bare ? Names[n] : $"{Names[n]}={Values[v]}")),
        (1, Gen.Select(Gen.Int[0, Names.Length - 1], Gen.String[Gen.Char[(char)1, (char)255], 0, 40], (n, v) => $"{Names[n]}={v}")),
        (1, Gen.String[Gen.Char[(char)1, (char)127], 0, 20]));

    public override Gen<byte[]> Generated { get; } = Gen.Select(Token.Array[0, 24], Gen.Frequency((4, Gen.Const(" ")), (1, Gen.Const("  \t")), (1, Gen.Const(" -- "))),
        (tokens, sep) => Encoding.Latin1.GetBytes(string.Join(sep, tokens)));

    public override FuzzOutcome Check(byte[] input)
    {
        BootParams.Parse(input, out KernelParams values, out BootParamsReport report);
        for (int i = 0; i < (int)BootParam.Count; i++)
        {
            var p = (BootParam)i;
            BootParamSpec spec = BootParams.Spec(p);
            if (!values.IsSet(p) || !values.WasGiven(p)) continue;
            long v = values.Value(p);
            bool inRange = spec.Type switch
            {
                BootParamType.Flag => v is 0 or 1,
                BootParamType.Integer => v >= spec.Min && v <= spec.Max,
                BootParamType.Enum => v >= 0 && v < BootParams.WordCount(spec.Words),
                _ => values.StringValue(p).Length <= spec.MaxLength,
            };
            if (!inRange) throw new FuzzFailure($"{Encoding.ASCII.GetString(spec.Name)} holds {v}, outside its row's range (input {FuzzRunner.Hex(input)})");
        }
        string? first = null;
        for (int i = 0; i < report.MalformedLineCount; i++)
        {
            string line = Ascii(report.MalformedLine(i));
            if (!line.StartsWith("Malformed boot parameter ", StringComparison.Ordinal) || !line.Contains(": expected "))
                throw new FuzzFailure($"a malformed-parameter line says neither what was given nor what was expected: \"{line}\"");
            AssertClear(line, FuzzRunner.Hex(input));
            first ??= line;
        }
        if (report.UnknownCount > 0)
        {
            string line = Ascii(report.UnknownLine());
            AssertClear(line, FuzzRunner.Hex(input));
            first ??= line;
        }
        return first == null ? FuzzOutcome.Ok : FuzzOutcome.Rejected(first);
    }

    static string Ascii(LogLine l) => Encoding.Latin1.GetString(l.AsSpan());
}
