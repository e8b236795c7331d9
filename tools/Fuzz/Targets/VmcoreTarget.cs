// Fuzz target: the inspector's vmcore reader, over whole files: VmcoreFile.Open (a refusal is its
// one line, as `inspect` prints it with status 2), then everything `inspect` does with a file it
// opened: DumpInspector.Inspect (registers, symbols, code, backtraces, stop states, timeline,
// memory, log), the text report and the JSON report. A damaged dump may only add warnings, each a
// clear line; nothing may throw.
using System.Text;
using CsCheck;
using Nmidump.Inspector;
using Spectre.Console;

namespace Nmidump.Fuzz;

public sealed class VmcoreTarget : FuzzTarget
{
    public override string Name => "vmcore";
    public override string What => "the inspector's vmcore reader (VmcoreFile.Open, DumpInspector.Inspect, the text and JSON reports)";
    public override int HotPrefix => 4096;

    readonly List<byte[]> _seeds;
    public override IReadOnlyList<byte[]> Seeds => _seeds;

    public VmcoreTarget()
    {
        _seeds = [FuzzMachine.RealVmcoreHeaders, FuzzMachine.Vmcore(2, 6), FuzzMachine.Vmcore(4, 30)];
    }

    /// <summary>Synthetic crashes of 1-8 CPUs with a log of 0-40 lines, as the capture kernel writes them.</summary>
    public override Gen<byte[]> Generated { get; } = Gen.Select(Gen.Int[1, 8], Gen.Int[0, 40], FuzzMachine.Vmcore);

    [ThreadStatic] static StringWriter? t_text;
    [ThreadStatic] static IAnsiConsole? t_console;

    public override FuzzOutcome Check(byte[] input)
    {
        if (!VmcoreFile.Open(input, out VmcoreFile core, out ElfCoreError error))
            return FuzzOutcome.Rejected($"fuzz.vmcore: {CoreHeaderTarget.Describe(error)}");
        Inspection r = DumpInspector.Inspect("fuzz.vmcore", core, kernel: null, kernelPath: null, logLines: 20, disassemble: true);
        foreach (string w in r.Warnings) AssertClear(w, FuzzRunner.Hex(input));
        t_text ??= new StringWriter();
        t_text.GetStringBuilder().Clear();
        t_console ??= AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.No, ColorSystem = ColorSystemSupport.NoColors, Interactive = InteractionSupport.No,
            Out = new AnsiConsoleOutput(t_text),
        });
        Report.Write(r, t_console, terminal: false);
        JsonReport.Write(r, Stream.Null);
        _ = Report.DumpLine(r);
        // Opened and inspected: taken, warnings or not (each was checked to be a clear line above).
        // Only a file Open refuses counts as refused, as `inspect` exits 2 for it alone.
        return FuzzOutcome.Ok;
    }
}
