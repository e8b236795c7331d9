// Reads a vmcore with the kernel's own reader (kernel/dump/Vmcore.cs, compiled into these tests):
// the registers of each CPU note by pid, and VMCOREINFO as a dictionary.
using System.Text;
using Xunit;

namespace Nmidump.QemuTests;

public sealed record CpuRegisters(ulong Rip, ulong Rsp, ulong R12);

public sealed class VmcoreReader
{
    public Dictionary<int, CpuRegisters> Cpus { get; } = new();
    public Dictionary<string, string> Vmcoreinfo { get; } = new();

    public static VmcoreReader Read(string path)
    {
        byte[] file = File.ReadAllBytes(path);
        var r = new VmcoreReader();
        Assert.True(VmcoreFile.Open(file, out VmcoreFile core, out ElfCoreError error), $"{path}: {Describe(error)}");
        for (int n = 0; core.PrStatus(n, out int pid, out PrStatusRegs regs); n++)
            r.Cpus[pid] = new CpuRegisters(regs[UserReg.Rip], regs[UserReg.Rsp], regs[UserReg.R12]);
        Assert.True(core.VmcoreinfoText(out ReadOnlySpan<byte> text), "no VMCOREINFO note");
        foreach (var line in Encoding.ASCII.GetString(text).Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            int eq = line.IndexOf('=');
            if (eq > 0) r.Vmcoreinfo[line[..eq]] = line[(eq + 1)..];
        }
        return r;
    }

    static string Describe(ElfCoreError e)
    {
        LogLine l = default;
        e.Describe(ref l);
        return Encoding.ASCII.GetString(l.AsSpan());
    }
}
