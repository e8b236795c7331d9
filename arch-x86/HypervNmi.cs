// Hyper-V's unknown-NMI policy, installed at platform set-up (Linux: ms_hyperv_init_platform
// registers hv_nmi_unknown on NMI_UNKNOWN with NMI_FLAG_FIRST). With unknown_nmi_one_cpu the first
// unknown NMI panics and the others are swallowed, so CPUs hit by a broadcast leave NMI context and
// can still take the interrupt the crash channel's unload handshake waits for (kernel/hyperv/).

static unsafe class HypervNmi
{
    static UnknownNmiClaim s_claim;

    /// <summary>
    /// Registers the policy. Called right after Nmi.Init, before any other NMI_UNKNOWN handler is
    /// registered: first in the chain, as NMI_FLAG_FIRST puts it, so the claim is settled before
    /// any later unknown handler (a test trigger's) runs on the claiming CPU.
    /// </summary>
    public static void Init()
    {
        if (!Params.Current.UnknownNmiOneCpu) return;
        Nmi.Register(NmiType.Unknown, &HvNmiUnknown);
        Log.Info(Params.Current.UnknownNmiPanic
            ? "Hyper-V: unknown NMIs panic on the first CPU that takes one; the others return from theirs (unknown_nmi_one_cpu)"
            : "Hyper-V: unknown_nmi_one_cpu has no effect without unknown_nmi_panic");
    }

    static bool HvNmiUnknown(TrapFrame* regs) =>
        s_claim.Swallow(NmiType.Unknown, PerCpuArea.ThisCpu, Params.Current.UnknownNmiPanic);
}
