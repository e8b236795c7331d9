// Test helper: a multiboot memory map and module list as the first kernel holds them after
// Multiboot.Parse, built the way QEMU 7.2 + SeaBIOS lays them out for -m N (the map the kernel's
// "BIOS-e820:" lines print), with the kernel image at 1 MiB and one module page-aligned after it.
namespace Kernel.Tests;

sealed unsafe class KexecMemoryMap
{
    public const ulong KiB = 1UL << 10, MiB = 1UL << 20, GiB = 1UL << 30;

    /// <summary>The kernel image as out/kernel.elf links it: [1 MiB, 0x623000).</summary>
    public const ulong KernelStart = 0x10_0000, KernelEnd = 0x62_3000;
    /// <summary>The capture image module, page-aligned after the kernel as QEMU places -initrd modules; 3 MiB.</summary>
    public const ulong ModuleStart = 0x62_3000, ModuleEnd = 0x92_3000;

    // On the pinned heap: Multiboot.Range and CrashKernel.Reserve hold raw pointers into the
    // tables, which must not move under a garbage collection started by a parallel test.
    readonly byte[] _storage = GC.AllocateArray<byte>(sizeof(Multiboot.Info) + sizeof(Multiboot.Tables), pinned: true);

    public ref Multiboot.Info Info => ref *(Multiboot.Info*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref _storage[0]);
    public ref Multiboot.Tables Tables => ref *(Multiboot.Tables*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref _storage[sizeof(Multiboot.Info)]);

    public void AddRange(ulong start, ulong length, uint type)
    {
        var r = Multiboot.Range(ref Tables, Info.RangeCount++);
        r->Base = start;
        r->Length = length;
        r->Type = type;
    }

    public void AddModule(ulong start, ulong end)
    {
        var m = Multiboot.ModuleAt(ref Tables, Info.ModuleCount++);
        m->Start = start;
        m->End = end;
    }

    /// <summary>
    /// QEMU's map for -m <paramref name="ram"/> (up to 3 GiB): low RAM to the EBDA, the BIOS area,
    /// RAM from 1 MiB to 128 KiB below the top, the top 128 KiB and the BIOS flash reserved.
    /// </summary>
    public static KexecMemoryMap Qemu(ulong ram, bool withModule = true)
    {
        var m = new KexecMemoryMap();
        m.AddRange(0, 0x9FC00, Multiboot.MemoryAvailable);
        m.AddRange(0x9FC00, 0x400, Multiboot.MemoryReserved);
        m.AddRange(0xF0000, 0x10000, Multiboot.MemoryReserved);
        m.AddRange(0x10_0000, ram - 0x10_0000 - 0x2_0000, Multiboot.MemoryAvailable);
        m.AddRange(ram - 0x2_0000, 0x2_0000, Multiboot.MemoryReserved);
        m.AddRange(0xFFFC_0000, 0x4_0000, Multiboot.MemoryReserved);
        if (withModule) m.AddModule(ModuleStart, ModuleEnd);
        return m;
    }

    /// <summary>Usable bytes of <see cref="Qemu"/>(ram): what "Memory: ...K available" prints.</summary>
    public static ulong QemuSystemRam(ulong ram) => 0x9FC00 + ram - 0x10_0000 - 0x2_0000;

    public bool Setup(string value, out CrashKernelReservation result)
        => CrashKernel.Setup(Ascii.Bytes(value), ref Info, ref Tables, KernelStart, KernelEnd, out result);

    /// <summary>The line the kernel would print for crashkernel=<paramref name="value"/>.</summary>
    public string Message(string value)
    {
        Setup(value, out var result);
        return Message(value, result);
    }

    public static string Message(string value, in CrashKernelReservation result)
    {
        LogLine l = default;
        result.Describe(ref l, Ascii.Bytes(value));
        Assert.False(l.Truncated, "the message must fit one LogLine");
        return Ascii.Of(l.AsSpan());
    }
}
