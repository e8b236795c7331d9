// The multiboot information block (Multiboot 0.6.96, section 3.3): memory map, command line and
// modules, copied out of low memory at entry. QEMU leaves the block at 0x9500 and the map at
// 0x9000, in RAM the map itself calls free, so nothing here may be read after boot reuses it.
// Pure logic over raw pointers (host tests hand it a fake block); every length is bounded.
using System.Runtime.InteropServices;

static unsafe class Multiboot
{
    public const uint BootloaderMagic = 0x2BADB002;
    public const int MaxMemoryRanges = 64, MaxModules = 8, CommandLineCapacity = 2048, ModuleStringCapacity = 256;

    const uint FlagMemory = 1 << 0, FlagCmdline = 1 << 2, FlagModules = 1 << 3, FlagMmap = 1 << 6;

    public const uint MemoryAvailable = 1, MemoryReserved = 2, MemoryAcpiReclaimable = 3, MemoryNvs = 4, MemoryBad = 5;

    [StructLayout(LayoutKind.Sequential)]
    public struct MemoryRange { public ulong Base, Length; public uint Type; }

    [StructLayout(LayoutKind.Sequential)]
    public struct Module
    {
        public ulong Start, End;
        public int StringLength;
        public fixed byte String[ModuleStringCapacity];
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct Info
    {
        public uint Flags;
        public uint MemLowerKiB, MemUpperKiB;
        public int CommandLineLength;
        public fixed byte CommandLine[CommandLineCapacity];
        public int RangeCount;
        public int ModuleCount;
        public bool CommandLineTruncated;
        public int RangesDropped, ModulesDropped;
    }

    // Ranges and modules live beside Info (fixed buffers of structs are not allowed in C#).
    [StructLayout(LayoutKind.Sequential)]
    public struct Tables
    {
        public fixed byte Ranges[MaxMemoryRanges * 24];
        public fixed byte Modules[MaxModules * (16 + 4 + ModuleStringCapacity + 4)];
    }

    public static MemoryRange* Range(ref Tables t, int i)
    {
        fixed (byte* p = t.Ranges) return (MemoryRange*)(p + i * sizeof(MemoryRange));
    }

    public static Module* ModuleAt(ref Tables t, int i)
    {
        fixed (byte* p = t.Modules) return (Module*)(p + i * sizeof(Module));
    }

    /// <summary>
    /// Copies what the kernel keeps from the loader's block. `readable` bounds every pointer the
    /// block holds (physical addresses are identity-mapped): anything outside [lo, hi) is ignored.
    /// </summary>
    public static bool Parse(byte* block, ulong readableLo, ulong readableHi, ref Info info, ref Tables tables)
    {
        info = default;
        if (!Readable((ulong)block, 52, readableLo, readableHi)) return false;
        uint flags = *(uint*)block;
        info.Flags = flags;
        if ((flags & FlagMemory) != 0)
        {
            info.MemLowerKiB = *(uint*)(block + 4);
            info.MemUpperKiB = *(uint*)(block + 8);
        }
        if ((flags & FlagCmdline) != 0)
        {
            fixed (byte* cmdline = info.CommandLine)
                info.CommandLineLength = CopyString(*(uint*)(block + 16), readableLo, readableHi, cmdline, CommandLineCapacity, out info.CommandLineTruncated);
        }
        if ((flags & FlagModules) != 0)
        {
            uint count = *(uint*)(block + 20), addr = *(uint*)(block + 24);
            for (uint i = 0; i < count; i++)
            {
                ulong entry = (ulong)addr + i * 16;
                if (!Readable(entry, 16, readableLo, readableHi)) break;
                if (info.ModuleCount == MaxModules) { info.ModulesDropped++; continue; }
                Module* m = ModuleAt(ref tables, info.ModuleCount++);
                m->Start = *(uint*)entry;
                m->End = *(uint*)(entry + 4);
                m->StringLength = CopyString(*(uint*)(entry + 8), readableLo, readableHi, m->String, ModuleStringCapacity, out _);
            }
        }
        if ((flags & FlagMmap) != 0)
        {
            uint length = *(uint*)(block + 44), addr = *(uint*)(block + 48);
            ulong p = addr, end = (ulong)addr + length;
            // Each entry: u32 size (not counting itself), u64 base, u64 length, u32 type.
            while (p + 24 <= end && Readable(p, 24, readableLo, readableHi))
            {
                uint size = *(uint*)p;
                if (size < 20) break;
                if (info.RangeCount == MaxMemoryRanges) info.RangesDropped++;
                else
                {
                    MemoryRange* r = Range(ref tables, info.RangeCount++);
                    r->Base = *(ulong*)(p + 4);
                    r->Length = *(ulong*)(p + 12);
                    r->Type = *(uint*)(p + 20);
                }
                p += size + 4;
            }
        }
        return true;
    }

    static bool Readable(ulong addr, ulong size, ulong lo, ulong hi) => addr >= lo && addr < hi && size <= hi - addr;

    static int CopyString(ulong addr, ulong lo, ulong hi, byte* dst, int capacity, out bool truncated)
    {
        truncated = false;
        int n = 0;
        while (Readable(addr + (ulong)n, 1, lo, hi))
        {
            byte b = *(byte*)(addr + (ulong)n);
            if (b == 0) return n;
            if (n == capacity) { truncated = true; return n; }
            dst[n++] = b;
        }
        return n;
    }

    /// <summary>The command line without its first word: loaders (QEMU, GRUB) put the kernel's path there.</summary>
    public static System.ReadOnlySpan<byte> KernelArguments(System.ReadOnlySpan<byte> cmdline)
    {
        int i = 0;
        while (i < cmdline.Length && cmdline[i] == (byte)' ') i++;
        while (i < cmdline.Length && cmdline[i] != (byte)' ') i++;
        while (i < cmdline.Length && cmdline[i] == (byte)' ') i++;
        return cmdline.Slice(i);
    }

    /// <summary>Top of usable RAM below 4 GiB and total available bytes, from the map.</summary>
    public static ulong AvailableBytes(ref Info info, ref Tables tables)
    {
        ulong total = 0;
        for (int i = 0; i < info.RangeCount; i++)
        {
            MemoryRange* r = Range(ref tables, i);
            if (r->Type == MemoryAvailable) total += r->Length;
        }
        return total;
    }
}
