// Segment descriptors and the 64-bit TSS, one set per CPU (the TSS descriptor's busy bit is per
// CPU). The selectors (BootDefs.cs) match Linux's (kernel CS 0x10, DS 0x18) so register dumps read the same.
// The TSS carries the IST stacks: NMI, #DF and #MC each run on their own known-good stack
// (SDM Vol. 3A 7.7 "Task Management in 64-bit Mode", 6.14.5 "Interrupt Stack Table").
using System.Runtime.InteropServices;

static unsafe class Gdt
{
    [StructLayout(LayoutKind.Sequential)]
    public struct Table { public fixed ulong Entries[8]; }

    [StructLayout(LayoutKind.Explicit, Size = 104)]
    public struct Tss64
    {
        [FieldOffset(4)] public ulong Rsp0;
        [FieldOffset(36)] public ulong Ist1;
        [FieldOffset(44)] public ulong Ist2;
        [FieldOffset(52)] public ulong Ist3;
        [FieldOffset(102)] public ushort IoMapBase;
    }

    /// <summary>Fills this CPU's GDT and TSS, loads them and reloads the segment registers.</summary>
    public static void Load(PerCpu* cpu)
    {
        Tss64* tss = &cpu->Tss;
        tss->Rsp0 = cpu->StackHigh;
        tss->Ist1 = cpu->NmiStackHigh;
        tss->Ist2 = cpu->DfStackHigh;
        tss->Ist3 = cpu->McStackHigh;
        tss->IoMapBase = (ushort)sizeof(Tss64);   // no I/O permission bitmap

        ulong* e = cpu->Gdt.Entries;
        e[0] = 0;
        e[Segments.KernelCode32 / 8] = Segments.Code32Descriptor;
        e[Segments.KernelCode / 8] = Segments.Code64Descriptor;
        e[Segments.KernelData / 8] = Segments.DataDescriptor;
        ulong baseAddr = (ulong)tss, limit = (ulong)sizeof(Tss64) - 1;
        e[Segments.TssSelector / 8] = (limit & 0xFFFF) | ((baseAddr & 0xFFFFFF) << 16) | (0x89UL << 40) | (((limit >> 16) & 0xF) << 48) | (((baseAddr >> 24) & 0xFF) << 56);
        e[Segments.TssSelector / 8 + 1] = baseAddr >> 32;
        e[6] = 0;
        e[7] = 0;

        byte* gdtr = stackalloc byte[10];
        *(ushort*)gdtr = 8 * 8 - 1;
        *(ulong*)(gdtr + 2) = (ulong)e;
        global::Cpu.Lgdt(gdtr);
        global::Cpu.ReloadSegments(Segments.KernelCode, Segments.KernelData);
        global::Cpu.Ltr(Segments.TssSelector);
    }
}
