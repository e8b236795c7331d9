// Boot-time self-tests a QEMU test can ask for with selftest=: `ipi` has CPU 0 send a fixed-vector
// IPI and then an NMI IPI to every other online CPU and counts the answers (bounded wait);
// `highmem` claims the last page of RAM above 4 GiB, as an allocator would hand it out, and writes a
// known text there, so a filtered dump must carry that page above 4 GiB for gdb to read.
using System.Threading;

/// <summary>selftest=: a boot-time self-test a QEMU test asks for; same order as the table's words.</summary>
enum SelftestType
{
    None = -1,
    Ipi,
    HighMem,
}

static unsafe class Selftest
{
    const ulong AnswerBoundUs = 2_000_000;

    static int s_ipisReceived;

    /// <summary>The text selftest=highmem leaves at the start of its page (the test reads it back from the dump).</summary>
    public const string HighMemText = "nmidump selftest: RAM above 4 GiB, owned by the kernel";

    public static void RunIfRequested()
    {
        SelftestType test = (SelftestType)Params.Current.Choice(BootParam.Selftest);
        if (test == SelftestType.HighMem) HighMem();
        if (test != SelftestType.Ipi) return;
        Interrupts.Register(Vectors.TestIpi, &TestIpi);
        int others = SmpBoot.OnlineCount - 1;
        int fixedBefore = Volatile.Read(ref s_ipisReceived), nmiBefore = Nmi.Received;
        Ipi.SendFixedAllButSelf(Vectors.TestIpi);
        int fixedGot = WaitForCount(fixedBefore, others, false);
        Ipi.SendNmiAllButSelf();
        int nmiGot = WaitForCount(nmiBefore, others, true);
        Log.Info($"selftest: ipi: {fixedGot} of {others} CPUs took the fixed IPI, {nmiGot} of {others} the NMI IPI");
    }

    static void HighMem()
    {
        PhysicalWindow mapped = Paging.IdentityWindow;
        ulong end = mapped.Start + mapped.Length;
        if (end <= PageTableBits.IdentityMapEnd)
        {
            Log.Info("selftest: highmem: no RAM above 4 GiB; nothing done");
            return;
        }
        ulong page = end - PageTableBits.PageSize;
        OwnedMemory.Claim(page, PageTableBits.PageSize, "selftest=highmem");
        byte* p = (byte*)page;
        for (int i = 0; i < HighMemText.Length; i++) p[i] = (byte)HighMemText[i];
        p[HighMemText.Length] = 0;
        Log.Info($"selftest: highmem: page 0x{page:x} claimed, its text written");
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
