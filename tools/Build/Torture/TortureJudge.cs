// The torture's judge: from what one run showed (its console, how it ended, the transfer and the
// vmcore) and what was drawn, decide what must hold and whether it did. Pure: the host tests feed it
// made-up consoles and dumps. What must hold follows the issue: a crash after the image is armed
// ends in exactly one panic (or one oops straight to crash_kexec) and a complete dump of registers
// that are each CPU's own; a crash before it says there is no capture image and halts; no crash
// leaves the machine running and saying so; nothing hangs.
using System.Text.RegularExpressions;
using Nmidump.Inspector;

namespace Nmidump.Build;

/// <summary>How a run ended, as the runner saw it.</summary>
public enum RunEnd
{
    /// <summary>QEMU exited by itself (power-off, reset under -no-reboot, a failure status).</summary>
    Exited,
    /// <summary>The first kernel's panic ended without a jump and every CPU halted with interrupts off.</summary>
    HaltedAfterPanic,
    /// <summary>Still running when the runner stopped watching: the machine had settled with no crash.</summary>
    Running,
    /// <summary>The run's bound passed while the runner waited for something (<see cref="TortureObservation.WaitedFor"/>).</summary>
    TimedOut,
}

/// <summary>Everything one run showed.</summary>
/// <param name="Lines">The serial console, line by line, as the guest printed it.</param>
/// <param name="Injected">How many inject-nmi the runner sent, and the console lines there were at each.</param>
/// <param name="AllHaltedIrqOff">From the monitor at the end: every vCPU halted with interrupts off (a panic's halt).</param>
/// <param name="VmcorePath">Where the received vmcore is, when <paramref name="Receive"/> is Ok.</param>
public sealed record TortureObservation(IReadOnlyList<string> Lines, IReadOnlyList<int> Injected, RunEnd End, int? ExitStatus,
    string? WaitedFor, bool AllHaltedIrqOff, ReceiveResult? Receive, string? VmcorePath, TimeSpan Elapsed);

/// <summary>The judge's word on one run: its class (dump, no-image, no-crash, firmware) and, for a failure, what broke.</summary>
public sealed record TortureVerdict(string Class, bool Passed, string Detail);

public static class TortureJudge
{
    static readonly Regex Stamp = new(@"^\[\s*\d+\.\d{6}\] ");
    static readonly Regex OopsHeadline = new(@" \[#\d+\] SMP$");
    static readonly Regex BroughtUp = new(@"^smp: Brought up 1 node, (\d+) CPUs?$");
    static readonly Regex Performing = new(@"^crashtest: performing \S+ on CPU (\d+)(?:, CPU (\d+) panics)?$");
    static readonly Regex CaptureMissing = new(@"^capture: CPU (\d+) missing\b");

    /// <summary>r12 as cpu_idle sets it (boot/cpu.s): 0xC0DE0000 + the CPU's number.</summary>
    public const ulong IdleTag = 0xC0DE0000;

    /// <summary>A line without its "[    0.123456] " stamp.</summary>
    public static string Message(string line) => Stamp.Replace(line, "");

    public static TortureVerdict Judge(TortureDraw draw, TortureObservation o, ReadOnlySpan<byte> kernelElf)
    {
        var messages = o.Lines.Select(Message).ToList();
        if (messages.Count == 0)
        {
            if (o.End == RunEnd.Exited)
                return new("firmware", true, $"QEMU ended ({Describe(o.ExitStatus)}) before the kernel's first console line: the firmware's window");
            return Fail("hang", $"no console line in {o.Elapsed.TotalSeconds:F0} s (waited for {o.WaitedFor ?? "the kernel's first console line"})");
        }
        int jump = messages.FindIndex(m => m.StartsWith("kexec: jumping to the capture image", StringComparison.Ordinal));
        var first = jump < 0 ? messages : messages.Take(jump + 1).ToList();
        int panics = first.Count(m => m.StartsWith("Kernel panic - not syncing: ", StringComparison.Ordinal));
        int oopses = first.Count(m => OopsHeadline.IsMatch(m));
        int crashAt = first.FindIndex(m => m.StartsWith("Kernel panic - not syncing: ", StringComparison.Ordinal) || OopsHeadline.IsMatch(m));
        // A jump makes it a dump whatever the console shows before it: a panic line missing there
        // is the dump's failure to name, not a machine that never crashed.
        string cls = jump >= 0 ? "dump" : crashAt < 0 ? "no-crash" : "no-image";
        if (o.End == RunEnd.TimedOut)
            return Fail(cls, $"timed out after {o.Elapsed.TotalSeconds:F0} s waiting for {o.WaitedFor}");
        return cls switch
        {
            "dump" => JudgeDump(draw, o, messages, jump, crashAt, panics, oopses, kernelElf),
            "no-image" => JudgeNoImage(o, messages, crashAt, panics),
            _ => JudgeNoCrash(draw, o, messages),
        };
    }

    static TortureVerdict Fail(string cls, string detail) => new(cls, false, detail);

    static string Describe(int? status) => status is int s ? Nmidump.Qemu.QemuExit.Describe(s) : "no exit status";

    /// <summary>A crash before the image was armed: the panic says so and the machine halts; never a silent reset.</summary>
    static TortureVerdict JudgeNoImage(TortureObservation o, List<string> m, int crashAt, int panics)
    {
        const string cls = "no-image";
        int armed = m.FindIndex(x => x.StartsWith("kdump: capture image armed", StringComparison.Ordinal));
        if (armed >= 0 && armed < crashAt)
        {
            string why = m.FirstOrDefault(x => x.StartsWith("kexec: ", StringComparison.Ordinal) && x.Contains("digest mismatch")) ?? "no kexec line says why";
            return Fail(cls, $"the capture image was armed before the crash, yet no jump ({why})");
        }
        if (panics != 1) return Fail(cls, $"{panics} panic lines: expected exactly one");
        if (!m.Contains("kdump: no capture image armed; the panic goes on without a dump"))
            return Fail(cls, "the panic never said there is no capture image (\"kdump: no capture image armed\")");
        if (!m.Any(x => x.StartsWith("---[ end Kernel panic - not syncing: ", StringComparison.Ordinal)))
            return Fail(cls, "the panic never reached its end line");
        if (o.End == RunEnd.Exited)
            return Fail(cls, $"QEMU ended ({Describe(o.ExitStatus)}) after a panic that should halt: a silent reset");
        if (!o.AllHaltedIrqOff) return Fail(cls, "after the panic's end line not every CPU was halted with interrupts off");
        return new(cls, true, $"{PanicLine(m)}; no capture image, halted");
    }

    /// <summary>No crash: the machine keeps running, reports the NMIs it took, and nothing in the draw required a crash.</summary>
    static TortureVerdict JudgeNoCrash(TortureDraw d, TortureObservation o, List<string> m)
    {
        const string cls = "no-crash";
        if (o.End == RunEnd.Exited) return Fail(cls, $"QEMU ended ({Describe(o.ExitStatus)}) with no panic: a silent reset or power-off");
        if (o.AllHaltedIrqOff) return Fail(cls, "every CPU halted with interrupts off, yet nothing panicked");
        if (!m.Contains("idle: nothing more to do; halting until an NMI")) return Fail(cls, "the boot never reached its idle line");
        int online = Online(m);
        if (CrashtestScenario.Crashes(d.Scenario, online, d.UnknownNmiPanic))
            return Fail(cls, $"crashtest={d.Crashtest} on {online} CPUs should have crashed the machine; it kept running");
        int nmis = o.Injected.Count;
        if (nmis > 0 && d.UnknownNmiPanic && d.ApicExtnmi != "none")
            return Fail(cls, $"{nmis} NMI(s) injected with unknown_nmi_panic and apic_extnmi={d.ApicExtnmi}, yet nothing panicked");
        int dazed = m.Count(x => x == "Dazed and confused, but trying to continue");
        if (nmis > 0 && d.ApicExtnmi != "none" && dazed == 0)
            return Fail(cls, $"{nmis} NMI(s) injected with apic_extnmi={d.ApicExtnmi}, and no CPU said it took one");
        return new(cls, true, $"running; {nmis} NMI(s) injected, {dazed} reported (\"Dazed and confused\")");
    }

    static int Online(List<string> m)
    {
        var up = m.Select(x => BroughtUp.Match(x)).FirstOrDefault(x => x.Success);
        return up == null ? 1 : int.Parse(up.Groups[1].Value);
    }

    static string PanicLine(List<string> m) =>
        m.FirstOrDefault(x => x.StartsWith("Kernel panic - not syncing: ", StringComparison.Ordinal))
        ?? m.FirstOrDefault(x => OopsHeadline.IsMatch(x)) ?? "?";

    /// <summary>A crash after the image was armed: one panic, a vmcore the receiver took, every CPU's own registers, the kernel's code intact.</summary>
    static TortureVerdict JudgeDump(TortureDraw d, TortureObservation o, List<string> m, int jump, int crashAt, int panics, int oopses,
        ReadOnlySpan<byte> kernelElf)
    {
        const string cls = "dump";
        // A scenario that faults inside the panic re-enters panic() on its own CPU: that second
        // headline is the same panic going on ("a fault inside the panic"), in no other scenario.
        int reentries = m.Take(jump).Count(x => x == "panic: a fault inside the panic; going straight to crash_kexec");
        if (reentries > 0 && !CrashtestScenario.FaultsInsidePanic(d.Scenario))
            return Fail(cls, $"panic() was re-entered by a fault inside it ({reentries}x), and the scenario does not fault there");
        panics -= reentries;
        if (!(panics == 1 || panics == 0 && oopses == 1))
            return Fail(cls, $"{panics} panic lines{(reentries > 0 ? $" (besides {reentries} re-entry)" : "")} and {oopses} oops headlines before the jump: expected exactly one panic, or one oops straight to crash_kexec");
        if (m.Count(x => x.StartsWith("kexec: jumping to the capture image", StringComparison.Ordinal)) != 1)
            return Fail(cls, "more than one jump to the capture image");
        if (o.End != RunEnd.Exited || o.ExitStatus is not int status || !Nmidump.Qemu.QemuExit.IsClean(status))
            return Fail(cls, $"the capture kernel did not power off cleanly ({(o.End == RunEnd.Exited ? Describe(o.ExitStatus) : o.End.ToString())})");
        if (!m.Skip(jump).Any(x => x.StartsWith("capture: export done", StringComparison.Ordinal)))
            return Fail(cls, "the capture kernel never said \"capture: export done\"");
        if (o.Receive is not { Ok: true } || o.VmcorePath == null)
            return Fail(cls, $"the receiver refused the transfer: {o.Receive?.Message ?? "nothing received"}");
        int online = Online(m);
        if (online != d.Smp) return Fail(cls, $"{online} of {d.Smp} CPUs came online");

        byte[] file = File.ReadAllBytes(o.VmcorePath);
        if (!VmcoreFile.Open(file, out VmcoreFile core, out ElfCoreError error))
            return Fail(cls, "the vmcore does not open: " + ErrorText(error));
        if (!core.VmcoreinfoText(out ReadOnlySpan<byte> info)) return Fail(cls, "the vmcore has no VMCOREINFO");
        var notes = new Dictionary<int, (ulong Rip, ulong Rsp, ulong R12)>();
        for (int n = 0; core.PrStatus(n, out int pid, out PrStatusRegs regs); n++)
        {
            int cpu = pid - 1;
            if (cpu < 0 || cpu >= online) return Fail(cls, $"a register note has pr_pid {pid}: no online CPU has that number");
            if (!notes.TryAdd(cpu, (regs[UserReg.Rip], regs[UserReg.Rsp], regs[UserReg.R12])))
                return Fail(cls, $"CPU {cpu} has two register notes");
        }

        // Missing CPUs: named by the dump (CPU_MISSING) and the capture report alike, and only the
        // one a wedging scenario holds in NMI context.
        var namedMissing = new HashSet<int>();
        if (Vmcoreinfo.Find(info, "CPU_MISSING", out ReadOnlySpan<byte> list))
        {
            Span<uint> cpus = stackalloc uint[256];
            if (!CpuList.Read(list, cpus, out int count)) return Fail(cls, "VMCOREINFO's CPU_MISSING is not a cpulist");
            foreach (uint c in cpus[..count]) namedMissing.Add((int)c);
        }
        var reported = m.Skip(jump).Select(x => CaptureMissing.Match(x)).Where(x => x.Success).Select(x => int.Parse(x.Groups[1].Value)).ToHashSet();
        bool wedging = CrashtestScenario.WedgesTarget(d.Scenario) && m.Take(crashAt + 1).Any(x => Performing.IsMatch(x));
        for (int cpu = 0; cpu < online; cpu++)
        {
            if (notes.ContainsKey(cpu))
            {
                if (namedMissing.Contains(cpu)) return Fail(cls, $"CPU {cpu} has a register note, yet CPU_MISSING names it");
                continue;
            }
            if (!namedMissing.Contains(cpu) || !reported.Contains(cpu))
                return Fail(cls, $"CPU {cpu} has no register note and {(namedMissing.Contains(cpu) ? "the capture report" : "CPU_MISSING")} does not name it missing");
            if (!wedging || cpu != d.CrashtestCpu)
                return Fail(cls, $"CPU {cpu} is missing (never answered the shootdown), and nothing in the draw wedges it");
        }

        if (KernelElf.CodeSymbols(kernelElf, out string why) is not { } symbols) return Fail(cls, "kernel.elf's symbols: " + why);
        var idle = symbols.FirstOrDefault(s => s.Name == "cpu_idle");
        if (idle.Size == 0) return Fail(cls, "kernel.elf has no cpu_idle symbol");
        bool InIdle(ulong rip) => rip >= idle.Address && rip < idle.Address + idle.Size;
        string Name(ulong rip) => symbols.Where(s => rip >= s.Address && rip < s.Address + Math.Max(s.Size, 1)).Select(s => $"{s.Name}+0x{rip - s.Address:x}").FirstOrDefault() ?? $"0x{rip:x}";

        var busy = BusyCpus(d, m, crashAt, online);
        foreach (var (cpu, r) in notes)
        {
            bool tagged = r.R12 >= IdleTag && r.R12 <= IdleTag + 0xFF;
            if ((InIdle(r.Rip) || tagged) && r.R12 != IdleTag + (ulong)cpu)
                return Fail(cls, $"CPU {cpu}'s note has rip {Name(r.Rip)} r12 {r.R12:x16}: not its own registers (its idle loop sets r12 {IdleTag + (ulong)cpu:x16})");
            if (!busy.Contains(cpu) && !InIdle(r.Rip))
                return Fail(cls, $"CPU {cpu} was idle, yet its note has rip {Name(r.Rip)}: expected cpu_idle");
        }
        var shared = notes.GroupBy(n => (n.Value.Rip, n.Value.Rsp)).FirstOrDefault(g => g.Count() > 1);
        if (shared != null)
            return Fail(cls, $"CPUs {string.Join(", ", shared.Select(n => n.Key))} have notes with the same rip {Name(shared.Key.Rip)} and rsp {shared.Key.Rsp:x16}");

        if (KernelElf.CodeSections(kernelElf) is not { } code) return Fail(cls, "kernel.elf's section headers do not read");
        foreach (var (address, bytes) in code)
        {
            var inDump = new byte[bytes.Length];
            int got = core.ReadPhysical(address, inDump);
            if (got != bytes.Length) return Fail(cls, $"the dump holds {got} of the {bytes.Length} bytes of kernel code at 0x{address:x}");
            int diff = inDump.AsSpan().CommonPrefixLength(bytes);
            if (diff < bytes.Length)
                return Fail(cls, $"kernel code at 0x{address + (ulong)diff:x} ({Name(address + (ulong)diff)}) differs from kernel.elf's: {inDump[diff]:x2} in the dump, {bytes[diff]:x2} in the image");
        }
        string missing = notes.Count < online ? $", CPU {string.Join(",", Enumerable.Range(0, online).Where(c => !notes.ContainsKey(c)))} missing (wedged)" : "";
        Vmcoreinfo.FindDecimal(info, "CRASH_CPU", out long crashCpu);
        return new(cls, true, $"{PanicLine(m)} (CPU {crashCpu}); {notes.Count} notes{missing}; {file.Length} bytes verified");
    }

    /// <summary>
    /// CPUs that may be stopped outside their idle loop: the scenario's CPUs (every CPU in a storm),
    /// and the boot CPU until it has printed its idle line (it runs the boot, then the scenario's start).
    /// </summary>
    static HashSet<int> BusyCpus(TortureDraw d, List<string> m, int crashAt, int online)
    {
        var busy = new HashSet<int>();
        var before = m.Take(crashAt).ToList();
        if (!before.Contains("idle: nothing more to do; halting until an NMI")) busy.Add(0);
        var p = before.Select(x => Performing.Match(x)).FirstOrDefault(x => x.Success);
        if (p != null)
        {
            busy.Add(int.Parse(p.Groups[1].Value));
            if (p.Groups[2].Success) busy.Add(int.Parse(p.Groups[2].Value));
            if (CrashtestScenario.EveryCpuTakesPart(d.Scenario)) busy.UnionWith(Enumerable.Range(0, online));
        }
        return busy;
    }

    static string ErrorText(ElfCoreError e)
    {
        LogLine l = default;
        e.Describe(ref l);
        return System.Text.Encoding.ASCII.GetString(l.AsSpan());
    }
}
