// The Hyper-V seed in QEMU: a crash channel owned by the last CPU, whose unload reply lands only
// once the owner empties its slot, and the unknown-NMI policy that lets the owner leave NMI context
// to do so. Each case runs the product's `run` verb to a verified vmcore and checks the outcome line,
// VMCOREINFO's CRASH_CHANNEL= and that every CPU's registers are in the dump.
using System.Text.RegularExpressions;
using Xunit;

namespace Nmidump.QemuTests;

/// <summary>One `run` to a verified vmcore, and what the tests read from it.</summary>
public sealed record ChannelRun(string Serial, VmcoreReader Dump)
{
    /// <summary>The first kernel's own lines (the capture kernel's "capture: log:" copies are left out).</summary>
    public IEnumerable<string> Messages =>
        Serial.Split('\n').Select(l => Regex.Match(l, @"^\[\s*\d+\.\d{6}\] (.*)$")).Where(m => m.Success).Select(m => m.Groups[1].Value.TrimEnd('\r'));

    public List<int> UhhuhCpus =>
        Messages.Select(m => Regex.Match(m, @"^Uhhuh\. NMI received for unknown reason [0-9a-f]{2} on CPU (\d+)\.$"))
            .Where(m => m.Success).Select(m => int.Parse(m.Groups[1].Value)).ToList();

    public int PanicCpu => int.Parse(Dump.Vmcoreinfo["CRASH_CPU"]);

    public static ChannelRun Of(int smp, bool injectNmi, string append)
    {
        string[] nmi = injectNmi ? [] : ["--no-nmi"];
        var (status, output, dir) = DumpTests.Run(["--smp", smp.ToString(), "--mem", "64", .. nmi, "--append", append]);
        try
        {
            Assert.True(status == 0, $"run exited {status}, expected a verified vmcore:\n{output}");
            var run = new ChannelRun(File.ReadAllText(Path.Combine(dir, "serial.log")), VmcoreReader.Read(Path.Combine(dir, "vmcore")));
            // Complete: a note from every CPU, none named missing.
            Assert.True(Enumerable.Range(1, smp).SequenceEqual(run.Dump.Cpus.Keys.Order()), $"CPU notes (pids) {string.Join(",", run.Dump.Cpus.Keys.Order())}, expected 1..{smp}\n{run.Serial}");
            Assert.False(run.Dump.Vmcoreinfo.ContainsKey("CPU_MISSING"), "a CPU did not answer the shootdown:\n" + run.Serial);
            return run;
        }
        finally { Directory.Delete(dir, true); }
    }

    public void AssertDone(int owner)
    {
        Assert.True(Messages.Any(m => Regex.IsMatch(m, $@"^crash: channel unload done in \d+ us \(reply on CPU {owner}\)$")),
            $"no 'crash: channel unload done ... (reply on CPU {owner})' line:\n{Serial}");
        Assert.DoesNotContain(Messages, m => m.StartsWith("crash: channel unload timed out", StringComparison.Ordinal));
        Assert.Equal("done", Dump.Vmcoreinfo["CRASH_CHANNEL"]);
        Assert.Equal(owner.ToString(), Dump.Vmcoreinfo["CRASH_CHANNEL_OWNER"]);
    }

    public void AssertTimedOut(int owner)
    {
        var line = Messages.Select(m => Regex.Match(m, $@"^crash: channel unload timed out after (\d+) ms: the reply waits on CPU {owner} \(interrupts off\)$"))
            .FirstOrDefault(m => m.Success);
        Assert.True(line != null, $"no 'crash: channel unload timed out ... CPU {owner} (interrupts off)' line:\n{Serial}");
        Assert.InRange(int.Parse(line.Groups[1].Value), 1000, 5000);      // the bound is one second of TSC time
        Assert.DoesNotContain(Messages, m => m.StartsWith("crash: channel unload done", StringComparison.Ordinal));
        Assert.Equal("timeout", Dump.Vmcoreinfo["CRASH_CHANNEL"]);
        Assert.Equal(owner.ToString(), Dump.Vmcoreinfo["CRASH_CHANNEL_OWNER"]);
    }

    /// <summary>Seconds since boot of the first line that starts with text.</summary>
    public double TimeOf(string text)
    {
        var m = Serial.Split('\n').Select(l => Regex.Match(l, @"^\[\s*(\d+\.\d{6})\] (.*)$"))
            .First(m => m.Success && m.Groups[2].Value.StartsWith(text, StringComparison.Ordinal));
        return double.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
    }
}

/// <summary>The deterministic broadcast (crashtest=UNKNOWN_NMI_BROADCAST): CPU 0 panics, the owner is the last CPU.</summary>
public class CrashChannelBroadcastTests
{
    static string Broadcast(int owner, string more = "") =>
        $"crash_channel={owner} crashtest=UNKNOWN_NMI_BROADCAST crashtest_cpu=0 crashtest_delay_ms=200 {more}".Trim();

    [Theory]
    [InlineData(2)]
    [InlineData(4)]
    [InlineData(8)]
    public void WithUnknownNmiOneCpu_TheOthersLeaveTheirNmi_AndTheHandshakeCompletes(int smp)
    {
        int owner = smp - 1;
        var run = ChannelRun.Of(smp, injectNmi: false, Broadcast(owner, "unknown_nmi_one_cpu"));
        run.AssertDone(owner);
        Assert.Equal([0], run.UhhuhCpus);                  // the others' unknown NMIs were swallowed
        Assert.Equal(0, run.PanicCpu);
        // The host posted while CPU 0 waited in bounded halts (the LAPIC timer serves both) ...
        var took = run.Messages.Select(m => Regex.Match(m, $@"^crash: channel unload sent to the host \(owner CPU {owner} took (\d+) messages since boot\)$")).First(m => m.Success);
        Assert.True(int.Parse(took.Groups[1].Value) > 0, "the host's LAPIC timer never posted:\n" + run.Serial);
        // ... and those halts still ended on time: the scenario started after its 200 ms delay.
        Assert.True(run.TimeOf("crashtest: performing") - run.TimeOf("crash: channel owned by") >= 0.19, run.Serial);
        // Every other CPU returned from its NMI to the idle loop, where the shootdown found it.
        var elf = ElfFile.Read(Kernel.Image);
        var idle = elf.Symbols.First(s => s.Name == "cpu_idle");
        foreach (int cpu in Enumerable.Range(1, smp - 1).Where(c => c != owner))
            Assert.InRange(run.Dump.Cpus[cpu + 1].Rip, idle.Address, idle.Address + 16);
    }

    [Theory]
    [InlineData(2)]
    [InlineData(4)]
    [InlineData(8)]
    public void WithoutThePolicy_TheOwnerSpinsInNmiContext_SoTheUnloadTimesOut_AndTheDumpIsStillComplete(int smp)
    {
        int owner = smp - 1;
        var run = ChannelRun.Of(smp, injectNmi: false, Broadcast(owner));
        run.AssertTimedOut(owner);
        Assert.Equal(0, run.PanicCpu);
        Assert.Contains(0, run.UhhuhCpus);
        Assert.Equal(run.UhhuhCpus.Count, run.UhhuhCpus.Distinct().Count());
    }

    /// <summary>The panicking CPU owns the channel: it empties its own slot, so the reply lands without the policy (the host plays on CPU 1).</summary>
    [Fact]
    public void OwnerPanics_ItEmptiesItsOwnSlot_SoTheHandshakeCompletesWithoutThePolicy()
    {
        var run = ChannelRun.Of(4, injectNmi: false, Broadcast(0));
        Assert.Contains("crash: channel owned by CPU 0; the host posts to it every 10 ms from CPU 1", run.Messages);
        run.AssertDone(0);
        Assert.Equal(0, run.PanicCpu);
    }

    /// <summary>
    /// crash_kexec_post_notifiers: panic() stops the others (the NMI shootdown) before the notifiers
    /// and crash_kexec, so the crash handler runs when the owner is already halted: a time-out even
    /// with the policy, and still a complete dump.
    /// </summary>
    [Fact]
    public void PostNotifiers_StopTheOwnerBeforeTheHandler_SoTheUnloadTimesOut()
    {
        var run = ChannelRun.Of(4, injectNmi: false, Broadcast(3, "unknown_nmi_one_cpu crash_kexec_post_notifiers"));
        run.AssertTimedOut(3);
        var messages = run.Messages.ToList();
        int stopped = messages.FindIndex(m => m.StartsWith("crash: CPU 3 apic", StringComparison.Ordinal));
        int timedOut = messages.FindIndex(m => m.StartsWith("crash: channel unload timed out", StringComparison.Ordinal));
        Assert.True(stopped >= 0 && stopped < timedOut, $"CPU 3's note (line {stopped}) should come before the time-out (line {timedOut})");
    }
}

/// <summary>The channel with NMIs from outside (QMP inject-nmi), and the parameter's refusal.</summary>
public class CrashChannelInjectTests
{
    /// <summary>The seed's WS2016 case: the host NMIs the boot CPU only, so the owner never sees an NMI.</summary>
    [Fact]
    public void ApicExtnmiBsp_OnlyCpu0TakesTheNmi_SoTheHandshakeCompletesWithoutThePolicy()
    {
        var run = ChannelRun.Of(4, injectNmi: true, "apic_extnmi=bsp crash_channel=3");
        run.AssertDone(3);
        Assert.Equal([0], run.UhhuhCpus);
        Assert.Equal(0, run.PanicCpu);
    }

    /// <summary>
    /// QEMU's inject-nmi reaches every CPU (apic_extnmi=all): any CPU may win. With the policy the
    /// handshake completes whoever panics; without it, only when the owner itself panicked.
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void QmpBroadcast_WhicheverCpuPanics_TheOutcomeFollowsTheRules(bool policy)
    {
        var run = ChannelRun.Of(4, injectNmi: true, "crash_channel=3" + (policy ? " unknown_nmi_one_cpu" : ""));
        int panicked = run.PanicCpu;
        Assert.Contains(panicked, run.UhhuhCpus);
        if (policy)
        {
            Assert.Equal([panicked], run.UhhuhCpus);
            run.AssertDone(3);
        }
        else if (panicked == 3) run.AssertDone(3);
        else run.AssertTimedOut(3);
    }

    [Fact]
    public void OfflineOwner_IsRefusedWithOneLine_AndTheDumpSaysThereWasNoChannel()
    {
        var run = ChannelRun.Of(2, injectNmi: true, "crash_channel=5");
        Assert.Single(run.Messages, m => m == "crash: crash_channel=5: CPU 5 is not online (2 CPUs online); no channel");
        Assert.DoesNotContain(run.Messages, m => m.StartsWith("crash: channel", StringComparison.Ordinal));
        Assert.Equal("none", run.Dump.Vmcoreinfo["CRASH_CHANNEL"]);
        Assert.False(run.Dump.Vmcoreinfo.ContainsKey("CRASH_CHANNEL_OWNER"));
    }

    /// <summary>SERR and IOCHK are never swallowed: with the policy on, the IOCHK NMI is still reported beside the one unknown NMI that panics.</summary>
    [Fact]
    public void Iochk_IsNotSwallowedByThePolicy()
    {
        using var vm = Kernel.Boot("apic_extnmi=all unknown_nmi_panic unknown_nmi_one_cpu nmi_reason=iochk", smp: 2, timeoutSeconds: 90);
        vm.Expect("idle: nothing more to do");
        vm.Qmp.InjectNmi();
        vm.Expect(new Regex(@"NMI: IOCK error \(debug interrupt\?\) for reason [0-9a-f]{2} on CPU \d\."));
        vm.Expect("Kernel panic - not syncing: NMI: Not continuing");
        CrashSummary.WaitForAll(vm, 2);
        Assert.Equal(1, vm.Messages().Count(m => m.StartsWith("NMI: IOCK error", StringComparison.Ordinal)));
        Assert.Equal(1, vm.Messages().Count(m => m.StartsWith("Uhhuh. NMI received", StringComparison.Ordinal)));
    }
}
