// The crash path's holes, each replayed by its crashtest trigger through the front door
// (`./build.sh run --no-nmi --smp 4 --append "crashtest=NAME crashtest_cpu=1"`), each ending in a
// verified vmcore that is then read back: the timing that used to lose a dump, a CPU's registers
// or the panic's own log lines no longer does.
using System.Globalization;
using System.Text.RegularExpressions;
using Xunit;

namespace Nmidump.QemuTests;

public class CrashHoleTests
{
    /// <summary>The trigger as a user reproduces it; the run's output and the vmcore it verified.</summary>
    static (string Output, VmcoreReader Dump) Reproduce(string scenario)
    {
        var (status, output, dir) = DumpTests.Run("--smp", "4", "--mem", "128", "--no-nmi", "--append", $"crashtest={scenario} crashtest_cpu=1");
        try
        {
            Assert.True(status == 0, $"run exited {status}:\n{output}");
            Assert.Contains("run: verified", output);
            return (output, VmcoreReader.Read(Path.Combine(dir, "vmcore")));
        }
        finally { Directory.Delete(dir, true); }
    }

    static void AssertEveryCpuSaved(VmcoreReader dump, string output)
    {
        Assert.Equal([1, 2, 3, 4], dump.Cpus.Keys.Order());
        Assert.False(dump.Vmcoreinfo.ContainsKey("CPU_MISSING"), $"a CPU did not answer the shootdown:\n{output}");
    }

    /// <summary>
    /// Hole 1: CPU 1 holds the NMI reason lock in nmi_panic, lost to CPU 0; CPU 0 takes an NMI
    /// before its shootdown. Without the fix CPU 0 spins on that lock forever and no dump comes.
    /// </summary>
    [Fact]
    public void ReasonLockPanic_ThePanickingCpuNeverWaitsForTheReasonLock_AndEveryCpuIsSaved()
    {
        var (output, dump) = Reproduce("REASON_LOCK_PANIC");
        Assert.Contains("crashtest: CPU 1 holds the NMI reason lock in nmi_panic; CPU 0 sends itself an NMI", output);
        Assert.Contains("crashtest: the NMI on the panicking CPU returned; the panic goes on", output);
        Assert.Single(Regex.Matches(output, @"^\[\s*\d+\.\d{6}\] Kernel panic - not syncing: ", RegexOptions.Multiline));   // the console's lines, not the report's
        AssertEveryCpuSaved(dump, output);
        Assert.Equal("crashtest: REASON_LOCK_PANIC", dump.Vmcoreinfo["PANIC_MESSAGE"]);
        Assert.Equal("0", dump.Vmcoreinfo["CRASH_CPU"]);
    }

    /// <summary>
    /// Hole 2: CPU 1 never answers the shootdown and writes RAM throughout the export. It is named
    /// missing, the vmcore verifies (each chunk is checksummed and sent from one copy), and its
    /// counter's page in the vmcore holds one value, written after the crash began.
    /// </summary>
    [Fact]
    public void RunawayWriter_IsNamedMissing_AndTheVmcoreVerifiesWithTheCounterAsSent()
    {
        var (output, dump) = Reproduce("RUNAWAY_WRITER");
        Assert.Contains("crash: CPU 1 did not respond to the shootdown NMI; its registers are missing", output);
        Assert.Equal("1", dump.Vmcoreinfo["CPU_MISSING"]);
        Assert.Equal([1, 3, 4], dump.Cpus.Keys.Order());
        var m = Regex.Match(output, @"crashtest: the runaway counter at 0x([0-9a-f]+) reads (\d+) at crash_kexec");
        Assert.True(m.Success, output);
        ulong address = ulong.Parse(m.Groups[1].Value, NumberStyles.HexNumber), atCrash = ulong.Parse(m.Groups[2].Value);
        Assert.Equal(0UL, address % 4096);
        byte[] page = dump.ReadPhysical(address, 4096);
        ulong inDump = BitConverter.ToUInt64(page, 0);
        Assert.True(inDump > atCrash, $"the counter in the vmcore ({inDump}) should be past its value at crash_kexec ({atCrash}): the writer ran on during the export");
        Assert.All(page.Skip(8), b => Assert.Equal(0, b));
    }

    /// <summary>
    /// Hole 3: every CPU prints without pause and the target panics mid-storm, while CPU 2 is stalled
    /// half-way through a record. The panic's lines reach the ring and the console: the console, the
    /// capture report's log and the vmcore's log all hold the panic line, no record is damaged, and
    /// the lines other CPUs lost once the panic began are counted.
    /// </summary>
    [Fact]
    public void PrintkStorm_ThePanicLinesReachTheRing_AndNoRecordIsDamaged()
    {
        var (output, dump) = Reproduce("PRINTK_STORM");
        Assert.Matches(@"capture: log: \[\s*\d+\.\d{6}\] Kernel panic - not syncing: crashtest: PRINTK_STORM", output);
        // On the console too, past the record CPU 2 reserved and never finished (torture 1:15, 1:35:
        // the panic's flush stopped there and its lines never reached the console).
        Assert.Matches(@"(?m)^\[\s*\d+\.\d{6}\] Kernel panic - not syncing: crashtest: PRINTK_STORM\r?$", output);
        Assert.Matches(@"(?m)^\[\s*\d+\.\d{6}\] CPU: 1 PID: 0 Comm: swapper/1", output);
        Assert.Contains("capture: 1 records of the first kernel's log were never finished", output);
        Assert.DoesNotContain("log ring is damaged", output);
        var dropped = Regex.Match(output, @"printk: (\d+) messages from other CPUs dropped during the panic");
        Assert.True(dropped.Success && int.Parse(dropped.Groups[1].Value) > 0, $"the lines other CPUs lost during the panic are counted and logged:\n{output}");
        var log = dump.Log();
        Assert.False(log.Corrupt, "a record in the vmcore's log ring is damaged");
        Assert.Contains("Kernel panic - not syncing: crashtest: PRINTK_STORM", log.Lines);
        Assert.Contains(log.Lines, l => l.StartsWith("printk storm: CPU "));
        int panicAt = log.Lines.ToList().IndexOf("Kernel panic - not syncing: crashtest: PRINTK_STORM");
        Assert.Contains(log.Lines.Skip(panicAt), l => l.StartsWith("crash: CPU 0 apic"));
        AssertEveryCpuSaved(dump, output);
    }

    /// <summary>Hole 5: CPU 1 oopses inside an NMI handler while CPU 0 panics; it saves the registers of its oops.</summary>
    [Fact]
    public void NmiOopsRace_TheCpuThatOopsedInNmiContextSavesItsRegisters()
    {
        var (output, dump) = Reproduce("NMI_OOPS_RACE");
        AssertEveryCpuSaved(dump, output);
        var ud2 = ElfFile.Read(Kernel.Image).Symbols.First(s => s.Name == "crashtest_ud2");
        Assert.Equal(ud2.Address, dump.Cpus[2].Rip);
        Assert.Equal("0", dump.Vmcoreinfo["CRASH_CPU"]);
        Assert.Equal("crashtest: NMI_OOPS_RACE", dump.Vmcoreinfo["PANIC_MESSAGE"]);
    }

    /// <summary>
    /// Hole 6: a panic notifier faults (crash_kexec_post_notifiers, turned on by the trigger): an
    /// oops, or a double fault that re-enters panic() from the #DF stack. The dump is still complete.
    /// </summary>
    [Theory]
    [InlineData("NOTIFIER_OOPS", "invalid opcode: 0000 [#1] SMP")]
    [InlineData("PANIC_DOUBLE_FAULT", "double fault: 0000 [#1] SMP")]
    public void AFaultInsidePanic_StillEndsInACompleteDump(string scenario, string oops)
    {
        var (output, dump) = Reproduce(scenario);
        Assert.Contains("crashtest: sets crash_kexec_post_notifiers=1", output);
        Assert.Contains(oops, output);
        Assert.Contains("panic: a fault inside the panic; going straight to crash_kexec", output);
        AssertEveryCpuSaved(dump, output);
        Assert.Equal($"crashtest: {scenario}", dump.Vmcoreinfo["PANIC_MESSAGE"]);
        Assert.Equal("1", dump.Vmcoreinfo["CRASH_CPU"]);
    }
}
