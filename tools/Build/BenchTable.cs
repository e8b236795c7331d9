// `./build.sh bench [--runs N] [--record]`: every benchmark at the cases the record keeps, then one
// table, each row from this run with its peer measured in the same run where there is one. With
// --record the table, the command and the date replace the "Latest" section of docs/benchmarks.md.
using System.Diagnostics;
using System.Text;

namespace Nmidump.Build;

public static class BenchTable
{
    public sealed record Row(string Bench, string Case, string Figure, string Peer);

    static List<Row>? s_rows;

    /// <summary>Adds a row when the whole table is being gathered (a single benchmark only prints).</summary>
    public static void Add(string bench, string @case, string figure, string peer) => s_rows?.Add(new Row(bench, @case, figure, peer));

    const string Begin = "<!-- bench:latest -->", End = "<!-- /bench:latest -->";

    public static int All(string[] args)
    {
        var o = new Options(args, "--runs", "--record");
        int runs = o.GetInt("--runs", 3, 1, 50);
        bool record = o.Get("--record") != null;
        string command = "./build.sh bench" + (runs != 3 ? $" --runs {runs}" : "") + (record ? " --record" : "");
        string load = LoadAverage();
        var clock = Stopwatch.StartNew();
        s_rows = [];
        try
        {
            // Boot up to the largest machine the kernel brings up (CpuLimit.MaxCpus); shootdowns at
            // the issue's counts in both NMI modes; dumps at -smp 4 for 256 MiB, 1 GiB and 6 GiB, the
            // default level and the full dump, each beside QEMU's dump-guest-memory of the same guest.
            BenchCommand.Boot(["--runs", runs.ToString(), "--smp", $"1,8,64,{CpuLimit.MaxCpus}"]);
            BenchCommand.Shootdown(["--runs", runs.ToString(), "--smp", "2,8,64", "--extnmi", "bsp,all"]);
            BenchCommand.KexecTiming(["--runs", Math.Max(runs, 5).ToString(), "--smp", "4"]);
            BenchCommand.Dump(["--cases", "256:31,256:0,1024:31,1024:0,6144:31,6144:0", "--smp", "4"]);
            string table = Markdown(s_rows);
            Console.WriteLine();
            Console.WriteLine($"bench: {s_rows.Count} rows in {clock.Elapsed.TotalMinutes:F1} min, load average {load}");
            Console.WriteLine(table);
            if (record)
            {
                string doc = Path.Combine(Paths.Root, "docs", "benchmarks.md");
                File.WriteAllText(doc, Replace(File.ReadAllText(doc), Section(table, command, load, clock.Elapsed)));
                Console.WriteLine($"bench: recorded in {Paths.Relative(doc)}");
            }
        }
        finally
        {
            s_rows = null;
        }
        return 0;
    }

    public static string Markdown(IEnumerable<Row> rows)
    {
        var t = new StringBuilder("| benchmark | case | figure | peer, same run |\n|---|---|---|---|\n");
        foreach (var r in rows) t.Append($"| {r.Bench} | {r.Case} | {r.Figure} | {r.Peer} |\n");
        return t.ToString().TrimEnd();
    }

    static string Section(string table, string command, string load, TimeSpan took) =>
        $"{Begin}\n## Latest: `{command}`, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC\n\n" +
        $"One run of every benchmark on this machine ({Environment.ProcessorCount} cores, QEMU TCG; load average {load} at the start; " +
        $"{took.TotalMinutes:F0} min). Medians of {(command.Contains("--runs") ? "the given" : "3")} runs where a row says min and max; " +
        "host time is wall-clock time, guest time the guest's TSC; the sections below keep earlier runs and what changed.\n\n" +
        $"{table}\n{End}";

    /// <summary>The document with its Latest section replaced, or inserted before the first "## " section.</summary>
    public static string Replace(string doc, string section)
    {
        int b = doc.IndexOf(Begin, StringComparison.Ordinal), e = doc.IndexOf(End, StringComparison.Ordinal);
        if (b >= 0 && e > b) return doc[..b] + section + doc[(e + End.Length)..];
        int first = doc.IndexOf("\n## ", StringComparison.Ordinal);
        return first < 0 ? doc.TrimEnd() + "\n\n" + section + "\n" : doc[..(first + 1)] + section + "\n\n" + doc[(first + 1)..];
    }

    static string LoadAverage()
    {
        try { return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)); }
        catch (IOException) { return "unknown"; }
    }
}
