// Hardware interrupt vectors (0x20 and up). There is no periodic tick and the PICs are masked:
// the interrupts are the APIC's own (one-shot timer, error) and IPIs. Each fixed-vector interrupt
// is acknowledged with an EOI; a spurious one must not be (SDM Vol. 3A 11.9).
static unsafe class Interrupts
{
    static int s_selftestIpis;

    public static int SelftestIpisReceived => System.Threading.Volatile.Read(ref s_selftestIpis);

    public static void Handle(TrapFrame* frame, int vector)
    {
        switch (vector)
        {
            case Vectors.ApicTimer:
                break;
            case Vectors.Selftest:
                Log.Info($"IPI received on CPU {PerCpuArea.ThisCpu}");
                System.Threading.Interlocked.Increment(ref s_selftestIpis);
                break;
            case Vectors.Crashtest:
                LocalApic.EndOfInterrupt();
                Crashtest.RunOnThisCpu();
                return;
            case Vectors.Reboot:
                SmpStop.StopThisCpu();
                return;
            case Vectors.ApicError:
                LocalApic.Write(ApicRegisters.ErrorStatus, 0);
                Log.Warn($"APIC error on CPU{PerCpuArea.ThisCpu}: ESR 0x{LocalApic.Read(ApicRegisters.ErrorStatus):x2}");
                break;
            default:
                Log.Warn($"unexpected interrupt vector 0x{vector:x2} on CPU {PerCpuArea.ThisCpu}");
                break;
        }
        LocalApic.EndOfInterrupt();
    }
}
