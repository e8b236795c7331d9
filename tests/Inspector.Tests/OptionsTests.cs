// The build driver's option reading (System.CommandLine underneath): flags take no value (`bench
// --record` once stopped with "option --record needs a value"), pairs take the next word or
// `=value`, unknown names are refused by name, words stay in order, and an @word is a word (no
// response file is read: a kernel command line may carry one).
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
        Assert.Equal("unknown option --recrod", Assert.Throws<UsageException>(() => new Options(["--recrod=x"], "--record")).Message);
        Assert.Equal("option --runs needs a value", Assert.Throws<UsageException>(() => new Options(["--runs"], "--runs")).Message);
    }

    [Fact]
    public void EqualsForm_Words_AndTheAppendValue_ComeThroughAsGiven()
    {
        var o = new Options(["out/vmcore", "--append=crashtest=PANIC crashtest_cpu=1", "--no-build", "dmesg", "--smp", "8"], "--append", "--smp", "--no-build");
        Assert.Equal("crashtest=PANIC crashtest_cpu=1", o.Get("--append"));
        Assert.Equal(8, o.GetInt("--smp", 4, 1, 255));
        Assert.Equal("true", o.Get("--no-build"));
        Assert.Equal(["out/vmcore", "dmesg"], o.Positional);
        Assert.Equal("@notafile quiet", new Options(["--append", "@notafile quiet"], "--append").Get("--append"));
        // A pair takes one word; the next is a word of its own.
        var k = new Options(["--kernel", "out/kernel.elf", "out/vmcore", "dmesg"], "--kernel");
        Assert.Equal("out/kernel.elf", k.Get("--kernel"));
        Assert.Equal(["out/vmcore", "dmesg"], k.Positional);
        Assert.Equal(["@notafile"], new Options(["@notafile"], "--append").Positional);
    }

    [Fact]
    public void APairGivenTwice_TheLastCounts()
    {
        // The QEMU tests' driver passes its own --timeout, and a test may give another.
        var o = new Options(["--timeout", "180", "--smp", "2", "--timeout=600", "--no-build", "--no-build"], "--timeout", "--smp", "--no-build");
        Assert.Equal("600", o.Get("--timeout"));
        Assert.Equal("true", o.Get("--no-build"));
        Assert.Empty(o.Positional);
    }

    [Fact]
    public void AFlagSetToFalse_IsAbsent_AndAnIntegerOutOfRange_IsRefusedWithItsRange()
    {
        Assert.Null(new Options(["--no-build=false"], "--no-build").Get("--no-build"));
        Assert.Equal("--smp 300: expected an integer from 1 to 255",
                     Assert.Throws<UsageException>(() => new Options(["--smp", "300"], "--smp").GetInt("--smp", 4, 1, 255)).Message);
    }
}
