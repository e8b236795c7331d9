// The typed views of enum parameters that the kernel reads beside each consumer
// (LocalApic.ExtnmiParameter, Crashtest, Nmi, Platform, DumpExport), for the tests' assertions.
static class TypedParams
{
    extension(KernelParams v)
    {
        public ApicExtnmiMode ApicExtnmi => (ApicExtnmiMode)v.Choice(BootParam.ApicExtnmi);
        public CrashTestType Crashtest => (CrashTestType)v.Choice(BootParam.Crashtest);
        public AcpiMode Acpi => (AcpiMode)v.Choice(BootParam.Acpi);
        public NmiReasonOverride NmiReason => (NmiReasonOverride)v.Choice(BootParam.NmiReason);
        public DumpChannels DumpChannels => (DumpChannels)v.Choice(BootParam.DumpChannels);
        /// <summary>The word in effect for an Enum parameter ("" when it has none).</summary>
        public string Word(BootParam p)
            => v.Choice(p) < 0 ? "" : System.Text.Encoding.ASCII.GetString(BootParams.Word(BootParams.Spec(p).Words, v.Choice(p)));
    }
}
