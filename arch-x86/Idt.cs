// The interrupt descriptor table, shared by every CPU: 256 interrupt gates (IF cleared on entry)
// pointing at the stubs of boot/interrupts.s. NMI, #DF and #MC switch to their IST stacks so a
// broken kernel stack cannot stop them (SDM Vol. 3A 6.14.1 "64-Bit Mode IDT").
using System.Runtime.InteropServices;

static unsafe class Idt
{
    [StructLayout(LayoutKind.Sequential)]
    struct Table { public fixed ulong Words[512]; }

    static Table s_table;

    public static void Init(ulong* stubTable)
    {
        for (int v = 0; v < 256; v++)
        {
            int ist = v == Vectors.Nmi ? Segments.IstNmi : v == Vectors.DoubleFault ? Segments.IstDoubleFault : v == Vectors.MachineCheck ? Segments.IstMachineCheck : 0;
            SetGate(v, stubTable[v], ist, present: true);
        }
    }

    static void SetGate(int vector, ulong handler, int ist, bool present)
    {
        fixed (ulong* w = s_table.Words)
        {
            ulong type = present ? Gates.Interrupt : Gates.Interrupt & 0x7FUL;   // 64-bit interrupt gate, DPL 0
            w[vector * 2] = (handler & 0xFFFF) | ((ulong)Segments.KernelCode << 16) | ((ulong)ist << 32) | (type << 40) | (((handler >> 16) & 0xFFFF) << 48);
            w[vector * 2 + 1] = handler >> 32;
        }
    }

    /// <summary>Marks one gate not-present (a test trigger: a #GP then becomes #NP, then #DF).</summary>
    public static void SetPresent(int vector, bool present)
    {
        fixed (ulong* w = s_table.Words)
        {
            if (present) w[vector * 2] |= 1UL << 47;
            else w[vector * 2] &= ~(1UL << 47);
        }
    }

    public static void Load()
    {
        byte* idtr = stackalloc byte[10];
        *(ushort*)idtr = 256 * 16 - 1;
        fixed (ulong* w = s_table.Words) *(ulong*)(idtr + 2) = (ulong)w;
        global::Cpu.Lidt(idtr);
    }
}
