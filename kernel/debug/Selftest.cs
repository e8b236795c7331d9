// Boot-time self-tests a QEMU test can ask for with selftest=: `ipi` has CPU 0 send a fixed-vector
// IPI and then an NMI IPI to every other online CPU and counts the answers (bounded wait).
using System.Threading;

/// <summary>selftest=: a boot-time self-test a QEMU test asks for; same order as the table's words.</summary>
enum SelftestType
{
    None = -1,
    Ipi,
}

static unsafe class Selftest
{
    const ulong AnswerBoundUs = 2_000_000;

    static int s_ipisReceived;

    public static void RunIfRequested()
    {
        if ((SelftestType)Params.Current.Choice(BootParam.Selftest) != SelftestType.Ipi) return;
        Interrupts.Register(Vectors.TestIpi, &TestIpi);
        int others = SmpBoot.OnlineCount - 1;
        int fixedBefore = Volatile.Read(ref s_ipisReceived), nmiBefore = Nmi.Received;
        Ipi.SendFixedAllButSelf(Vectors.TestIpi);
        int fixedGot = WaitForCount(fixedBefore, others, false);
        Ipi.SendNmiAllButSelf();
        int nmiGot = WaitForCount(nmiBefore, others, true);
        Log.Info($"selftest: ipi: {fixedGot} of {others} CPUs took the fixed IPI, {nmiGot} of {others} the NMI IPI");
    }

    static void TestIpi(TrapFrame* regs)
    {
        Log.Info($"IPI received on CPU {PerCpuArea.ThisCpu}");
        Interlocked.Increment(ref s_ipisReceived);
    }

    static int WaitForCount(int before, int expected, bool nmi)
    {
        ulong deadline = Clock.DeadlineAfterUs(AnswerBoundUs);
        int got;
        while ((got = (nmi ? Nmi.Received : Volatile.Read(ref s_ipisReceived)) - before) < expected && !Clock.Passed(deadline))
            Idle.HaltBriefly(1000);
        return got;
    }
}
