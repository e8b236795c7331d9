// Exception and interrupt dispatch. Every vector arrives here from boot/interrupts.s with the
// interrupted registers: the NMI goes to Nmi.cs, exceptions to the oops (Oops.cs), interrupts to
// Interrupts.cs. Each context counts in the CPU's InterruptDepth, so an oops knows whether it hit
// interrupt context. Linux: arch/x86/kernel/traps.c, arch/x86/entry/entry_64.S.
// Nested NMIs cannot happen here, so the NMI's IST stack needs none of Linux's nested-NMI entry
// code: NMIs stay blocked from an NMI's delivery to its own IRET, and nothing on the NMI path can
// IRET earlier, since interrupts stay off there (Idle.HaltBriefly refuses NMI context) and no
// exception ever returns.
using System.Runtime.InteropServices;

static unsafe class Traps
{
    [UnmanagedCallersOnly(EntryPoint = "trap_dispatch")]
    static void Dispatch(TrapFrame* frame)
    {
        PerCpu* cpu = PerCpuArea.This;
        int vector = (int)frame->Vector;
        if (vector == Vectors.Nmi)
        {
            if (cpu != null) cpu->InterruptDepth++;
            Nmi.Handle(frame);
            if (cpu != null) cpu->InterruptDepth--;
            return;
        }
        if (vector < Vectors.FirstInterrupt)
        {
            bool interruptStack = vector == Vectors.DoubleFault || vector == Vectors.MachineCheck;
            if (cpu != null && interruptStack) cpu->InterruptDepth++;
            // The oops's lines start here (the capture report and the dump's reason point at them).
            if (cpu != null && cpu->OopsLogFrom == 0) cpu->OopsLogFrom = Log.NextSeq + 1;
            Exception(frame, vector);
            // Never reached: no exception returns. Its IRET would unblock NMIs if it had hit inside
            // an NMI handler, and a second NMI would then land on the NMI's IST stack over the
            // first one's frame (SDM Vol. 3A 6.7.1). Every oops ends in panic or the capture image.
            Cpu.HaltForever();
        }
        if (vector == Vectors.Spurious) return;
        if (cpu != null) cpu->InterruptDepth++;
        Interrupts.Handle(frame, vector);
        if (cpu != null) cpu->InterruptDepth--;
    }

    static void Exception(TrapFrame* f, int vector)
    {
        switch (vector)
        {
            case Vectors.PageFault:
                Oops.PageFault(f);
                return;
            case Vectors.DoubleFault:
                Oops.DoubleFault(f);
                return;
            case Vectors.InvalidOpcode:
                ref KernelLayout l = ref KernelLayout.Get;
                if (f->Rip == l.RtBug) Oops.RuntimeCheckFailed(f);
                else if (f->Rip == l.KernelBug) Oops.KernelBug(f);
                Oops.Die("invalid opcode", f, f->ErrorCode);
                return;
            default:
                Oops.Die(ExceptionName(vector), f, f->ErrorCode);
                return;
        }
    }

    /// <summary>The names Linux's oops prints for each exception (DO_ERROR's str).</summary>
    static string ExceptionName(int vector)
    {
        switch (vector)
        {
            case Vectors.DivideError: return "divide error";
            case Vectors.Debug: return "debug";
            case Vectors.Breakpoint: return "int3";
            case Vectors.Overflow: return "overflow";
            case Vectors.BoundRange: return "bounds";
            case Vectors.InvalidOpcode: return "invalid opcode";
            case Vectors.DeviceNotAvailable: return "device not available";
            case Vectors.DoubleFault: return "double fault";
            case Vectors.InvalidTss: return "invalid TSS";
            case Vectors.SegmentNotPresent: return "segment not present";
            case Vectors.StackSegment: return "stack segment";
            case Vectors.GeneralProtection: return "general protection fault";
            case Vectors.PageFault: return "page fault";
            case Vectors.X87: return "coprocessor error";
            case Vectors.AlignmentCheck: return "alignment check";
            case Vectors.MachineCheck: return "machine check";
            case Vectors.Simd: return "simd exception";
            default: return "unknown exception";
        }
    }
}
