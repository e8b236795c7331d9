// The torture runner's pure parts: the draw (the same run from the same seed, the whole space
// reached, the scenarios read from the kernel's table) and the judge, fed synthetic consoles and
// the fake crash's vmcore: it passes what must hold and names each thing that breaks it.
using Nmidump.Build;

namespace Nmidump.Inspector.Tests;

public class TortureDrawTests
{
    [Fact]
    public void TheSameSeedAndRun_DrawTheSameRun_AndOtherRunsDiffer()
    {
        Assert.Equal(TortureDraw.Make(7, 3).Describe(), TortureDraw.Make(7, 3).Describe());
        Assert.Equal(TortureDraw.Make(7, 3).Append, TortureDraw.Make(7, 3).Append);
        var many = Enumerable.Range(1, 50).Select(k => TortureDraw.Make(7, k).Describe()).ToHashSet();
        Assert.True(many.Count > 45, $"50 runs of one seed gave only {many.Count} different draws");
        Assert.NotEqual(TortureDraw.Make(7, 3).Describe(), TortureDraw.Make(8, 3).Describe());
    }

    [Fact]
    public void Draws_StayInTheIssuesRanges_AndReachEveryChoice()
    {
        var draws = Enumerable.Range(1, 3000).Select(k => TortureDraw.Make(1, k)).ToList();
        Assert.All(draws, d =>
        {
            Assert.InRange(d.Smp, 1, 16);
            Assert.InRange(d.MemoryMiB, 128, 1024);
            Assert.InRange(d.Nmis.Count, 1, 3);
            Assert.InRange(d.CrashtestCpu, 0, d.Smp - 1);
            Assert.All(d.Nmis, n => Assert.InRange(n.DelayMs, 0, TortureDraw.MaxDelayMs(n.Anchor)));
            Assert.True(d.Crashtest != null || d.Nmis.All(n => n.Anchor != NmiAnchor.Crashtest), "an NMI timed from a scenario that was not drawn");
            Assert.Contains("crashkernel=16M", d.Append);
        });
        Assert.Equal(Enumerable.Range(1, 16), draws.Select(d => d.Smp).Distinct().Order());
        Assert.Equal([128, 1024], new[] { draws.Min(d => d.MemoryMiB), draws.Max(d => d.MemoryMiB) });
        Assert.Equal(["all", "bsp", "none"], draws.Select(d => d.ApicExtnmi).Distinct().Order());
        Assert.Equal([false, true], draws.Select(d => d.UnknownNmiPanic).Distinct().Order());
        Assert.Equal([false, true], draws.Select(d => d.PostNotifiers).Distinct().Order());
        Assert.Contains(draws, d => d.Crashtest == null);
        Assert.Equal(TortureDraw.Triggers.Order(), draws.Where(d => d.Crashtest != null).Select(d => d.Crashtest!).Distinct().Order());
        Assert.Equal(Enum.GetValues<NmiAnchor>(), draws.SelectMany(d => d.Nmis).Select(n => n.Anchor).Distinct().Order());
    }

    [Fact]
    public void TheScenarios_AreTheKernelsParameterTable_InItsEnumsOrder()
    {
        Assert.Equal(Enum.GetValues<CrashTestType>().Length - 1, TortureDraw.Triggers.Count);
        Assert.Contains("NMI_HANG", TortureDraw.Triggers);
        Assert.Equal(CrashTestType.NmiHang, TortureDraw.Make(1, 1) with { Crashtest = "NMI_HANG" } is var d ? d.Scenario : default);
        Assert.Equal(CrashTestType.None, (TortureDraw.Make(1, 1) with { Crashtest = null }).Scenario);
    }

    [Theory]
    [InlineData("1:17", true, 1, 17)]
    [InlineData("-4:2", true, -4, 2)]
    [InlineData("1:0", false, 0, 0)]
    [InlineData("1", false, 0, 0)]
    [InlineData(":3", false, 0, 0)]
    [InlineData("1:x", false, 0, 0)]
    public void Replay_TakesSeedColonRun(string text, bool ok, long seed, int run)
    {
        Assert.Equal(ok, TortureDraw.TryParseReplay(text, out long s, out int k));
        if (ok) Assert.Equal((seed, run), (s, k));
    }
}

public class TortureJudgeTests
{
    static readonly TortureDraw NmiOnly = new(1, 1, 4, 256, "bsp", true, false, null, 0, 0, [new NmiMoment(NmiAnchor.Idle, 10)]);

    static PrStatusRegs Idle(int cpu)
    {
        var r = FakeCrash.RegsOf(cpu);
        r[UserReg.Rip] = FakeCrash.IdleAddress + 2;
        r[UserReg.Rsp] = FakeCrash.StackTop(cpu) - 32;
        r[UserReg.R12] = TortureJudge.IdleTag + (ulong)cpu;
        return r;
    }

    static string[] Boot(int cpus) =>
    [
        "[    0.030534] nmidump version 0.1.0 (build-id 00) #1 SMP x86_64 C#/NativeAOT",
        $"[    0.098060] smp: Brought up 1 node, {cpus} CPUs",
        "[    0.359673] kdump: capture image armed (crashkernel 16M at 0xee00000, sha256 00)",
        "[    0.364070] idle: nothing more to do; halting until an NMI",
    ];

    static readonly string[] NmiPanic =
    [
        "[    0.396379] Uhhuh. NMI received for unknown reason 21 on CPU 0.",
        "[    0.396918] Kernel panic - not syncing: NMI: Not continuing",
    ];

    static readonly string[] Capture =
    [
        "[    0.427931] kexec: jumping to the capture image at 0xee00040",
        "[    0.025343] capture: panic: NMI: Not continuing (CPU 0)",
        "[    0.077902] capture: export done: 823416 bytes in 2 ms (295 MB/s, copy and checksums 1 ms)",
        "[    0.086274] capture: done; powering off",
    ];

    /// <summary>A fake kernel image whose code is the fake crash's, and that crash's vmcore in a file.</summary>
    sealed class Dump : IDisposable
    {
        readonly TempDir _dir = new();
        public string Path { get; }
        public byte[] Kernel { get; }

        public Dump(FakeCrash crash, Action<byte[]>? damageCode = null)
        {
            byte[] vmcore = crash.Vmcore();
            Assert.True(VmcoreFile.Open(vmcore, out VmcoreFile core, out _));
            var text = new byte[0x400];
            Assert.Equal(text.Length, core.ReadPhysical(0x10_0000, text));
            damageCode?.Invoke(text);
            Kernel = FakeKernelElf.Build(FakeCrash.BuildId,
            [
                (FakeCrash.IdleAddress, 0x100, "cpu_idle", true),
                (FakeCrash.PanicAddress, 0x40, "Kernel_Panic__KernelPanic", true),
                (FakeCrash.NmiPanicAddress, 0x30, "Kernel_Nmi__NmiPanic", true),
            ], text);
            Path = _dir.Write("vmcore", vmcore);
        }

        public void Dispose() => _dir.Dispose();
    }

    static TortureObservation Exited(IEnumerable<string> lines, string? vmcore, int status = 0, bool received = true) =>
        new(lines.ToList(), [10], RunEnd.Exited, status, null, false,
            new ReceiveResult(received, received ? 4096 : 0, received ? "window: ok" : "window: chunk 3 damaged", DumpStream.Problem.None),
            received ? vmcore : null, TimeSpan.FromSeconds(1));

    static TortureVerdict JudgeDump(FakeCrash crash, TortureDraw? draw = null, IEnumerable<string>? lines = null, Action<byte[]>? damageCode = null,
        int status = 0, bool received = true)
    {
        using var dump = new Dump(crash, damageCode);
        return TortureJudge.Judge(draw ?? NmiOnly, Exited(lines ?? [.. Boot(crash.Cpus), .. NmiPanic, .. Capture], dump.Path, status, received), dump.Kernel);
    }

    static FakeCrash AllIdle(int cpus = 4) => new() { Cpus = cpus, Silent = [], Regs = Idle };

    [Fact]
    public void ACompleteDumpOfIdleCpus_Passes()
    {
        var v = JudgeDump(AllIdle());
        Assert.True(v.Passed, v.Detail);
        Assert.Equal("dump", v.Class);
        Assert.Contains("4 notes", v.Detail);
    }

    [Fact]
    public void TwoPanics_Fail()
    {
        var v = JudgeDump(AllIdle(), lines: [.. Boot(4), .. NmiPanic, "[    0.397000] Kernel panic - not syncing: crashtest: DOUBLE_PANIC", .. Capture]);
        Assert.False(v.Passed);
        Assert.Contains("2 panic lines", v.Detail);
    }

    /// <summary>torture 1:15, 1:35: the panic's lines never reached the console, yet the machine jumped and dumped.</summary>
    [Fact]
    public void AJumpWithNoPanicLineOnTheConsole_IsADumpThatFails_NotAMachineThatNeverCrashed()
    {
        var v = JudgeDump(AllIdle(), lines: [.. Boot(4), "[    0.396379] Uhhuh. NMI received for unknown reason 21 on CPU 0.", .. Capture]);
        Assert.False(v.Passed);
        Assert.Equal("dump", v.Class);
        Assert.Contains("0 panic lines and 0 oops headlines before the jump", v.Detail);
    }

    /// <summary>
    /// torture 1:11, 1:49, 1:50, 1:84, 1:92, 1:94, 1:109, 1:121, 1:124, 1:138, 1:150: a notifier that
    /// faults inside the panic re-enters panic() on the same CPU, which says so; that is the same
    /// panic going on, for the scenarios built to fault there and no other.
    /// </summary>
    [Fact]
    public void APanicReenteredByAFaultInsideIt_IsOnePanic_OnlyForTheScenariosThatFaultThere()
    {
        string[] lines = [.. Boot(4)[..3], "[    0.300000] crashtest: performing NOTIFIER_OOPS on CPU 0", "[    0.301000] idle: nothing more to do; halting until an NMI",
            "[    0.310000] Kernel panic - not syncing: crashtest: NOTIFIER_OOPS", "[    0.311000] crashtest: a panic notifier faults",
            "[    0.311500] invalid opcode: 0000 [#1] SMP", "[    0.312000] Kernel panic - not syncing: Fatal exception in interrupt",
            "[    0.312500] panic: a fault inside the panic; going straight to crash_kexec", .. Capture];
        var notifierOops = NmiOnly with { Crashtest = "NOTIFIER_OOPS", PostNotifiers = true };
        var v = JudgeDump(AllIdle(), notifierOops, lines);
        Assert.True(v.Passed, v.Detail);

        v = JudgeDump(AllIdle(), notifierOops with { Crashtest = "PANIC" }, lines);
        Assert.False(v.Passed);
        Assert.Contains("panic() was re-entered by a fault inside it (1x), and the scenario does not fault there", v.Detail);

        v = JudgeDump(AllIdle(), notifierOops, lines.Where(l => !l.Contains("a fault inside the panic")));
        Assert.False(v.Passed);
        Assert.Contains("2 panic lines", v.Detail);
    }

    [Fact]
    public void OneOopsStraightToCrashKexec_Passes()
    {
        var v = JudgeDump(AllIdle(), lines: [.. Boot(4), "[    0.400000] invalid opcode: 0000 [#1] SMP", .. Capture]);
        Assert.True(v.Passed, v.Detail);
    }

    [Fact]
    public void AnotherCpusRegistersInANote_Fail()
    {
        var crash = AllIdle();
        crash.Regs = cpu => Idle(cpu == 2 ? 1 : cpu);
        var v = JudgeDump(crash);
        Assert.False(v.Passed);
        Assert.Contains("CPU 2's note has rip cpu_idle+0x2 r12 00000000c0de0001: not its own registers", v.Detail);
    }

    [Fact]
    public void AnIdleCpuStoppedOutsideItsIdleLoop_Fails()
    {
        var crash = AllIdle();
        crash.Regs = cpu => cpu == 3 ? FakeCrash.RegsOf(2) : Idle(cpu);
        var v = JudgeDump(crash);
        Assert.False(v.Passed);
        Assert.Contains("CPU 3 was idle, yet its note has rip Kernel_Nmi__NmiPanic+0x5", v.Detail);
    }

    [Fact]
    public void TwoNotesWithTheSameRipAndRsp_Fail()
    {
        var crash = AllIdle();
        crash.Regs = cpu =>
        {
            var r = FakeCrash.RegsOf(cpu);
            r[UserReg.Rip] = FakeCrash.NmiPanicAddress + 5;
            r[UserReg.Rsp] = 0x1000;
            return r;
        };
        var draw = NmiOnly with { Crashtest = "PRINTK_STORM" };
        var v = JudgeDump(crash, draw, [.. Boot(4)[..3], "[    0.300000] crashtest: performing PRINTK_STORM on CPU 0", .. NmiPanic, .. Capture]);
        Assert.False(v.Passed);
        Assert.Contains("have notes with the same rip", v.Detail);
    }

    [Fact]
    public void AMissingCpu_FailsUnlessTheScenarioWedgesIt()
    {
        var crash = AllIdle();
        crash.Silent = [2];
        string[] lines = [.. Boot(4)[..3], "[    0.300000] crashtest: performing NMI_HANG on CPU 2, CPU 0 panics", "[    0.301000] idle: nothing more to do; halting until an NMI",
            "[    0.400000] Kernel panic - not syncing: crashtest: NMI_HANG", .. Capture, "[    0.030000] capture: CPU 2 missing: never answered, waited 1000 ms"];
        var wedged = NmiOnly with { Crashtest = "NMI_HANG", CrashtestCpu = 2 };
        var v = JudgeDump(crash, wedged, lines);
        Assert.True(v.Passed, v.Detail);
        Assert.Contains("CPU 2 missing (wedged)", v.Detail);

        v = JudgeDump(crash, wedged with { CrashtestCpu = 1 }, lines);
        Assert.False(v.Passed);
        Assert.Contains("CPU 2 is missing (never answered the shootdown), and nothing in the draw wedges it", v.Detail);

        v = JudgeDump(crash, NmiOnly, [.. Boot(4), .. NmiPanic, .. Capture, "[    0.030000] capture: CPU 2 missing: never answered, waited 1000 ms"]);
        Assert.False(v.Passed);
    }

    [Fact]
    public void AMissingCpuTheDumpDoesNotName_Fails()
    {
        var crash = AllIdle();
        crash.Silent = [2];
        crash.NameMissing = false;
        var v = JudgeDump(crash, NmiOnly with { Crashtest = "NMI_HANG", CrashtestCpu = 2 });
        Assert.False(v.Passed);
        Assert.Contains("CPU 2 has no register note and CPU_MISSING does not name it missing", v.Detail);
    }

    [Fact]
    public void KernelCodeThatDiffersFromTheImage_Fails()
    {
        var v = JudgeDump(AllIdle(), damageCode: text => text[0x102] ^= 0xFF);
        Assert.False(v.Passed);
        Assert.Contains("kernel code at 0x100102 (cpu_idle+0x2) differs from kernel.elf's", v.Detail);
    }

    [Fact]
    public void ARefusedTransfer_OrAFailedCaptureKernel_Fail()
    {
        var v = JudgeDump(AllIdle(), received: false);
        Assert.False(v.Passed);
        Assert.Contains("the receiver refused the transfer: window: chunk 3 damaged", v.Detail);
        v = JudgeDump(AllIdle(), status: 3);
        Assert.False(v.Passed);
        Assert.Contains("did not power off cleanly (kernel-detected failure", v.Detail);
    }

    [Fact]
    public void FewerCpusOnlineThanDrawn_Fail()
    {
        var v = JudgeDump(AllIdle(), NmiOnly with { Smp = 5 });
        Assert.False(v.Passed);
        Assert.Contains("4 of 5 CPUs came online", v.Detail);
    }

    static TortureObservation Ended(IEnumerable<string> lines, RunEnd end, bool halted, int injected = 1, int? status = null, string? waitedFor = null) =>
        new(lines.ToList(), Enumerable.Repeat(3, injected).ToList(), end, status, waitedFor, halted, null, null, TimeSpan.FromSeconds(2));

    static readonly string[] EarlyPanic =
    [
        "[    0.030534] nmidump version 0.1.0 (build-id 00) #1 SMP x86_64 C#/NativeAOT",
        "[    0.062839] smp: Bringing up secondary CPUs ...",
        "[    0.063000] Uhhuh. NMI received for unknown reason 21 on CPU 0.",
        "[    0.063100] Kernel panic - not syncing: NMI: Not continuing",
        "[    0.063200] kdump: no capture image armed; the panic goes on without a dump",
        "[    0.063300] ---[ end Kernel panic - not syncing: NMI: Not continuing ]---",
    ];

    [Fact]
    public void ACrashBeforeTheImageIsArmed_PassesWhenItSaysSoAndHalts()
    {
        var v = TortureJudge.Judge(NmiOnly, Ended(EarlyPanic, RunEnd.HaltedAfterPanic, halted: true), []);
        Assert.True(v.Passed, v.Detail);
        Assert.Equal("no-image", v.Class);
    }

    [Fact]
    public void ACrashBeforeTheImageIsArmed_ThatResets_Fails()
    {
        var v = TortureJudge.Judge(NmiOnly, Ended(EarlyPanic, RunEnd.Exited, halted: false, status: 0), []);
        Assert.False(v.Passed);
        Assert.Contains("a silent reset", v.Detail);
        v = TortureJudge.Judge(NmiOnly, Ended(EarlyPanic.Where(l => !l.Contains("kdump:")), RunEnd.HaltedAfterPanic, halted: true), []);
        Assert.False(v.Passed);
        Assert.Contains("never said there is no capture image", v.Detail);
    }

    [Fact]
    public void APanicAfterArmingThatDoesNotJump_Fails()
    {
        string[] lines = [.. Boot(4), .. NmiPanic, "[    0.400000] kexec: capture image digest mismatch: expected 00 got 11",
            "[    0.500000] ---[ end Kernel panic - not syncing: NMI: Not continuing ]---"];
        var v = TortureJudge.Judge(NmiOnly, Ended(lines, RunEnd.HaltedAfterPanic, halted: true), []);
        Assert.False(v.Passed);
        Assert.Contains("armed before the crash, yet no jump (kexec: capture image digest mismatch", v.Detail);
    }

    static readonly TortureDraw NoPanic = NmiOnly with { UnknownNmiPanic = false };
    static readonly string[] Dazed =
    [
        "[    0.400000] Uhhuh. NMI received for unknown reason 21 on CPU 0.",
        "[    0.400100] Dazed and confused, but trying to continue",
    ];

    [Fact]
    public void NoCrash_PassesWhenTheMachineRunsOnAndSaysSo()
    {
        var v = TortureJudge.Judge(NoPanic, Ended([.. Boot(4), .. Dazed], RunEnd.Running, halted: false), []);
        Assert.True(v.Passed, v.Detail);
        Assert.Equal("no-crash", v.Class);
    }

    [Fact]
    public void NoCrash_FailsWhenSilentStoppedOrRequiredToCrash()
    {
        var v = TortureJudge.Judge(NoPanic, Ended(Boot(4), RunEnd.Running, halted: false), []);
        Assert.False(v.Passed);
        Assert.Contains("no CPU said it took one", v.Detail);
        v = TortureJudge.Judge(NoPanic, Ended([.. Boot(4), .. Dazed], RunEnd.Exited, halted: false, status: 0), []);
        Assert.False(v.Passed);
        Assert.Contains("silent reset or power-off", v.Detail);
        v = TortureJudge.Judge(NoPanic, Ended([.. Boot(4), .. Dazed], RunEnd.Running, halted: true), []);
        Assert.False(v.Passed);
        v = TortureJudge.Judge(NmiOnly, Ended([.. Boot(4), .. Dazed], RunEnd.Running, halted: false), []);
        Assert.False(v.Passed);
        Assert.Contains("with unknown_nmi_panic and apic_extnmi=bsp, yet nothing panicked", v.Detail);
        v = TortureJudge.Judge(NoPanic with { Crashtest = "PANIC" }, Ended([.. Boot(4), .. Dazed], RunEnd.Running, halted: false), []);
        Assert.False(v.Passed);
        Assert.Contains("crashtest=PANIC on 4 CPUs should have crashed the machine", v.Detail);
        v = TortureJudge.Judge(NoPanic with { Crashtest = "DOUBLE_PANIC", Smp = 1 }, Ended([.. Boot(1), .. Dazed], RunEnd.Running, halted: false), []);
        Assert.True(v.Passed, v.Detail);
    }

    [Fact]
    public void AHang_FailsNamingWhatItWaitedFor_AndAResetBeforeAnyOutputIsTheFirmwares()
    {
        var v = TortureJudge.Judge(NmiOnly, Ended([.. Boot(4), .. NmiPanic], RunEnd.TimedOut, halted: false, waitedFor: "the panic to jump to the capture kernel or end"), []);
        Assert.False(v.Passed);
        Assert.Contains("timed out after 2 s waiting for the panic to jump to the capture kernel or end", v.Detail);
        v = TortureJudge.Judge(NmiOnly, Ended([], RunEnd.Exited, halted: false, injected: 0, status: 0), []);
        Assert.True(v.Passed, v.Detail);
        Assert.Equal("firmware", v.Class);
        v = TortureJudge.Judge(NmiOnly, Ended([], RunEnd.TimedOut, halted: false, injected: 0, waitedFor: "the kernel's first console line"), []);
        Assert.False(v.Passed);
    }
}
