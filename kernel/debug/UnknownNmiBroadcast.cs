// crashtest=UNKNOWN_NMI_BROADCAST: a host's NMI broadcast to every vCPU (older Hyper-V), made
// deterministic. CPU N (crashtest_cpu=) takes an unknown NMI first, a self-NMI; inside it, it sends
// every other online CPU an NMI IPI in place of the host's broadcast. The others are held in their
// NMI until N has claimed panic_cpu, so the panicking CPU is known and the crash channel's owner can
// be another CPU. Hooks the kernel by registration only (an NMI_UNKNOWN handler).
using System.Threading;

static unsafe class UnknownNmiBroadcast
{
    /// <summary>How long a CPU hit by the broadcast waits for CPU N's panic before it goes on regardless.</summary>
    const ulong HoldBoundUs = 1_000_000;

    static int s_cpu = -1;
    static int s_sent;

    /// <summary>Boot CPU, before any CPU starts its part. Registered after the platform's unknown-NMI policy (boot), so on CPU N the claim comes first.</summary>
    public static void Hook(int cpu)
    {
        s_cpu = cpu;
        Nmi.Register(NmiType.Unknown, &OnUnknownNmi);
        if (!Params.Current.UnknownNmiPanic)
            Log.Warn("crashtest: UNKNOWN_NMI_BROADCAST without unknown_nmi_panic: the unknown NMIs will not panic");
    }

    /// <summary>CPU N's part: the self-NMI. It returns only if the unknown NMI did not panic.</summary>
    public static void TakeUnknownNmi()
    {
        Ipi.SendNmi(PerCpuArea.ThisCpu);
        ulong deadline = Clock.DeadlineAfterUs(100_000);
        while (!Clock.Passed(deadline)) Cpu.Pause();
    }

    static bool OnUnknownNmi(TrapFrame* regs)
    {
        int me = PerCpuArea.ThisCpu;
        if (me == s_cpu)
        {
            if (Interlocked.Exchange(ref s_sent, 1) == 0)
            {
                Log.Emerg($"crashtest: CPU {me} took an unknown NMI; sending every other CPU an NMI in place of the host's broadcast");
                Ipi.SendNmiAllButSelf();
            }
            return false;
        }
        if (Volatile.Read(ref s_sent) == 0) return false;
        // A real broadcast lets every CPU race for panic_cpu; holding here lets CPU N win. In NMI
        // context: the crash callback runs if the shootdown comes first, as in the reason-lock spin.
        ulong deadline = Clock.DeadlineAfterUs(HoldBoundUs);
        while (!Panic.InProgress && !Clock.Passed(deadline))
        {
            CrashShutdown.RunCrashIpiCallback(regs);
            Cpu.Pause();
        }
        return false;
    }
}
