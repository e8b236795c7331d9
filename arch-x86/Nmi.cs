// NMI entry from the IST stack. For now it reports the NMI and returns; the NMI dispatcher of
// Linux's default_do_nmi (reason port, handler chains, unknown-NMI panic) builds on this.
static unsafe class Nmi
{
    static int s_received;

    public static int Received => System.Threading.Volatile.Read(ref s_received);

    public static void Handle(TrapFrame* frame)
    {
        Log.Info($"NMI received on CPU {PerCpuArea.ThisCpu}");
        System.Threading.Interlocked.Increment(ref s_received);
    }
}
