// Exception and interrupt dispatch, and the oops. Every vector arrives here from
// boot/interrupts.asm with the interrupted registers; an unexpected exception prints Linux's oops
// lines (the first line names the fault, then CPU, RIP as function+0xoff/0xsize, every register)
// and dies. Linux: arch/x86/kernel/traps.c, arch/x86/mm/fault.c, arch/x86/kernel/dumpstack.c.
using System.Runtime.InteropServices;

static unsafe class Traps
{
    public const int DivideError = 0, Debug = 1, Breakpoint = 3, Overflow = 4, BoundRange = 5, InvalidOpcode = 6,
        DeviceNotAvailable = 7, InvalidTss = 10, SegmentNotPresent = 11, StackSegment = 12, X87 = 16,
        AlignmentCheck = 17, Simd = 19;

    static int s_oopsCount;

    [UnmanagedCallersOnly(EntryPoint = "trap_dispatch")]
    static void Dispatch(TrapFrame* frame)
    {
        PerCpu* cpu = PerCpuArea.This;
        int vector = (int)frame->Vector;
        if (vector == Idt.Nmi)
        {
            if (cpu != null) cpu->InterruptDepth++;
            Nmi.Handle(frame);
            if (cpu != null) cpu->InterruptDepth--;
            return;
        }
        if (vector < 32)
        {
            bool interruptStack = vector == Idt.DoubleFault || vector == Idt.MachineCheck;
            if (cpu != null && interruptStack) cpu->InterruptDepth++;
            Exception(frame, vector);
            if (cpu != null && interruptStack) cpu->InterruptDepth--;
            return;
        }
        if (vector == Idt.SpuriousVector) return;
        if (cpu != null) cpu->InterruptDepth++;
        Interrupts.Handle(frame, vector);
        if (cpu != null) cpu->InterruptDepth--;
    }

    static void Exception(TrapFrame* f, int vector)
    {
        switch (vector)
        {
            case Idt.PageFault:
                PageFault(f);
                return;
            case Idt.DoubleFault:
                DoubleFault(f);
                return;
            case InvalidOpcode:
                if (f->Rip == KernelLayout.Get.RtBug)
                    RuntimeCheckFailed(f);
                Die("invalid opcode", f, f->ErrorCode);
                return;
            default:
                Die(ExceptionName(vector), f, f->ErrorCode);
                return;
        }
    }

    static string ExceptionName(int vector)
    {
        switch (vector)
        {
            case DivideError: return "divide error";
            case Debug: return "debug";
            case Breakpoint: return "int3";
            case Overflow: return "overflow";
            case BoundRange: return "bounds";
            case InvalidOpcode: return "invalid opcode";
            case DeviceNotAvailable: return "device not available";
            case Idt.DoubleFault: return "double fault";
            case InvalidTss: return "invalid TSS";
            case SegmentNotPresent: return "segment not present";
            case StackSegment: return "stack segment";
            case Idt.GeneralProtection: return "general protection fault";
            case Idt.PageFault: return "page fault";
            case X87: return "coprocessor error";
            case AlignmentCheck: return "alignment check";
            case Idt.MachineCheck: return "machine check";
            case Simd: return "simd exception";
            default: return "unknown exception";
        }
    }

    /// <summary>rt_bug is where a failed runtime check (bounds, cast) traps: name the check and its caller.</summary>
    static void RuntimeCheckFailed(TrapFrame* f)
    {
        string reason;
        switch ((int)f->Rdi)
        {
            case 1: reason = "index out of range"; break;
            case 2: reason = "arithmetic overflow"; break;
            case 3: reason = "feature removed at compile time"; break;
            case 4: reason = "invalid cast"; break;
            case 5: reason = "null reference"; break;
            case 6: reason = "fail-fast"; break;
            case 7: reason = "allocation"; break;
            case 8: reason = "divide by zero"; break;
            default: reason = "unknown"; break;
        }
        ulong caller = *(ulong*)f->Rsp;
        LogLine l = default;
        l.Append("kernel BUG: runtime check failed: ");
        l.Append(reason);
        l.Append(" (called from ");
        Symbols.Append(ref l, caller);
        l.Append(")");
        Log.Crit(ref l);
    }

    static void PageFault(TrapFrame* f)
    {
        ulong address = Cpu.ReadCr2();
        ulong err = f->ErrorCode;
        if (address < 4096)
            Log.Emerg($"BUG: kernel NULL pointer dereference, address: {address:x16}");
        else
            Log.Emerg($"BUG: unable to handle page fault for address: {address:x16}");
        string access = (err & 0x10) != 0 ? "instruction fetch" : (err & 2) != 0 ? "write access" : "read access";
        string mode = (err & 4) != 0 ? "user" : "kernel";
        Log.Emerg($"#PF: supervisor {access} in {mode} mode");
        Log.Emerg($"#PF: error_code(0x{err:x4}) - {((err & 1) != 0 ? "permissions violation" : "not-present page")}");
        Die("Oops", f, err);
    }

    static void DoubleFault(TrapFrame* f)
    {
        // A kernel stack overflow reaches us as #DF: the #PF on the guard page could not push its
        // frame. CR2 still holds the guard address; Linux checks this before anything else.
        ulong cr2 = Cpu.ReadCr2();
        PerCpu* cpu = PerCpuArea.This;
        if (cpu != null && GuardedStack(cpu, cr2, out ulong lo, out ulong hi))
        {
            Log.Emerg($"BUG: stack guard page was hit at {cr2:x16} (stack is {lo:x16}..{hi:x16})");
            Die("stack guard page", f, 0);
            return;
        }
        Log.Emerg($"PANIC: double fault, error_code: 0x{f->ErrorCode:x}");
        Die("double fault", f, f->ErrorCode);
    }

    /// <summary>Whether address lies in the guard page below one of this CPU's stacks.</summary>
    static bool GuardedStack(PerCpu* cpu, ulong address, out ulong lo, out ulong hi)
    {
        lo = hi = 0;
        if (InGuard(address, cpu->StackLow, cpu->StackHigh, ref lo, ref hi)) return true;
        if (InGuard(address, cpu->NmiStackLow, cpu->NmiStackHigh, ref lo, ref hi)) return true;
        if (InGuard(address, cpu->DfStackLow, cpu->DfStackHigh, ref lo, ref hi)) return true;
        return InGuard(address, cpu->McStackLow, cpu->McStackHigh, ref lo, ref hi);
    }

    static bool InGuard(ulong address, ulong low, ulong high, ref ulong lo, ref ulong hi)
    {
        if (low == 0 || address >= low || address < low - KernelLayout.GuardSize) return false;
        lo = low;
        hi = high;
        return true;
    }

    /// <summary>
    /// Linux's die(): the oops header, the registers, then panic. There is no process to kill, so
    /// every oops is fatal; "in interrupt" when the fault hit interrupt, NMI or #DF context.
    /// </summary>
    public static void Die(string what, TrapFrame* f, ulong err)
    {
        int n = System.Threading.Interlocked.Increment(ref s_oopsCount);
        PerCpu* cpu = PerCpuArea.This;
        bool inInterrupt = cpu != null && cpu->InterruptDepth > 0;
        Log.ConsoleVerbose();
        Log.Emerg($"{what}: {err:x4} [#{n}] SMP");
        int c = PerCpuArea.ThisCpu;
        Log.Emerg($"CPU: {c} PID: 0 Comm: swapper/{c} Not tainted {Version.Release} #1");
        ShowRegs(f);
        Panic.OnOops(f, inInterrupt);
    }

    /// <summary>Linux's __show_regs layout: RIP and RSP with their selectors, then three registers a line.</summary>
    public static void ShowRegs(TrapFrame* f)
    {
        LogLine l = default;
        l.Append("RIP: ");
        l.AppendHex(f->Cs, 4);
        l.AppendChar(':');
        Symbols.Append(ref l, f->Rip);
        Log.Emerg(ref l);
        Log.Emerg($"RSP: {f->Ss:x4}:{f->Rsp:x16} EFLAGS: {f->Rflags:x8}");
        Log.Emerg($"RAX: {f->Rax:x16} RBX: {f->Rbx:x16} RCX: {f->Rcx:x16}");
        Log.Emerg($"RDX: {f->Rdx:x16} RSI: {f->Rsi:x16} RDI: {f->Rdi:x16}");
        Log.Emerg($"RBP: {f->Rbp:x16} R08: {f->R8:x16} R09: {f->R9:x16}");
        Log.Emerg($"R10: {f->R10:x16} R11: {f->R11:x16} R12: {f->R12:x16}");
        Log.Emerg($"R13: {f->R13:x16} R14: {f->R14:x16} R15: {f->R15:x16}");
        Log.Emerg($"CR0: {Cpu.ReadCr0():x16} CR2: {Cpu.ReadCr2():x16} CR3: {Cpu.ReadCr3():x16} CR4: {Cpu.ReadCr4():x16}");
    }
}
