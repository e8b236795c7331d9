// dump_channels= against what the capture kernel found: which channels carry the vmcore.
public class ExportChannelsTests
{
    [Theory]
    //          wanted                 window  toWindow toDebugcon missing
    [InlineData(DumpChannels.Auto,     true,   true,    false,     false)]
    [InlineData(DumpChannels.Auto,     false,  false,   true,      false)]
    [InlineData(DumpChannels.Window,   true,   true,    false,     false)]
    [InlineData(DumpChannels.Window,   false,  false,   true,      true)]
    [InlineData(DumpChannels.Debugcon, true,   false,   true,      false)]
    [InlineData(DumpChannels.Debugcon, false,  false,   true,      false)]
    [InlineData(DumpChannels.Both,     true,   true,    true,      false)]
    [InlineData(DumpChannels.Both,     false,  false,   true,      false)]
    [InlineData(DumpChannels.None,     true,   false,   false,     false)]
    [InlineData(DumpChannels.None,     false,  false,   false,     false)]
    public void Choose_FollowsTheParameterAndFallsBackToDebugcon(DumpChannels wanted, bool window, bool toWindow, bool toDebugcon, bool missing)
    {
        ExportPlan plan = ExportChannels.Choose(wanted, window);
        Assert.Equal(toWindow, plan.ToWindow);
        Assert.Equal(toDebugcon, plan.ToDebugcon);
        Assert.Equal(missing, plan.WindowMissing);
    }

    [Theory]
    [InlineData(true, true)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(false, false)]
    public void Serial_GoesToCom2Alone_AndNowhereWithoutIt(bool window, bool com2)
    {
        ExportPlan plan = ExportChannels.Choose(DumpChannels.Serial, window, com2);
        Assert.Equal(com2, plan.ToSerial);
        Assert.Equal(!com2, plan.SerialMissing);
        Assert.False(plan.ToWindow);
        Assert.False(plan.ToDebugcon);
        Assert.Equal(com2, plan.Sends);
        Assert.False(ExportChannels.WantsWindow(DumpChannels.Serial));
    }

    [Fact]
    public void TheWindowIsLookedForUnlessDebugconOrNothingIsWanted()
    {
        Assert.True(ExportChannels.WantsWindow(DumpChannels.Auto));
        Assert.True(ExportChannels.WantsWindow(DumpChannels.Window));
        Assert.True(ExportChannels.WantsWindow(DumpChannels.Both));
        Assert.False(ExportChannels.WantsWindow(DumpChannels.Debugcon));
        Assert.False(ExportChannels.WantsWindow(DumpChannels.None));
    }

    [Fact]
    public void TheEnumFollowsTheParameterTablesWords()
    {
        var words = System.Text.Encoding.ASCII.GetString(BootParams.Spec(BootParam.DumpChannels).Words).Split(' ');
        Assert.Equal(Enum.GetNames<DumpChannels>().Where(n => n != "Auto").Select(n => n.ToLowerInvariant()), words);
    }
}
