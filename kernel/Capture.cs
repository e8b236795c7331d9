// The capture kernel: what runs in the crashkernel= region after the first kernel's panic. It
// starts on one CPU, possibly with NMIs still blocked, reads the ELF core header it was handed,
// reports the crash (panic message, crash time, each CPU's registers, the first kernel's log tail)
// and powers off. It never writes outside its region and never starts another CPU.
using System.Runtime.InteropServices;

static unsafe class Capture
{
    static ulong s_coreHeader, s_regionBase, s_regionSize;

    public static bool Active => s_regionSize != 0;

    [UnmanagedCallersOnly(EntryPoint = "capture_main")]
    static void Main(ulong coreHeader, ulong regionBase, ulong regionSize)
    {
        Clock.MarkBoot(Cpu.Rdtsc());
        s_coreHeader = coreHeader;
        s_regionBase = regionBase;
        s_regionSize = regionSize;
        Serial.Init();
        Log.Init();
        Log.Info($"capture: entered at 0x{regionBase:x} (region 0x{regionSize:x} bytes), elfcorehdr 0x{coreHeader:x}");
        Power.ExitClean();
    }
}
