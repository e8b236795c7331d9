// loglevel=: Linux's console_loglevel. It filters the console only: the kmsg ring keeps every record
// with its level, a panic shows everything (console_verbose), and the dump's log has it all.
using System.Text.RegularExpressions;
using Xunit;

namespace Nmidump.QemuTests;

public class LogLevelTests
{
    static readonly string Driver = Path.Combine(Kernel.Root, "out", "tools", "Build.dll");

    [Fact]
    public void Loglevel4_HidesInfoLinesOnTheConsole_ButTheRingAndTheDumpKeepThemWithTheirLevels()
    {
        string dir = Directory.CreateTempSubdirectory("nmidump-loglevel-").FullName;
        try
        {
            var (status, output) = DumpTests.Tool("dotnet", Driver, "run", "--no-build", "--no-nmi", "--out", dir, "--timeout", "180",
                "--append", "loglevel=4 crashtest=PANIC");
            Assert.True(status == 0, $"run exited {status}:\n{output}");
            string[] serial = File.ReadAllLines(Path.Combine(dir, "serial.log"));
            int panic = Array.FindIndex(serial, l => l.Contains("Kernel panic - not syncing: crashtest: PANIC"));
            Assert.True(panic >= 0, "the panic line (KERN_EMERG) must reach the console at loglevel=4:\n" + string.Join('\n', serial));
            string[] beforePanic = serial[..panic];
            // KERN_INFO (6) and KERN_NOTICE (5) are not more urgent than 4: not on the console.
            Assert.DoesNotContain(beforePanic, l => l.Contains("smp: Brought up"));
            Assert.DoesNotContain(beforePanic, l => l.Contains("crashtest: performing"));
            Assert.DoesNotContain(beforePanic, l => l.Contains("Command line: "));

            var (inspectStatus, report) = DumpTests.Tool("dotnet", Driver, "inspect", Path.Combine(dir, "vmcore"), "--log-lines", "1000");
            Assert.True(inspectStatus == 0, report);
            // The ring kept them, each with its level: <5> banner and command line, <6> info, <0> the panic.
            Assert.Matches(new Regex(@"^<5>\[\s*\d+\.\d{6}\] Command line: .*loglevel=4", RegexOptions.Multiline), report);
            Assert.Matches(new Regex(@"^<6>\[\s*\d+\.\d{6}\] smp: Brought up 1 node, 4 CPUs", RegexOptions.Multiline), report);
            Assert.Matches(new Regex(@"^<6>\[\s*\d+\.\d{6}\] crashtest: performing PANIC on CPU 0", RegexOptions.Multiline), report);
            Assert.Matches(new Regex(@"^<0>\[\s*\d+\.\d{6}\] Kernel panic - not syncing: crashtest: PANIC", RegexOptions.Multiline), report);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void MalformedLoglevel_IsReportedAndTheDefaultKept()
    {
        using var vm = Kernel.Boot("loglevel=9 poweroff_after_ms=0");
        vm.Expect("Malformed boot parameter loglevel=9: expected an integer from 0 to 8; using 7");
        vm.Expect("smp: Brought up");   // the default console level shows KERN_INFO
    }
}
