// The build driver's option reading: flags take no value (`bench --record` once stopped with
// "option --record needs a value"), pairs take the next word, unknown names are refused.
using Nmidump.Build;

namespace Nmidump.Inspector.Tests;

public class OptionsTests
{
    [Fact]
    public void Record_IsAFlag_AndRunsTakesTheNextWord()
    {
        var o = new Options(["--record", "--runs", "5"], "--runs", "--record");
        Assert.Equal("true", o.Get("--record"));
        Assert.Equal(5, o.GetInt("--runs", 3, 1, 50));
        Assert.Null(new Options(["--runs", "5"], "--runs", "--record").Get("--record"));
    }

    [Fact]
    public void AnUnknownOption_AndAPairWithoutItsValue_AreRefusedByName()
    {
        Assert.Equal("unknown option --recrod", Assert.Throws<UsageException>(() => new Options(["--recrod", "x"], "--record")).Message);
        Assert.Equal("option --runs needs a value", Assert.Throws<UsageException>(() => new Options(["--runs"], "--runs")).Message);
    }
}
