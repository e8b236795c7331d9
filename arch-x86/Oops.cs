// The oops: Linux's lines for a fault the kernel did not expect (the first line names it, then
// CPU, RIP as function+0xoff/0xsize and every register), then die(): there is no process to
// kill, so every oops ends in panic (or straight in crash_kexec when a capture image is armed).
// Linux: arch/x86/kernel/dumpstack.c (die, __show_regs), arch/x86/mm/fault.c (page_fault_oops).
using Internal.Runtime.CompilerHelpers;

static unsafe class Oops
{
    static int s_oopsCount;

    /// <summary>rt_bug is where a failed runtime check (bounds, cast) traps: name the check and its caller.</summary>
    public static void RuntimeCheckFailed(TrapFrame* f)
    {
        string reason = (RuntimeBug)(int)f->Rdi switch
        {
            RuntimeBug.IndexOutOfRange => "index out of range",
            RuntimeBug.Overflow => "arithmetic overflow",
            RuntimeBug.FeatureBodyRemoved => "feature removed at compile time",
            RuntimeBug.InvalidCast => "invalid cast",
            RuntimeBug.NullReference => "null reference",
            RuntimeBug.FailFast => "fail-fast",
            RuntimeBug.Allocation => "allocation",
            RuntimeBug.DivideByZero => "divide by zero",
            _ => "unknown",
        };
        LogLine l = default;
        l.Append("kernel BUG: runtime check failed: ");
        l.Append(reason);
        AppendCaller(ref l, f);
        Log.Crit(ref l);
    }

    /// <summary>kernel_bug is where BUG_ON (Bug.On) traps: rdi/rsi hold the invariant's text.</summary>
    public static void KernelBug(TrapFrame* f)
    {
        LogLine l = default;
        l.Append("kernel BUG: ");
        char* text = (char*)f->Rdi;
        int length = (int)f->Rsi;
        for (int i = 0; text != null && i < length && i < LogLine.Capacity; i++) l.AppendChar(text[i]);
        AppendCaller(ref l, f);
        Log.Crit(ref l);
    }

    // The trap routines are entered by a call: the return address on the stack names the caller.
    static void AppendCaller(ref LogLine l, TrapFrame* f)
    {
        l.Append(" (called from ");
        Symbols.Append(ref l, *(ulong*)f->Rsp);
        l.Append(")");
    }

    public static void PageFault(TrapFrame* f)
    {
        ulong address = Cpu.ReadCr2();
        ulong err = f->ErrorCode;
        if (address < PageTableBits.PageSize)
            Log.Emerg($"BUG: kernel NULL pointer dereference, address: {address:x16}");
        else
            Log.Emerg($"BUG: unable to handle page fault for address: {address:x16}");
        string access = (err & 0x10) != 0 ? "instruction fetch" : (err & 2) != 0 ? "write access" : "read access";
        string mode = (err & 4) != 0 ? "user" : "kernel";
        Log.Emerg($"#PF: supervisor {access} in {mode} mode");
        Log.Emerg($"#PF: error_code(0x{err:x4}) - {((err & 1) != 0 ? "permissions violation" : "not-present page")}");
        Die("Oops", f, err);
    }

    public static void DoubleFault(TrapFrame* f)
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
    /// every oops is fatal; "in interrupt" when the fault hit interrupt, NMI or #DF context. The
    /// header line is the crash's reason; the crash's lines start where this trap began printing.
    /// </summary>
    public static void Die(string what, TrapFrame* f, ulong err)
    {
        int n = System.Threading.Interlocked.Increment(ref s_oopsCount);
        PerCpu* cpu = PerCpuArea.This;
        bool inInterrupt = cpu != null && cpu->InterruptDepth > 0;
        ulong from = cpu != null && cpu->OopsLogFrom != 0 ? cpu->OopsLogFrom - 1 : Kmsg.NoSeq;
        Log.ConsoleVerbose();
        LogLine headline = default;
        headline.Append(what);
        headline.Append(": ");
        headline.AppendHex(err, 4);
        headline.Append(" [#");
        headline.AppendDecimal(n);
        headline.Append("] SMP");
        ulong seq = Log.Emerg(ref headline);
        if (from == Kmsg.NoSeq) from = seq;
        int c = PerCpuArea.ThisCpu;
        Log.Emerg($"CPU: {c} PID: 0 Comm: swapper/{c} Not tainted {Version.Release} #1");
        ShowRegs(f);
        Panic.OnOops(f, inInterrupt, ref headline, from);
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
