// Reads a vmcore with the kernel's own reader (kernel/dump/Vmcore.cs, compiled into these tests):
// the registers of each CPU note by pid, and VMCOREINFO as a dictionary.
using System.Text;
using Xunit;

namespace Nmidump.QemuTests;

public sealed record CpuRegisters(ulong Rip, ulong Rsp, ulong R12);

/// <summary>A PT_LOAD: Size is p_memsz, FileSize p_filesz.</summary>
public sealed record LoadHeader(ulong PhysAddr, ulong Size, ulong FileSize)
{
    public ulong End => PhysAddr + Size;
}

public sealed class VmcoreReader
{
    public Dictionary<int, CpuRegisters> Cpus { get; } = new();
    public Dictionary<string, string> Vmcoreinfo { get; } = new();
    public List<LoadHeader> Loads { get; } = new();
    /// <summary>The capture kernel's dump-filter note, if the dump has one.</summary>
    public DumpFilterStats? Filter { get; private set; }
    byte[] _file = [];

    /// <summary>Memory at physical <paramref name="pa"/>, up to the first byte the dump does not hold.</summary>
    public byte[] ReadPhysical(ulong pa, int length)
    {
        Assert.True(VmcoreFile.Open(_file, out VmcoreFile core, out _));
        var buffer = new byte[length];
        int got = core.ReadPhysical(pa, buffer);
        return buffer[..got];
    }

    /// <summary>True if some PT_LOAD covers <paramref name="pa"/>.</summary>
    public bool Covers(ulong pa) => Loads.Any(l => pa >= l.PhysAddr && pa < l.End);

    public static VmcoreReader Read(string path)
    {
        byte[] file = File.ReadAllBytes(path);
        var r = new VmcoreReader { _file = file };
        Assert.True(VmcoreFile.Open(file, out VmcoreFile core, out ElfCoreError error), $"{path}: {Describe(error)}");
        for (int i = 0; core.Load(i, out ElfProgramHeader h); i++) r.Loads.Add(new LoadHeader(h.PhysAddr, h.MemSize, h.FileSize));
        if (DumpFilter.ReadNote(core.Notes, out DumpFilterStats stats)) r.Filter = stats;
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
