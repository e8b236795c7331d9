// The mission's loop through the front door: `./build.sh run` (the build driver's run verb) boots,
// injects an NMI, receives the vmcore through the shared-memory window and verifies it; then our
// reader, readelf and gdb all read the same file.
using System.Diagnostics;
using System.Text.RegularExpressions;
using Xunit;

namespace Nmidump.QemuTests;

public class DumpTests
{
    internal static readonly string Driver = Path.Combine(Kernel.Root, "out", "tools", "Build.dll");

    /// <summary>Runs a tool; returns its exit status and everything it printed.</summary>
    public static (int Status, string Output) Tool(string file, params string[] args) => ToolWithin(TimeSpan.FromMinutes(4), file, args);

    public static (int Status, string Output) ToolWithin(TimeSpan limit, string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        p.StandardInput.Close();
        var err = p.StandardError.ReadToEndAsync();
        string output = p.StandardOutput.ReadToEnd();
        if (!p.WaitForExit(limit)) { p.Kill(true); Assert.Fail($"{file} {string.Join(' ', args)} did not finish in {limit.TotalMinutes} minutes:\n{output}"); }
        return (p.ExitCode, output + err.Result);
    }

    public static (int Status, string Output, string Dir) Run(params string[] args) => RunWithin(180, args);

    /// <summary>`run` through the build driver into a fresh directory, bounded by <paramref name="timeoutSeconds"/> (also its --timeout).</summary>
    public static (int Status, string Output, string Dir) RunWithin(int timeoutSeconds, params string[] args)
    {
        Assert.True(File.Exists(Driver), $"{Driver} is missing: ./build.sh builds it before running the tests");
        string dir = Directory.CreateTempSubdirectory("nmidump-run-").FullName;
        // --no-build: the tests run in parallel and ./build.sh test has built everything already.
        var (status, output) = ToolWithin(TimeSpan.FromSeconds(timeoutSeconds + 120), "dotnet",
            [Driver, "run", "--no-build", "--out", dir, "--timeout", timeoutSeconds.ToString(), .. args]);
        return (status, output, dir);
    }

    static ulong VmcoreinfoHex(Dictionary<string, string> info, string key) => Convert.ToUInt64(info[key], 16);

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(4)]
    [InlineData(8)]
    public void Run_GivesAVmcoreThatOurReaderReadelfAndGdbAgreeOn(int smp)
    {
        var (status, output, dir) = Run("--smp", smp.ToString(), "--mem", "128");
        try
        {
            Assert.True(status == 0, $"run exited {status}:\n{output}");
            Assert.Contains("run: verified", output);
            string vmcore = Path.Combine(dir, "vmcore");
            var dump = VmcoreReader.Read(vmcore);
            var elf = ElfFile.Read(Kernel.Image);
            Assert.Equal(Enumerable.Range(1, smp), dump.Cpus.Keys.Order());
            foreach (var (pid, regs) in dump.Cpus)
            {
                var idle = elf.Symbols.First(s => s.Name == "cpu_idle");
                Assert.InRange(regs.Rip, idle.Address, idle.Address + 16);
                Assert.Equal(0xC0DE0000UL + (ulong)(pid - 1), regs.R12);
            }
            Assert.Equal("NMI: Not continuing", dump.Vmcoreinfo["PANIC_MESSAGE"]);
            // The crashing CPU the dump names is the one whose panic the console showed.
            var panicker = Regex.Match(output, @"Kernel panic - not syncing: NMI: Not continuing[\s\S]*?CPU: (\d+) PID: 0 Comm: swapper/");
            Assert.True(panicker.Success, output);
            Assert.Equal(panicker.Groups[1].Value, dump.Vmcoreinfo["CRASH_CPU"]);
            Assert.Contains($"panic      NMI: Not continuing (CPU {panicker.Groups[1].Value})", output);

            var (rs, notes) = Tool("readelf", "-n", vmcore);
            Assert.Equal(0, rs);
            Assert.Equal(smp, Regex.Matches(notes, @"CORE\s+0x00000150\s+NT_PRSTATUS").Count);
            Assert.Contains("VMCOREINFO", notes);

            // gdb: one thread per CPU note, each in a kernel function ("f () at file:line" when the PC
            // starts a line-table row, else "0x... in f () at ..."); and the panic message read from
            // the buffer the kernel wrote at run time (an address, not a symbol of kernel.elf).
            ulong message = VmcoreinfoHex(dump.Vmcoreinfo, "SYMBOL(panic_message)");
            var (gs, gdb) = Tool("gdb", "-batch", "-nx", Kernel.Image, vmcore, "-ex", "info threads", "-ex", $"x/s 0x{message:x}");
            Assert.True(gs == 0, gdb);
            var threads = Regex.Matches(gdb, @"^\*?\s+\d+\s+LWP (\d+)\s+(?:0x[0-9a-f]+ in )?(\S+)", RegexOptions.Multiline);
            Assert.Equal(Enumerable.Range(1, smp).Select(p => p.ToString()), threads.Select(m => m.Groups[1].Value).Order());
            Assert.All(threads, m => Assert.StartsWith("cpu_idle", m.Groups[2].Value));
            Assert.Contains("\"NMI: Not continuing\"", gdb);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Theory]
    [InlineData("OOPS_PANIC_RACE")]
    [InlineData("NESTED_NMI_PANIC")]
    public void SeedScenario_EndsInAVerifiedVmcoreWithEveryCpu(string scenario)
    {
        var (status, output, dir) = Run("--smp", "4", "--mem", "128", "--no-nmi", "--append", $"crashtest={scenario} crashtest_cpu=1");
        try
        {
            Assert.True(status == 0, $"run exited {status}:\n{output}");
            var dump = VmcoreReader.Read(Path.Combine(dir, "vmcore"));
            Assert.Equal(4, dump.Cpus.Count);
            Assert.False(dump.Vmcoreinfo.ContainsKey("CPU_MISSING"), "a CPU did not answer the shootdown");
            // Who crashed and why: CPU 1 oopses (its headline) or CPU 0's panic wins the race; the
            // nested NMI panics CPU 1 itself.
            string crash = $"{dump.Vmcoreinfo["PANIC_MESSAGE"]} (CPU {dump.Vmcoreinfo["CRASH_CPU"]})";
            string[] expected = scenario == "OOPS_PANIC_RACE"
                ? ["invalid opcode: 0000 [#1] SMP (CPU 1)", "crashtest: OOPS_PANIC_RACE (CPU 0)"]
                : ["crashtest: NESTED_NMI_PANIC (CPU 1)"];
            Assert.Contains(crash, expected);
            Assert.Contains($"capture: panic: {crash}", output);
        }
        finally { Directory.Delete(dir, true); }
    }

    /// <summary>An oops with kdump armed: the vmcore names the oops headline and the CPU that oopsed, and the inspector shows both.</summary>
    [Fact]
    public void OopsDump_TheInspectorNamesTheOopsAndItsCpu()
    {
        var (status, output, dir) = Run("--smp", "2", "--mem", "64", "--no-nmi", "--append", "crashtest=BUG crashtest_cpu=1");
        try
        {
            Assert.True(status == 0, $"run exited {status}:\n{output}");
            var dump = VmcoreReader.Read(Path.Combine(dir, "vmcore"));
            Assert.Equal("invalid opcode: 0000 [#1] SMP", dump.Vmcoreinfo["PANIC_MESSAGE"]);
            Assert.Equal("1", dump.Vmcoreinfo["CRASH_CPU"]);
            Assert.Contains("panic      invalid opcode: 0000 [#1] SMP (CPU 1)", output);
            Assert.Contains("capture: panic: invalid opcode: 0000 [#1] SMP (CPU 1)", output);
            var log = dump.Log();
            Assert.False(log.Corrupt);
            Assert.Contains("invalid opcode: 0000 [#1] SMP", log.Lines);
        }
        finally { Directory.Delete(dir, true); }
    }

    /// <summary>
    /// No capture is coming: the capture kernel fails (a core header it refuses: QEMU exits with
    /// status 3), or the jump is refused and the first kernel's panic halts (panic=0). run says so at
    /// once, not at its time-out.
    /// </summary>
    [Theory]
    [InlineData("elfcorehdr", "capture: bad ELF core header: no program headers (e_phnum 0)",
        "run: no verified vmcore: QEMU exited with status 3 (kernel-detected failure (isa-debug-exit 1, status 3))")]
    [InlineData("handover", "kexec: hand-over code digest mismatch",
        "run: no verified vmcore: the first kernel's panic ended without a jump to the capture kernel")]
    public void Run_WhenNoCaptureComes_FailsAtOnceSayingWhy(string corrupt, string cause, string verdict)
    {
        var (status, output, dir) = Run("--smp", "2", "--mem", "64", "--no-nmi", "--timeout", "600", "--append", $"crashtest=PANIC kexec_corrupt_test={corrupt}");
        try
        {
            Assert.NotEqual(0, status);
            Assert.Contains(cause, output);
            Assert.Contains(verdict, output);
            Assert.DoesNotContain("Timed out", output);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void BothChannels_WriteByteIdenticalDumps()
    {
        var (status, output, dir) = Run("--smp", "2", "--mem", "64", "--channels", "both");
        try
        {
            Assert.True(status == 0, $"run exited {status}:\n{output}");
            Assert.Contains("the debugcon copy is byte-identical", output);
            Assert.Equal(File.ReadAllBytes(Path.Combine(dir, "vmcore")), File.ReadAllBytes(Path.Combine(dir, "vmcore.from-debugcon")));
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void TruncatedAndDamagedTransfers_AreNamed_AndNoVmcoreIsWritten()
    {
        // A full dump, so the stream is some 48 MiB and the cut below falls inside it.
        var (status, output, dir) = Run("--smp", "1", "--mem", "64", "--keep-window", "--dump-level", "0");
        try
        {
            Assert.True(status == 0, $"run exited {status}:\n{output}");
            byte[] stream = File.ReadAllBytes(Path.Combine(dir, "vmcore.window"));
            string cut = Path.Combine(dir, "cut.stream"), bad = Path.Combine(dir, "bad.stream");
            File.WriteAllBytes(cut, stream.AsSpan(0, 40 << 20).ToArray());
            byte[] damaged = (byte[])stream.Clone();
            damaged[(20 << 20) + 12345] ^= 0x40;
            File.WriteAllBytes(bad, damaged);
            string target = Path.Combine(dir, "check.vmcore");
            var (cs, cutOut) = Tool("dotnet", Driver, "receive", cut, target);
            Assert.NotEqual(0, cs);
            Assert.Contains("truncated", cutOut);
            Assert.False(File.Exists(target));
            var (bs, badOut) = Tool("dotnet", Driver, "receive", bad, target);
            Assert.NotEqual(0, bs);
            Assert.Matches(@"damaged: chunk \d+", badOut);
            Assert.False(File.Exists(target));
        }
        finally { Directory.Delete(dir, true); }
    }
}
