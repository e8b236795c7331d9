// A dump people can debug, through the front door (`./build.sh run`): after an oops on an AP, gdb
// shows file:line and unwinds the oopsing CPU through the trap frame into the interrupted idle loop
// and down to the stack's bottom; our inspector prints the same trace for every CPU, their stop
// states and the timeline, as text and as JSON, and the log as vmcore-dmesg does; drgn (Debian's
// python3-drgn, through tools/drgn_vmcore.py) finds one thread per register note. And a CPU that
// never answered the shootdown still has its stop-status note, which the reports read.
using System.Text.Json;
using System.Text.RegularExpressions;
using Xunit;

namespace Nmidump.QemuTests;

public class DebugTests
{
    static string Vmcore(string dir) => Path.Combine(dir, "vmcore");

    /// <summary>gdb's "thread apply all bt": the frames of each thread ("LWP n" = pr_pid = CPU + 1), innermost first.</summary>
    static Dictionary<int, List<string>> GdbThreads(string bt)
    {
        var threads = new Dictionary<int, List<string>>();
        List<string>? current = null;
        foreach (string line in bt.Split('\n'))
        {
            var thread = Regex.Match(line, @"^Thread \d+ \(LWP (\d+)\)");
            if (thread.Success) threads[int.Parse(thread.Groups[1].Value)] = current = [];
            else if (current != null && Regex.IsMatch(line, @"^#\d+\s")) current.Add(line);
        }
        return threads;
    }

    [Fact]
    public void OopsOnAnAp_UnwindsThroughTheTrapInGdbDrgnAndTheInspector()
    {
        var (status, output, dir) = DumpTests.Run("--smp", "4", "--mem", "128", "--no-nmi", "--append", "crashtest=BUG crashtest_cpu=1");
        try
        {
            Assert.True(status == 0, $"run exited {status}:\n{output}");
            string vmcore = Vmcore(dir);

            // gdb: CPU 1 (LWP 2) is in crashtest_ud2, called from the crashtest IPI's handler, which
            // interrupted the idle loop; every thread ends at stack_bottom_call, no "??" before it.
            var (gs, gdb) = DumpTests.Tool("gdb", "-batch", "-nx", Kernel.Image, vmcore, "-ex", "thread apply all bt");
            Assert.True(gs == 0, gdb);
            var threads = GdbThreads(gdb);
            Assert.Equal([1, 2, 3, 4], threads.Keys.Order());
            List<string> oops = threads[2];
            string[] expected = ["crashtest_ud2", "Kernel_Crashtest__VictimPart", "Kernel_Interrupts__Handle", "Kernel_Traps__Dispatch",
                "<signal handler called>", "cpu_idle", "Kernel_SmpBoot__ApMain", "stack_bottom_call"];
            Assert.True(expected.Length == oops.Count && expected.Zip(oops).All(p => p.Second.Contains(p.First)), "CPU 1's trace:\n" + string.Join('\n', oops) + "\n" + gdb);
            Assert.Matches(@"VictimPart \(\) at \S+/kernel/debug/Crashtest\.cs:\d+", oops[1]);
            foreach (var (lwp, frames) in threads)
            {
                Assert.DoesNotContain(frames.SkipLast(1), f => f.Contains("??"));
                Assert.Contains("stack_bottom_call", frames[^1]);
                Assert.All(frames.Where(f => f.Contains(" Kernel_")), f => Assert.Matches(@"\.cs:\d+$", f));
            }

            // The inspector (run printed it with --kernel): a call trace per CPU, the trap marked.
            Assert.Equal(4, Regex.Matches(output, @"^  Call Trace:$", RegexOptions.Multiline).Count);
            Assert.Equal(4, Regex.Matches(output, @"^   \(outermost frame\)$", RegexOptions.Multiline).Count);
            Assert.Matches(@"#1\s+[0-9a-f]{16} Kernel_Crashtest__VictimPart\+0x[0-9a-f]+/0x[0-9a-f]+  \S*kernel/debug/Crashtest\.cs:\d+", output);
            Assert.Contains("   -- interrupted --", output);
            Assert.Matches(@"\n\s+1\s+1\s+2\s+crashtest_ud2\+0x0/0x\S+\s.*panicking\s+panic\n", output);
            Assert.Equal(3, Regex.Matches(output, @"^\s+\d\s+\d\s+\d\s+cpu_idle\+0x[0-9a-f]+/0x[0-9a-f]+(\s+[0-9a-f]{8,16}){3}\s+answered the shootdown$", RegexOptions.Multiline).Count);
            Assert.Matches(@"\+\s+0\.000 ms  panic on CPU 1", output);
            Assert.Matches(@"\+\s+\d+\.\d{3} ms  jump to the capture image\n\s+\+\s+\d+\.\d{3} ms  capture kernel entered", output);

            var (js, json) = DumpTests.Tool("dotnet", DumpTests.Driver, "inspect", vmcore, "--kernel", Kernel.Image, "--json");
            Assert.True(js == 0, json);
            using var doc = JsonDocument.Parse(json);
            var cpus = doc.RootElement.GetProperty("cpus").EnumerateArray().ToList();
            Assert.Equal([0, 1, 2, 3], cpus.Select(c => c.GetProperty("cpu").GetInt32()));
            var frames1 = cpus[1].GetProperty("backtrace").EnumerateArray().ToList();
            Assert.Equal("crashtest_ud2", frames1[0].GetProperty("symbol").GetString());
            Assert.EndsWith("kernel/debug/Crashtest.cs", frames1[1].GetProperty("file").GetString());
            Assert.True(frames1[1].GetProperty("line").GetInt32() > 0);
            Assert.All(cpus, c => Assert.Equal("stack_bottom_call", c.GetProperty("backtrace").EnumerateArray().Last().GetProperty("symbol").GetString()));

            var (ds, dmesg) = DumpTests.Tool("dotnet", DumpTests.Driver, "inspect", vmcore, "dmesg");
            Assert.True(ds == 0, dmesg);
            string[] log = dmesg.TrimEnd('\n').Split('\n');
            Assert.All(log, l => Assert.Matches(@"^<[0-7]>\[\s*\d+\.\d{6}\] ", l));
            Assert.Contains(log, l => l.Contains("] invalid opcode: 0000 [#1] SMP"));

            // drgn on the generic-core path: one thread per register note, kmain read by symbol.
            var (rs, drgn) = DumpTests.Tool(Path.Combine(Kernel.Root, "tools", "drgn_vmcore.py"), vmcore, Kernel.Image);
            Assert.True(rs == 0, drgn);
            Assert.Matches(@"(?m)^cpu 1 pid 2 rip crashtest_ud2\+0x0/", drgn);
            Assert.Equal(4, Regex.Matches(drgn, @"(?m)^cpu \d pid \d rip ").Count);
            Assert.Matches(@"(?m)^  #\d+\s+0x[0-9a-f]+ Kernel_Crashtest__VictimPart\+\S+ at \S+Crashtest\.cs:\d+$", drgn);
            Assert.Matches(@"kmain at 0x[0-9a-f]+: 55 .* \(matches ", drgn);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void NmiHangVictim_HasAStopStatusNoteThatEveryReportReads()
    {
        var (status, output, dir) = DumpTests.Run("--smp", "4", "--mem", "128", "--no-nmi", "--append", "crashtest=NMI_HANG crashtest_cpu=2");
        try
        {
            Assert.True(status == 0, $"run exited {status}:\n{output}");
            var (rs, notes) = DumpTests.Tool("readelf", "-n", Vmcore(dir));
            Assert.Equal(0, rs);
            Assert.Equal(3, Regex.Matches(notes, @"CORE\s+0x00000150\s+NT_PRSTATUS").Count);
            Assert.Equal(4, Regex.Matches(notes, @"NMIDUMP\s+0x00000018").Count);

            Assert.Contains("missing CPU 2: never answered, waited 1000 ms", output);
            string serial = File.ReadAllText(Path.Combine(dir, "serial.log"));
            Assert.Matches(@"capture: CPU 2 missing: never answered, waited 1000 ms", serial);
            Assert.Matches(@"capture: CPU 0 apic 0 rip \S+ rsp [0-9a-f]{16} r12 [0-9a-f]{16}; panicking", serial);

            var (js, json) = DumpTests.Tool("dotnet", DumpTests.Driver, "inspect", Vmcore(dir), "--json", "--cpu", "2");
            Assert.True(js == 0, json);
            using var doc = JsonDocument.Parse(json);
            JsonElement cpu2 = Assert.Single(doc.RootElement.GetProperty("cpus").EnumerateArray());
            Assert.Equal("never_answered", cpu2.GetProperty("stop").GetProperty("name").GetString());
            Assert.Equal(1000, cpu2.GetProperty("stop").GetProperty("waitedMs").GetInt32());
            Assert.Equal(JsonValueKind.Null, cpu2.GetProperty("registers").ValueKind);

            // gdb still sees exactly the three register notes as threads.
            var (gs, gdb) = DumpTests.Tool("gdb", "-batch", "-nx", Kernel.Image, Vmcore(dir), "-ex", "info threads");
            Assert.True(gs == 0, gdb);
            Assert.Equal(["1", "2", "4"], Regex.Matches(gdb, @"LWP (\d+)").Select(m => m.Groups[1].Value).Distinct().Order());
            Assert.DoesNotContain("warning", gdb);
        }
        finally { Directory.Delete(dir, true); }
    }
}
