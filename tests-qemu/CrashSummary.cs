// Reads the panicking CPU's summary lines ("crash: CPU %d apic %d rip %s+0x%x/0x%x rsp %016lx r12
// %016lx" or "crash: CPU %d missing") and the capture report's (the same, then "; " and the CPU's
// stop state) back into records the tests can check.
using System.Text.RegularExpressions;
using Nmidump.Qemu;
using Xunit;

namespace Nmidump.QemuTests;

/// <param name="Stop">The stop state the capture report adds ("answered the shootdown"), null in the first kernel's summary.</param>
public sealed record CpuSummary(int Cpu, int Apic, string Function, ulong Offset, ulong Size, ulong Rsp, ulong R12, string? Stop = null);

public static class CrashSummary
{
    /// <summary>The line format both the panicking CPU ("crash: ") and the capture kernel ("capture: ") print.</summary>
    static Regex Line(string source) => new($@"^{source}: CPU (\d+) apic (\d+) rip (\S+)\+0x([0-9a-f]+)/0x([0-9a-f]+) rsp ([0-9a-f]{{16}}) r12 ([0-9a-f]{{16}})(?:; (.+))?$");
    static readonly Regex Missing = new(@"^crash: CPU (\d+) missing$");

    /// <summary>The CPU lines of the panicking CPU's summary, or of the capture report with source "capture".</summary>
    public static Dictionary<int, CpuSummary> Read(QemuMachine vm, string source = "crash")
    {
        var result = new Dictionary<int, CpuSummary>();
        var line = Line(source);
        foreach (var m in vm.Messages().Select(x => line.Match(x)).Where(m => m.Success))
        {
            int cpu = int.Parse(m.Groups[1].Value);
            Assert.False(result.ContainsKey(cpu), $"CPU {cpu} summarised twice: the other CPUs were stopped more than once");
            result[cpu] = new CpuSummary(cpu, int.Parse(m.Groups[2].Value), m.Groups[3].Value,
                Convert.ToUInt64(m.Groups[4].Value, 16), Convert.ToUInt64(m.Groups[5].Value, 16),
                Convert.ToUInt64(m.Groups[6].Value, 16), Convert.ToUInt64(m.Groups[7].Value, 16),
                m.Groups[8].Success ? m.Groups[8].Value : null);
        }
        return result;
    }

    public static IReadOnlyList<int> MissingCpus(QemuMachine vm) =>
        vm.Messages().Select(x => Missing.Match(x)).Where(m => m.Success).Select(m => int.Parse(m.Groups[1].Value)).ToList();

    /// <summary>Waits until the summary has a register line for every CPU; a CPU named missing fails.</summary>
    public static Dictionary<int, CpuSummary> WaitForAll(QemuMachine vm, int cpus)
    {
        WaitForSummary(vm, cpus);
        Assert.True(MissingCpus(vm).Count == 0, $"CPUs {string.Join(", ", MissingCpus(vm))} are missing from the summary:\n{vm.SerialText}");
        var notes = Read(vm);
        Assert.Equal(Enumerable.Range(0, cpus), notes.Keys.Order());
        return notes;
    }

    /// <summary>Waits until the summary has a line for every CPU, registers or "missing" (a CPU wedged in NMI context).</summary>
    public static void WaitForSummary(QemuMachine vm, int cpus)
    {
        for (int cpu = 0; cpu < cpus; cpu++)
            vm.Expect(new Regex($@"^\[\s*\d+\.\d+\] crash: CPU {cpu} (apic|missing)"));
    }

    /// <summary>The CPU's registers are its own, taken in the idle loop: RIP in cpu_idle, r12 = 0xC0DE0000 + CPU.</summary>
    public static void AssertIdle(CpuSummary s)
    {
        Assert.True(s.Function == "cpu_idle" && s.R12 == 0xC0DE0000UL + (ulong)s.Cpu,
            $"CPU {s.Cpu} was not stopped in its idle loop: rip {s.Function}+0x{s.Offset:x}, r12 {s.R12:x16}");
    }

    /// <summary>Like AssertIdle, with the whole serial log in the failure message.</summary>
    public static void AssertIdle(QemuMachine vm, CpuSummary s)
    {
        if (s.Function == "cpu_idle" && s.R12 == 0xC0DE0000UL + (ulong)s.Cpu) return;
        Assert.Fail($"CPU {s.Cpu} was not stopped in its idle loop: rip {s.Function}+0x{s.Offset:x}, r12 {s.R12:x16}\n{vm.SerialText}");
    }
}
