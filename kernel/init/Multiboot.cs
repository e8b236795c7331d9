// The multiboot information block (Multiboot 0.6.96, section 3.3): memory map, command line,
// modules, the loader's name and its text-mode framebuffer, copied out of low memory at entry. QEMU
// leaves the block at 0x9500 and the map at 0x9000, GRUB 2 everything from 0x10000, in RAM the map
// itself calls free, so nothing here may be read after boot reuses it. Pure logic over a
// physical-memory window (host tests hand it a fake one); every read is bounded.
using System.Runtime.InteropServices;

public static unsafe class Multiboot
{
    public const uint BootloaderMagic = 0x2BADB002;
    public const int MaxMemoryRanges = 64, MaxModules = 8, CommandLineCapacity = 2048, ModuleStringCapacity = 256, LoaderNameCapacity = 64;

    const uint FlagMemory = 1 << 0, FlagCmdline = 1 << 2, FlagModules = 1 << 3, FlagMmap = 1 << 6, FlagLoaderName = 1 << 9,
        FlagFramebuffer = 1 << 12;
    /// <summary>The block's size up to the loader's name (offset 64), and up to the framebuffer fields (88..110).</summary>
    const int BlockSize = 68, FramebufferBlockSize = 112;
    /// <summary>framebuffer_type 2: EGA-standard text mode, width and height in characters (section 3.3).</summary>
    public const byte FramebufferEgaText = 2;

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
        /// <summary>
        /// The command line and module strings start with the image's path: QEMU's -kernel and -initrd
        /// (and GRUB Legacy) put it there, GRUB 2 passes only the words after it.
        /// </summary>
        public bool PathFirst;
        public int LoaderNameLength;
        public fixed byte LoaderName[LoaderNameCapacity];
        /// <summary>The loader's framebuffer (flag 12), when it gave one: address, pitch, size, bits per pixel, type.</summary>
        public bool HasFramebuffer;
        public byte FramebufferType, FramebufferBpp;
        public ulong FramebufferAddress;
        public uint FramebufferPitch, FramebufferWidth, FramebufferHeight;
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

    /// <summary>The loader's own name (flag 9), empty when it gave none; valid while <paramref name="info"/> is.</summary>
    public static System.ReadOnlySpan<byte> LoaderName(ref Info info)
    {
        fixed (byte* p = info.LoaderName) return new System.ReadOnlySpan<byte>(p, info.LoaderNameLength);
    }

    public static Module* ModuleAt(ref Tables t, int i)
    {
        fixed (byte* p = t.Modules) return (Module*)(p + i * sizeof(Module));
    }

    /// <summary>
    /// Copies what the kernel keeps from the loader's block at physical infoAddress. Every address
    /// the block holds goes through the window (the kernel's identity map; a fake memory in host
    /// tests), so a pointer outside it is ignored instead of followed.
    /// </summary>
    public static bool Parse(PhysicalWindow memory, ulong infoAddress, ref Info info, ref Tables tables)
    {
        info = default;
        byte* block = memory.Map(infoAddress, BlockSize);
        if (block == null) return false;
        uint flags = *(uint*)block;
        info.Flags = flags;
        if ((flags & FlagLoaderName) != 0)
        {
            fixed (byte* name = info.LoaderName)
                info.LoaderNameLength = CopyString(memory, *(uint*)(block + 64), name, LoaderNameCapacity, out _);
        }
        info.PathFirst = PathComesFirst(LoaderName(ref info));
        byte* fb = (flags & FlagFramebuffer) != 0 ? memory.Map(infoAddress, FramebufferBlockSize) : null;
        if (fb != null)
        {
            info.HasFramebuffer = true;
            info.FramebufferAddress = *(ulong*)(fb + 88);
            info.FramebufferPitch = *(uint*)(fb + 96);
            info.FramebufferWidth = *(uint*)(fb + 100);
            info.FramebufferHeight = *(uint*)(fb + 104);
            info.FramebufferBpp = fb[108];
            info.FramebufferType = fb[109];
        }
        if ((flags & FlagMemory) != 0)
        {
            info.MemLowerKiB = *(uint*)(block + 4);
            info.MemUpperKiB = *(uint*)(block + 8);
        }
        if ((flags & FlagCmdline) != 0)
        {
            fixed (byte* cmdline = info.CommandLine)
                info.CommandLineLength = CopyString(memory, *(uint*)(block + 16), cmdline, CommandLineCapacity, out info.CommandLineTruncated);
        }
        if ((flags & FlagModules) != 0)
        {
            uint count = *(uint*)(block + 20), addr = *(uint*)(block + 24);
            for (uint i = 0; i < count; i++)
            {
                byte* entry = memory.Map((ulong)addr + i * 16, 16);
                if (entry == null) break;
                if (info.ModuleCount == MaxModules) { info.ModulesDropped++; continue; }
                Module* m = ModuleAt(ref tables, info.ModuleCount++);
                m->Start = *(uint*)entry;
                m->End = *(uint*)(entry + 4);
                m->StringLength = CopyString(memory, *(uint*)(entry + 8), m->String, ModuleStringCapacity, out _);
            }
        }
        if ((flags & FlagMmap) != 0)
        {
            uint length = *(uint*)(block + 44), addr = *(uint*)(block + 48);
            ulong p = addr, end = (ulong)addr + length;
            // Each entry: u32 size (not counting itself), u64 base, u64 length, u32 type.
            byte* e;
            while (p + 24 <= end && (e = memory.Map(p, 24)) != null)
            {
                uint size = *(uint*)e;
                if (size < 20) break;
                if (info.RangeCount == MaxMemoryRanges) info.RangesDropped++;
                else
                {
                    MemoryRange* r = Range(ref tables, info.RangeCount++);
                    r->Base = *(ulong*)(e + 4);
                    r->Length = *(ulong*)(e + 12);
                    r->Type = *(uint*)(e + 20);
                }
                p += size + 4;
            }
        }
        return true;
    }

    static int CopyString(PhysicalWindow memory, ulong addr, byte* dst, int capacity, out bool truncated)
    {
        truncated = false;
        int n = 0;
        byte* b;
        while ((b = memory.Map(addr + (ulong)n, 1)) != null)
        {
            if (*b == 0) return n;
            if (n == capacity) { truncated = true; return n; }
            dst[n++] = *b;
        }
        return n;
    }

    /// <summary>
    /// Whether a loader puts the image's path before the arguments. Multiboot 0.6.96 leaves it open;
    /// GRUB 2 ("GRUB 2.06-13+deb12u2") drops the path from both the command line and each module's
    /// string (grub_cmd_multiboot and grub_cmd_module skip their first argument), QEMU ("qemu")
    /// keeps it, and so did the spec's own loader, GRUB Legacy ("GNU GRUB 0.97"): a loader that does
    /// not name itself is taken to keep it too.
    /// </summary>
    public static bool PathComesFirst(System.ReadOnlySpan<byte> loaderName) => !Bytes.StartsWith(loaderName, "GRUB "u8);

    /// <summary>A command line or module string without the image's path, when the loader put one there.</summary>
    public static System.ReadOnlySpan<byte> KernelArguments(System.ReadOnlySpan<byte> cmdline, bool pathFirst)
    {
        int i = 0;
        while (i < cmdline.Length && cmdline[i] == (byte)' ') i++;
        if (!pathFirst) return cmdline.Slice(i);
        while (i < cmdline.Length && cmdline[i] != (byte)' ') i++;
        while (i < cmdline.Length && cmdline[i] == (byte)' ') i++;
        return cmdline.Slice(i);
    }

    /// <summary>
    /// Takes the top <paramref name="size"/> bytes (page aligned) of the highest usable RAM below
    /// <paramref name="ceiling"/>, below any module in its way, out of the map: that range shrinks,
    /// and an entry of type <paramref name="type"/> follows it. The same map and modules give the
    /// same place at every boot. False when no usable range below the ceiling is large enough, or
    /// the table has no room.
    /// </summary>
    public static bool ReserveTop(ref Info info, ref Tables tables, ulong size, ulong ceiling, uint type, out ulong start)
    {
        start = 0;
        int best = -1;
        ulong bestEnd = 0;
        for (int i = 0; i < info.RangeCount; i++)
        {
            MemoryRange* r = Range(ref tables, i);
            if (r->Type != MemoryAvailable) continue;
            ulong end = r->Base + r->Length < ceiling ? r->Base + r->Length : ceiling;
            end = BelowModules(ref info, ref tables, end & ~0xFFFUL, size);
            if (end <= r->Base || end - r->Base < size + 0x1000 || end <= bestEnd) continue;
            best = i;
            bestEnd = end;
        }
        if (best < 0) return false;
        MemoryRange* b = Range(ref tables, best);
        ulong oldEnd = b->Base + b->Length;
        // Whatever of the range lies above the reservation (past the ceiling, or a module's place)
        // follows it as its own entry.
        int extra = oldEnd > bestEnd ? 1 : 0;
        if (info.RangeCount + 1 + extra > MaxMemoryRanges) return false;
        start = bestEnd - size;
        b->Length = start - b->Base;
        for (int i = info.RangeCount - 1; i > best; i--) *Range(ref tables, i + 1 + extra) = *Range(ref tables, i);
        *Range(ref tables, best + 1) = new MemoryRange { Base = start, Length = size, Type = type };
        if (extra != 0) *Range(ref tables, best + 2) = new MemoryRange { Base = bestEnd, Length = oldEnd - bestEnd, Type = MemoryAvailable };
        info.RangeCount += 1 + extra;
        return true;
    }

    /// <summary>
    /// The highest page-aligned end at or below <paramref name="end"/> whose <paramref name="size"/>
    /// bytes below it touch no module: the loader put each module there before the kernel ran, and
    /// puts it there again at the next boot, over whatever the reservation kept. Each step moves
    /// below one module, so the walk ends after at most ModuleCount steps.
    /// </summary>
    static ulong BelowModules(ref Info info, ref Tables tables, ulong end, ulong size)
    {
        int modules = info.ModuleCount < MaxModules ? info.ModuleCount : MaxModules;
        for (int step = 0; step <= modules; step++)
        {
            if (end < size) return 0;
            ulong start = end - size;
            bool moved = false;
            for (int m = 0; m < modules && !moved; m++)
            {
                Module* mod = ModuleAt(ref tables, m);
                if (mod->End > mod->Start && mod->Start < end && mod->End > start)
                {
                    end = mod->Start & ~0xFFFUL;
                    moved = true;
                }
            }
            if (!moved) return end;
        }
        return 0;
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
