// CPU primitives: port I/O, MSRs, control registers, cpuid, TSC, interrupt flag. Each is a call
// into a routine of boot/cpu.s, so C# never embeds machine code and the asm stays trivial.
using System.Runtime;
using System.Runtime.CompilerServices;

static unsafe class Cpu
{
    const string Asm = "*";

    [MethodImpl(MethodImplOptions.InternalCall), RuntimeImport(Asm, "outb")] public static extern void Outb(ushort port, byte value);
    [MethodImpl(MethodImplOptions.InternalCall), RuntimeImport(Asm, "outw")] public static extern void Outw(ushort port, ushort value);
    [MethodImpl(MethodImplOptions.InternalCall), RuntimeImport(Asm, "outl")] public static extern void Outl(ushort port, uint value);
    [MethodImpl(MethodImplOptions.InternalCall), RuntimeImport(Asm, "inb")] public static extern byte Inb(ushort port);
    [MethodImpl(MethodImplOptions.InternalCall), RuntimeImport(Asm, "inw")] public static extern ushort Inw(ushort port);
    [MethodImpl(MethodImplOptions.InternalCall), RuntimeImport(Asm, "inl")] public static extern uint Inl(ushort port);
    [MethodImpl(MethodImplOptions.InternalCall), RuntimeImport(Asm, "outsb")] public static extern void Outsb(ushort port, byte* source, ulong count);

    [MethodImpl(MethodImplOptions.InternalCall), RuntimeImport(Asm, "rdmsr")] public static extern ulong Rdmsr(uint msr);
    [MethodImpl(MethodImplOptions.InternalCall), RuntimeImport(Asm, "wrmsr")] public static extern void Wrmsr(uint msr, ulong value);

    [MethodImpl(MethodImplOptions.InternalCall), RuntimeImport(Asm, "read_cr0")] public static extern ulong ReadCr0();
    [MethodImpl(MethodImplOptions.InternalCall), RuntimeImport(Asm, "read_cr2")] public static extern ulong ReadCr2();
    [MethodImpl(MethodImplOptions.InternalCall), RuntimeImport(Asm, "read_cr3")] public static extern ulong ReadCr3();
    [MethodImpl(MethodImplOptions.InternalCall), RuntimeImport(Asm, "write_cr3")] public static extern void WriteCr3(ulong value);
    [MethodImpl(MethodImplOptions.InternalCall), RuntimeImport(Asm, "read_cr4")] public static extern ulong ReadCr4();
    [MethodImpl(MethodImplOptions.InternalCall), RuntimeImport(Asm, "read_rflags")] public static extern ulong ReadRflags();
    [MethodImpl(MethodImplOptions.InternalCall), RuntimeImport(Asm, "invlpg")] public static extern void Invlpg(ulong address);
    [MethodImpl(MethodImplOptions.InternalCall), RuntimeImport(Asm, "cpuid")] static extern void CpuidRaw(uint leaf, uint subleaf, uint* out4);
    [MethodImpl(MethodImplOptions.InternalCall), RuntimeImport(Asm, "rdtsc")] public static extern ulong Rdtsc();

    [MethodImpl(MethodImplOptions.InternalCall), RuntimeImport(Asm, "cli")] public static extern void DisableInterrupts();
    [MethodImpl(MethodImplOptions.InternalCall), RuntimeImport(Asm, "sti")] public static extern void EnableInterrupts();
    [MethodImpl(MethodImplOptions.InternalCall), RuntimeImport(Asm, "hlt")] public static extern void Halt();
    [MethodImpl(MethodImplOptions.InternalCall), RuntimeImport(Asm, "sti_hlt")] public static extern void EnableInterruptsAndHalt();
    [MethodImpl(MethodImplOptions.InternalCall), RuntimeImport(Asm, "pause")] public static extern void Pause();
    [MethodImpl(MethodImplOptions.InternalCall), RuntimeImport(Asm, "halt_forever")] public static extern void HaltForever();

    [MethodImpl(MethodImplOptions.InternalCall), RuntimeImport(Asm, "lgdt")] public static extern void Lgdt(void* pointer);
    [MethodImpl(MethodImplOptions.InternalCall), RuntimeImport(Asm, "lidt")] public static extern void Lidt(void* pointer);
    [MethodImpl(MethodImplOptions.InternalCall), RuntimeImport(Asm, "ltr")] public static extern void Ltr(ushort selector);
    [MethodImpl(MethodImplOptions.InternalCall), RuntimeImport(Asm, "reload_segments")] public static extern void ReloadSegments(ulong codeSelector, ulong dataSelector);
    [MethodImpl(MethodImplOptions.InternalCall), RuntimeImport(Asm, "write_gs_base")] public static extern void WriteGsBase(ulong value);
    [MethodImpl(MethodImplOptions.InternalCall), RuntimeImport(Asm, "read_gs_base")] public static extern ulong ReadGsBase();
    [MethodImpl(MethodImplOptions.InternalCall), RuntimeImport(Asm, "read_rsp")] public static extern ulong ReadRsp();

    public const ulong RflagsIf = 1 << 9;

    public static bool InterruptsEnabled => (ReadRflags() & RflagsIf) != 0;

    public struct CpuidResult { public uint Eax, Ebx, Ecx, Edx; }

    public static CpuidResult Cpuid(uint leaf, uint subleaf = 0)
    {
        CpuidResult r;
        CpuidRaw(leaf, subleaf, (uint*)&r);
        return r;
    }
}
