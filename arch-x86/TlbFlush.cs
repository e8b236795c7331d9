// flush_tlb_all() for the rare change that takes a permission away (a range made read-only): every
// CPU may hold the old translation, even for memory it never touched (the processor may cache
// translations speculatively, SDM Vol. 3A 4.10.2.3), and must drop it (4.10.4.1). One IPI on
// Linux's CALL_FUNCTION_VECTOR; each CPU reloads CR3 and says so; the wait is bounded. Boot time
// only: the crash path never takes a permission away.
using System.Threading;

static unsafe class TlbFlush
{
    const ulong AnswerBoundUs = 100_000;
    static int s_flushed;
    static int s_registered;

    /// <summary>This CPU's TLB flushed, then every other online CPU's; returns how many of them answered within the bound.</summary>
    public static int AllCpus(out int others)
    {
        Cpu.WriteCr3(Cpu.ReadCr3());
        others = SmpBoot.OnlineCount - 1;
        if (others <= 0) return 0;
        if (Interlocked.Exchange(ref s_registered, 1) == 0) Interrupts.Register(Vectors.CallFunction, &Flush);
        int before = Volatile.Read(ref s_flushed);
        Ipi.SendFixedAllButSelf(Vectors.CallFunction);
        ulong deadline = Clock.DeadlineAfterUs(AnswerBoundUs);
        while (Volatile.Read(ref s_flushed) - before < others && !Clock.Passed(deadline)) Cpu.Pause();
        return Volatile.Read(ref s_flushed) - before;
    }

    static void Flush(TrapFrame* regs)
    {
        Cpu.WriteCr3(Cpu.ReadCr3());
        Interlocked.Increment(ref s_flushed);
    }
}
