// dump_level=, makedumpfile's mask on the capture image's module line (`run --dump-level N`): each
// level keeps what it must and leaves out what it may, gdb reads every level's dump, and the first
// kernel refuses the parameter on its own command line, naming where it belongs.
using System.Text.RegularExpressions;
using Xunit;

namespace Nmidump.QemuTests;

public class DumpLevelTests
{
    /// <summary>A page of free RAM in a 128 MiB guest: above the kernel image and its module, below the crash region.</summary>
    const ulong FreePage = 0x500_0000;

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(16)]
    [InlineData(31)]
    public void EachLevel_KeepsWhatItMust_AndLeavesOutWhatItMay(int level)
    {
        var (status, output, dir) = DumpTests.Run("--smp", "2", "--mem", "128", "--dump-level", level.ToString());
        try
        {
            Assert.True(status == 0, $"run exited {status}:\n{output}");
            string vmcore = Path.Combine(dir, "vmcore");
            var dump = VmcoreReader.Read(vmcore);
            var f = dump.Filter!.Value;
            Assert.Equal(level, f.Level);
            Assert.Equal(f.RamBytes, f.DataBytes + f.ZeroBytes + f.FreeBytes);
            Assert.Equal(f.DataBytes, (ulong)dump.Loads.Sum(l => (long)l.FileSize));
            Assert.Contains($"dump_level {level} (", output);   // the capture kernel's line and the inspector's

            bool zeroHoles = (level & 1) != 0, freeOut = (level & 16) != 0;
            Assert.Equal(freeOut, !dump.Covers(FreePage));
            Assert.Equal(zeroHoles, dump.Loads.Any(l => l.FileSize < l.Size));
            if (!freeOut) Assert.Equal(new byte[64], dump.ReadPhysical(FreePage, 64));   // there, and zero
            if (level == 0) Assert.Equal(f.RamBytes, f.DataBytes);
            // Level 16 keeps the image whole (255 CPUs' stacks, mostly zeros); 31 only its data.
            else Assert.True(new FileInfo(vmcore).Length < (level == 31 ? 8L << 20 : 64L << 20), $"{new FileInfo(vmcore).Length} bytes at level {level}");

            // What VMCOREINFO names is whole at every level: the log ring reads back in full.
            ulong log = Convert.ToUInt64(dump.Vmcoreinfo["SYMBOL(log_buf)"], 16);
            int logSize = int.Parse(dump.Vmcoreinfo["SIZE(log_buf)"]);
            Assert.Equal(logSize, dump.ReadPhysical(log, logSize).Length);
            Assert.True(dump.Loads.Where(l => log >= l.PhysAddr && log < l.End).All(l => log + (ulong)logSize <= l.PhysAddr + l.FileSize),
                "the log ring is not all file bytes");

            var (gs, gdb) = DumpTests.Tool("gdb", "-batch", "-nx", Kernel.Image, vmcore, "-ex", "info threads", "-ex", "bt 1");
            Assert.True(gs == 0, gdb);
            Assert.Equal(2, Regex.Matches(gdb, @"^\*?\s+\d+\s+LWP \d+\s+(0x[0-9a-f]+ in )?cpu_idle", RegexOptions.Multiline).Count);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void DumpLevelOnTheFirstKernelsLine_IsRefused_NamingTheModuleLine()
    {
        using var vm = CaptureBoot.Boot("crashkernel=16M dump_level=16 poweroff_after_ms=0", smp: 1);
        vm.Expect("dump_level=16 ignored: it is a capture kernel parameter; put it on the capture image's module line (-initrd \"capture.elf dump_level=16\", or ./build.sh run --dump-level 16)");
        vm.Expect("kdump: capture image armed");
    }
}
