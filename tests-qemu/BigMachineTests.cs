// Machines bigger than the kernel used to handle, through the front door (`run`): RAM above 4 GiB
// carried end to end (the capture kernel maps it, the window and the receiver take it, the
// inspector and gdb read it), 255 CPUs with every register note, CPUs that are present but never
// online named and never sent a broadcast, and the privacy of the files that hold guest memory.
// Few and generous: under TCG a 255-CPU boot alone takes tens of seconds.
using System.Text;
using System.Text.RegularExpressions;
using Xunit;

namespace Nmidump.QemuTests;

public class BigMachineTests
{
    const string HighMemText = "nmidump selftest: RAM above 4 GiB, owned by the kernel";

    /// <summary>64 GiB: the most the page-table pools are sized for; the page claimed is the last below 65 GiB.</summary>
    [Fact]
    public void RamAboveFourGiB_TheOwnedPageThereIsInTheDefaultDump_AndGdbReadsIt()
    {
        var (status, output, dir) = DumpTests.RunWithin(300, "--smp", "2", "--mem", "65536", "--append", "selftest=highmem");
        try
        {
            Assert.True(status == 0, $"run exited {status}:\n{output}");
            var m = Regex.Match(output, @"selftest: highmem: page 0x([0-9a-f]+) claimed");
            Assert.True(m.Success, "no selftest=highmem line:\n" + output);
            ulong page = Convert.ToUInt64(m.Groups[1].Value, 16);
            Assert.True(page == (65UL << 30) - 4096, $"the page 0x{page:x} is not the last one of a 64 GiB guest's RAM");

            string vmcore = Path.Combine(dir, "vmcore");
            var dump = VmcoreReader.Read(vmcore);
            Assert.Equal(31, dump.Filter!.Value.Level);
            Assert.True(dump.Covers(page), "no PT_LOAD covers the owned page above 4 GiB");
            Assert.Equal(HighMemText, Encoding.ASCII.GetString(dump.ReadPhysical(page, HighMemText.Length)));
            // Free RAM above 4 GiB is left out, not written as zeros.
            Assert.False(dump.Covers(5UL << 30), "free RAM at 5 GiB is in a filtered dump");
            Assert.True(new FileInfo(vmcore).Length < 16 << 20, $"the default dump of a 64 GiB guest is {new FileInfo(vmcore).Length} bytes");

            var (gs, gdb) = DumpTests.Tool("gdb", "-batch", "-nx", Kernel.Image, vmcore, "-ex", $"x/s 0x{page:x}", "-ex", "info threads");
            Assert.True(gs == 0, gdb);
            Assert.Contains($"\"{HighMemText}\"", gdb);
            Assert.Equal(2, Regex.Matches(gdb, @"^\*?\s+\d+\s+LWP \d+\s+(0x[0-9a-f]+ in )?cpu_idle", RegexOptions.Multiline).Count);
            Assert.Contains($"0x{page:x16}", output);   // the inspector's PT_LOAD table lists it
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void TwoHundredFiftyFiveCpus_EveryOneSavesItsRegisters()
    {
        var (status, output, dir) = DumpTests.RunWithin(600, "--smp", "255", "--mem", "1024");
        try
        {
            Assert.True(status == 0, $"run exited {status}:\n{output}");
            Assert.Contains("smp: Brought up 1 node, 255 CPUs", output);
            var dump = VmcoreReader.Read(Path.Combine(dir, "vmcore"));
            Assert.Equal(Enumerable.Range(1, 255), dump.Cpus.Keys.Order());
            Assert.False(dump.Vmcoreinfo.ContainsKey("CPU_MISSING"), "a CPU did not answer within the bound: " + dump.Vmcoreinfo.GetValueOrDefault("CPU_MISSING"));
            Assert.False(dump.Vmcoreinfo.ContainsKey("NOT_ONLINE_APIC_IDS"));
            Assert.Equal("0-254", dump.Vmcoreinfo["APIC_IDS"]);
            foreach (var (pid, regs) in dump.Cpus) Assert.Equal(0xC0DE0000UL + (ulong)(pid - 1), regs.R12);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void PresentButOfflineCpus_AreNamed_GetNoBroadcast_AndTheDumpIsWhole()
    {
        // nr_cpus=2 of 4: CPUs 2 and 3 stay parked in the firmware, where a broadcast NMI would
        // reset the machine; the shootdown must address CPUs 0 and 1 one by one.
        var (status, output, dir) = DumpTests.Run("--smp", "4", "--mem", "128", "--append", "nr_cpus=2");
        try
        {
            Assert.True(status == 0, $"run exited {status}:\n{output}");
            Assert.Contains("smp: 2 CPUs present but not online (nr_cpus=2), APIC IDs 2-3; they get no broadcast IPI or NMI", output);
            var dump = VmcoreReader.Read(Path.Combine(dir, "vmcore"));
            Assert.Equal([1, 2], dump.Cpus.Keys.Order());
            Assert.Equal("2-3", dump.Vmcoreinfo["NOT_ONLINE_APIC_IDS"]);
            Assert.Equal("2", dump.Vmcoreinfo["NUMBER(nr_cpus)"]);
            Assert.False(dump.Vmcoreinfo.ContainsKey("CPU_MISSING"));
            Assert.Contains("capture: CPUs present but not online (no registers), APIC IDs 2-3", output);
            Assert.Contains("present but never online (no registers by design; no broadcast IPI reached them): APIC IDs 2-3", output);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void OnATerminal_RunShowsAProgressBar_ThenOneSummaryLine()
    {
        string dir = Directory.CreateTempSubdirectory("nmidump-run-").FullName;
        try
        {
            // script(1) gives run a pseudo-terminal; a full 512 MiB dump lasts long enough for redraws.
            string driver = DumpTests.Driver;
            var (status, output) = DumpTests.Tool("script", "-qefc",
                $"dotnet '{driver}' run --no-build --out '{dir}' --timeout 180 --smp 1 --mem 512 --dump-level 0", "/dev/null");
            Assert.True(status == 0, $"run exited {status}:\n{output}");
            Assert.Matches(@"\r\u001b\[Kvmcore \[#*\.*\] \d+\.\d of \d+\.\d MiB  (\d+|-) MB/s  ", output);
            Assert.Contains("\u001b[K", output);
            Assert.Single(Regex.Matches(output, @"run: received \d+ bytes \(\d+\.\d MiB\) in \d+\.\d\d s \(\d+ MB/s\) through the window; NMI to verified vmcore \d+\.\d\d s"));
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void FilesHoldingGuestMemory_AreOwnerOnly_UnderAPermissiveUmask()
    {
        string dir = Directory.CreateTempSubdirectory("nmidump-run-").FullName;
        try
        {
            // umask 000: whatever QEMU or .NET create on their own would be world-readable.
            string driver = DumpTests.Driver;
            var (status, output) = DumpTests.Tool("sh", "-c",
                $"umask 000 && exec dotnet '{driver}' run --no-build --out '{dir}' --timeout 180 --smp 1 --mem 64 --channels both --keep-window");
            Assert.True(status == 0, $"run exited {status}:\n{output}");
            foreach (string name in new[] { "vmcore", "vmcore.window", "vmcore.debugcon", "vmcore.from-debugcon" })
            {
                string path = Path.Combine(dir, name);
                Assert.True(File.Exists(path), $"{name} is missing");
                Assert.True(File.GetUnixFileMode(path) == (UnixFileMode.UserRead | UnixFileMode.UserWrite),
                    $"{name} has mode {Convert.ToString((int)File.GetUnixFileMode(path), 8)}, 600 expected");
            }
        }
        finally { Directory.Delete(dir, true); }
    }
}
