// smp_send_stop for reboot and power-off (native_stop_other_cpus): ask the other CPUs to stop
// with the REBOOT vector, wait up to a second, then NMI the stragglers and wait 10 ms more. A
// stopped CPU disables its local APIC and halts. Panics never use this: they use the crash
// shootdown, which saves registers.
using System.Threading;

static unsafe class SmpStop
{
    static int s_stopping;
    static int s_stopped;

    public static void StopOtherCpus()
    {
        if (Interlocked.Exchange(ref s_stopping, 1) != 0) return;
        int others = SmpBoot.OnlineCount - 1;
        if (others <= 0) return;
        Ipi.SendFixedAllButSelf(Vectors.Reboot);
        ulong deadline = Clock.DeadlineAfterUs(1_000_000);
        while (Volatile.Read(ref s_stopped) < others && !Clock.Passed(deadline)) Cpu.Pause();
        if (Volatile.Read(ref s_stopped) < others)
        {
            Nmi.SetEmergencyHandler(&StopNmiCallback);
            Ipi.SendNmiAllButSelf();
            deadline = Clock.DeadlineAfterUs(10_000);
            while (Volatile.Read(ref s_stopped) < others && !Clock.Passed(deadline)) Cpu.Pause();
        }
        if (Volatile.Read(ref s_stopped) < others)
            Log.Warn($"smp: {others - Volatile.Read(ref s_stopped)} CPUs did not stop");
    }

    public static void StopThisCpu()
    {
        Cpu.DisableInterrupts();
        LocalApic.Disable();
        Interlocked.Increment(ref s_stopped);
        Cpu.HaltForever();
    }

    static bool StopNmiCallback(TrapFrame* regs)
    {
        StopThisCpu();
        return true;
    }
}
