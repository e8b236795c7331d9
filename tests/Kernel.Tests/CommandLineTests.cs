// CommandLine: Linux's next_arg()/parse_args() splitting (kernel/params/CommandLine.cs): quoting, "--",
// whitespace, NUL, and the odd corners Linux has, which the kernel must reproduce.
namespace Kernel.Tests;

public class CommandLineTests
{
    static List<(string Name, string? Value)> Split(string text, out int initArgsOffset)
    {
        var list = new List<(string, string?)>();
        var cl = new CommandLine(Ascii.Bytes(text));
        while (cl.Next(out var p))
            list.Add((Ascii.Of(p.Name), p.HasValue ? Ascii.Of(p.Value) : null));
        initArgsOffset = cl.InitArgsOffset;
        return list;
    }

    static List<(string Name, string? Value)> Split(string text) => Split(text, out _);

    [Fact]
    public void Splits_NamesAndValuesOnWhitespace()
    {
        Assert.Equal([("a", null), ("b", "c"), ("d", null)], Split("a b=c  d"));
        Assert.Equal([("a", "1"), ("b", "2")], Split(" \t\na=1\r\n\v\fb=2\t "));
    }

    [Fact]
    public void EmptyOrOnlySpaces_GivesNothing()
    {
        Assert.Empty(Split(""));
        Assert.Empty(Split("     "));
        Assert.Empty(Split("\t\n\r "));
    }

    [Fact]
    public void QuotedValue_KeepsItsSpacesAndLosesItsQuotes()
    {
        Assert.Equal([("name", "a b"), ("x", null)], Split("name=\"a b\" x"));
    }

    [Fact]
    public void WholeQuotedParameter_GivesTheSameAsAQuotedValue()
    {
        Assert.Equal([("name", "a b"), ("x", null)], Split("\"name=a b\" x"));
        Assert.Equal([("flag", null)], Split("\"flag\""));
    }

    [Fact]
    public void Quotes_InsideAValueAreKeptAsLinuxDoes()
    {
        Assert.Equal([("a", "b\"c")], Split("a=\"b\"c"));          // only the leading quote goes
        Assert.Equal([("a", "b\"c d\"")], Split("a=b\"c d\""));    // a quote mid-value is text
        Assert.Equal([("a", "")], Split("a=\""));
        Assert.Equal([("name", "")], Split("\"name=\""));
        Assert.Equal([("name", "x\"")], Split("\"name=\"x\"\""));
    }

    [Fact]
    public void UnterminatedQuote_RunsToTheEndWithoutFailing()
    {
        Assert.Equal([("name", "abc def")], Split("name=\"abc def"));
        Assert.Equal([("abc def", "1")], Split("\"abc def=1"));
        Assert.Equal([("", null)], Split("\""));
    }

    [Fact]
    public void EqualsSign_FirstOneSplitsButNotAtTheStart()
    {
        Assert.Equal([("a", "=b")], Split("a==b"));
        Assert.Equal([("a", "")], Split("a="));
        Assert.Equal([("=foo", null)], Split("=foo"));       // Linux: '=' at index 0 is not a split
        Assert.Equal([("=a", "b")], Split("=a=b"));
    }

    [Fact]
    public void DoubleDash_EndsTheKernelsParameters()
    {
        var list = Split("a -- b c", out int offset);
        Assert.Equal([("a", null)], list);
        Assert.Equal(5, offset);

        Split("a --", out offset);
        Assert.Equal(4, offset);
        Split("a \"--\" b", out offset);
        Assert.Equal(7, offset);
        Assert.Equal([("a", null), ("--", "x"), ("b", null)], Split("a --=x b", out offset));
        Assert.Equal(-1, offset);
        Assert.Equal([("a", null), ("---", null)], Split("a ---"));
    }

    [Fact]
    public void EmbeddedNul_EndsTheCommandLine()
    {
        Assert.Equal([("a", null)], Split("a\0b c"));
        Assert.Empty(Split("\0panic=1"));
    }

    [Fact]
    public void NameEquals_TreatsDashesAndUnderscoresAlike()
    {
        Assert.True(CommandLine.NameEquals("nr-cpus"u8, "nr_cpus"u8));
        Assert.True(CommandLine.NameEquals("nr_cpus"u8, "nr_cpus"u8));
        Assert.True(CommandLine.NameEquals("crash-kexec_post-notifiers"u8, "crash_kexec_post_notifiers"u8));
        Assert.False(CommandLine.NameEquals("nr_cpu"u8, "nr_cpus"u8));
        Assert.False(CommandLine.NameEquals("NR_CPUS"u8, "nr_cpus"u8));
        Assert.False(CommandLine.NameEquals("nr.cpus"u8, "nr_cpus"u8));
    }

    [Fact]
    public void SkipFirstWord_DropsTheImagePathMultibootPutsFirst()
    {
        Assert.Equal("panic=1 x", Ascii.Of(CommandLine.SkipFirstWord(Ascii.Bytes("/boot/kernel.elf  panic=1 x"))));
        Assert.Equal("", Ascii.Of(CommandLine.SkipFirstWord(Ascii.Bytes("kernel.elf"))));
        Assert.Equal("", Ascii.Of(CommandLine.SkipFirstWord(Ascii.Bytes("   "))));
        Assert.Equal("", Ascii.Of(CommandLine.SkipFirstWord(default)));
    }

    [Fact]
    public void LongTokens_AreReturnedWholeWithoutCopying()
    {
        string big = new string('x', 200_000);
        var list = Split("a=" + big + " b");
        Assert.Equal(2, list.Count);
        Assert.Equal(200_000, list[0].Value!.Length);
    }

    [Fact]
    public void RandomBytes_NeverThrowAndAlwaysTerminate()
    {
        var random = new Random(31337);
        byte[] alphabet = "ab=\" \t-_\0\n1"u8.ToArray();
        for (int iteration = 0; iteration < 20000; iteration++)
        {
            var text = new byte[random.Next(0, 64)];
            for (int i = 0; i < text.Length; i++)
                text[i] = random.Next(4) == 0 ? (byte)random.Next(256) : alphabet[random.Next(alphabet.Length)];
            var cl = new CommandLine(text);
            int count = 0;
            while (cl.Next(out var p))
            {
                count++;
                Assert.True(p.Name.Length + p.Value.Length <= text.Length);
                Assert.True(count <= text.Length, "more parameters than bytes");
            }
            Assert.False(cl.Next(out _));                // stays finished
            Assert.True(cl.InitArgsOffset >= -1 && cl.InitArgsOffset <= text.Length);
        }
    }
}
