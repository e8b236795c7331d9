// Reads a vmcore with the kernel's own readers (kernel/dump/Vmcore.cs, kernel/printk/KmsgReader.cs,
// compiled into these tests): the registers of each CPU note by pid, VMCOREINFO as a dictionary,
// the first kernel's memory and its log ring.
using System.Text;
using Xunit;

namespace Nmidump.QemuTests;

public sealed record CpuRegisters(ulong Rip, ulong Rsp, ulong R12);

/// <summary>A PT_LOAD: Size is p_memsz, FileSize p_filesz.</summary>
public sealed record LoadHeader(ulong PhysAddr, ulong Size, ulong FileSize)
{
    public ulong End => PhysAddr + Size;
}

/// <summary>The first kernel's log as the dump holds it: every record's text, and what the walk met.</summary>
public sealed record DumpLog(IReadOnlyList<string> Lines, bool Corrupt, ulong Unfinished, ulong Lost);

public sealed class VmcoreReader
{
    byte[] _file = [];

    public Dictionary<int, CpuRegisters> Cpus { get; } = new();
    public Dictionary<string, string> Vmcoreinfo { get; } = new();
    public List<LoadHeader> Loads { get; } = new();
    /// <summary>The capture kernel's dump-filter note, if the dump has one.</summary>
    public DumpFilterStats? Filter { get; private set; }

    /// <summary>True if some PT_LOAD covers <paramref name="pa"/>.</summary>
    public bool Covers(ulong pa) => Loads.Any(l => pa >= l.PhysAddr && pa < l.End);

    /// <summary>Bytes of the first kernel's physical memory, as the dump's PT_LOADs hold them.</summary>
    public byte[] ReadPhysical(ulong address, int size)
    {
        Assert.True(VmcoreFile.Open(_file, out VmcoreFile core, out _));
        var bytes = new byte[size];
        Assert.True(core.ReadPhysical(address, bytes) == size, $"0x{address:x} (+{size}) is not in the dump's memory");
        return bytes;
    }

    /// <summary>The first kernel's log ring, found through SYMBOL(log_buf) and read with the kernel's own reader.</summary>
    public DumpLog Log()
    {
        ulong at = Convert.ToUInt64(Vmcoreinfo["SYMBOL(log_buf)"], 16);
        int size = (int)Convert.ToUInt64(Vmcoreinfo["SIZE(log_buf)"]);
        byte[] area = ReadPhysical(at, size);
        Assert.True(Kmsg.ReadHeader(area, out KmsgHeader header), "the dump's log ring has no valid header");
        var lines = new List<string>();
        var reader = Kmsg.Read(area);
        while (reader.MoveNext()) lines.Add(Encoding.ASCII.GetString(reader.Current.Text));
        return new DumpLog(lines, reader.Corrupt, reader.Unfinished, header.Lost);
    }

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
