// BootParams: the parameter table, value parsing and the exact console messages
// (kernel/params/BootParamTable.cs). Good, boundary and garbage values; the unknown-parameter line; quotes
// and "--"; the listing the README and `./build.sh params` print.
using System.Runtime.CompilerServices;

namespace Kernel.Tests;

public class BootParamsTests
{
    static KernelParams Parse(string text, out BootParamsReport report)
    {
        BootParams.Parse(Ascii.Bytes(text), out var values, out report);
        return values;
    }

    static KernelParams Parse(string text)
    {
        var values = Parse(text, out var report);
        Assert.Equal(0, report.UnknownCount);
        Assert.Equal(0, report.MalformedCount);
        return values;
    }

    static List<string> Malformed(in BootParamsReport report)
    {
        var lines = new List<string>();
        for (int i = 0; i < report.MalformedLineCount; i++)
        {
            var copy = report;
            lines.Add(Ascii.Of(copy.MalformedLine(i)));
        }
        return lines;
    }

    static string Unknown(BootParamsReport report) => Ascii.Of(report.UnknownLine());

    [Fact]
    public void NoParameters_GivesEveryDefault()
    {
        var v = Parse("", out var report);
        Assert.Equal(ApicExtnmiMode.Bsp, v.ApicExtnmi);
        Assert.False(v.UnknownNmiPanic);
        Assert.False(v.PanicOnUnrecoveredNmi);
        Assert.False(v.PanicOnIoNmi);
        Assert.False(v.PanicOnOops);
        Assert.False(v.CrashKexecPostNotifiers);
        Assert.Equal(0, v.Panic);
        Assert.True(v.Crashkernel.IsEmpty);
        Assert.False(v.IsSet(BootParam.Crashkernel));
        Assert.Equal(0, v.NrCpus);
        Assert.Equal(CrashTestType.None, v.Crashtest);
        Assert.Equal(0, v.CrashtestCpu);
        Assert.Equal(0, v.CrashtestDelayMs);
        Assert.Equal(-1, v.PoweroffAfterMs);
        Assert.False(v.PoweroffAtEntry);
        Assert.Equal(7, v.Loglevel);            // Linux's default console_loglevel: everything but KERN_DEBUG
        Assert.Equal(31, v.DumpLevel);          // kdump's usual makedumpfile -d 31
        Assert.Equal(0, report.UnknownCount);
        Assert.Equal(0, report.MalformedCount);
        Assert.Equal(-1, report.InitArgsOffset);
        for (var p = (BootParam)0; p < BootParam.Count; p++) Assert.False(v.WasGiven(p));
    }

    [Fact]
    public void GoodValues_AreStoredForEveryParameter()
    {
        var v = Parse("apic_extnmi=all unknown_nmi_panic panic_on_unrecovered_nmi panic_on_io_nmi panic_on_oops " +
                      "unknown_nmi_one_cpu crash_kexec_post_notifiers crash_channel=3 panic=30 crashkernel=64M@256M nr_cpus=3 crashtest=NMI_HANG " +
                      "crashtest_cpu=2 crashtest_delay_ms=500 poweroff_after_ms=0 poweroff_at_entry acpi=off cpu_init_udelay=10000 " +
                      "selftest=ipi nmi_reason=iochk dump_channels=both dump_level=17 capture_nmi_test kexec_corrupt_test loglevel=4 " +
                      "crash_watchdog=30 capture_test=HANG");
        Assert.Equal(ApicExtnmiMode.All, v.ApicExtnmi);
        Assert.True(v.UnknownNmiPanic);
        Assert.True(v.PanicOnUnrecoveredNmi);
        Assert.True(v.PanicOnIoNmi);
        Assert.True(v.PanicOnOops);
        Assert.True(v.UnknownNmiOneCpu);
        Assert.True(v.CrashKexecPostNotifiers);
        Assert.Equal(3, v.CrashChannel);
        Assert.Equal(30, v.Panic);
        Assert.Equal("64M@256M", Ascii.Of(v.Crashkernel));
        Assert.Equal(3, v.NrCpus);
        Assert.Equal(CrashTestType.NmiHang, v.Crashtest);
        Assert.Equal(2, v.CrashtestCpu);
        Assert.Equal(500, v.CrashtestDelayMs);
        Assert.Equal(0, v.PoweroffAfterMs);
        Assert.True(v.PoweroffAtEntry);
        Assert.Equal(AcpiMode.Off, v.Acpi);
        Assert.Equal(10000, v.CpuInitUdelay);
        Assert.Equal("ipi", v.Word(BootParam.Selftest));
        Assert.Equal(NmiReasonOverride.Iochk, v.NmiReason);
        Assert.Equal(DumpChannels.Both, v.DumpChannels);
        Assert.Equal(17, v.DumpLevel);
        Assert.True(v.CaptureNmiTest);
        Assert.Equal("image", v.Word(BootParam.KexecCorruptTest));
        Assert.Equal(4, v.Loglevel);
        Assert.Equal(30, v.CrashWatchdog);
        Assert.Equal("HANG", v.Word(BootParam.CaptureTest));
        for (var p = (BootParam)0; p < BootParam.Count; p++) Assert.True(v.WasGiven(p), p.ToString());
    }

    [Theory]
    [InlineData("bsp", ApicExtnmiMode.Bsp)]
    [InlineData("all", ApicExtnmiMode.All)]
    [InlineData("none", ApicExtnmiMode.None)]
    public void ApicExtnmi_AcceptsEachMode(string word, ApicExtnmiMode mode)
        => Assert.Equal(mode, Parse("apic_extnmi=" + word).ApicExtnmi);

    [Theory]
    [InlineData("", true)]
    [InlineData("=1", true)]
    [InlineData("=0", false)]
    [InlineData("=y", true)]
    [InlineData("=n", false)]
    [InlineData("=Y", true)]
    [InlineData("=N", false)]
    [InlineData("=on", true)]
    [InlineData("=off", false)]
    [InlineData("=ON", true)]
    [InlineData("=yes", true)]
    [InlineData("=no", false)]
    [InlineData("=true", true)]
    [InlineData("=false", false)]
    public void Flags_AreOnWhenNamedAloneAndAcceptBooleanWords(string suffix, bool expected)
    {
        Assert.Equal(expected, Parse("panic_on_oops" + suffix).PanicOnOops);
        Assert.Equal(expected, Parse("unknown_nmi_panic" + suffix).UnknownNmiPanic);
        Assert.Equal(expected, Parse("poweroff_at_entry" + suffix).PoweroffAtEntry);
    }

    [Theory]
    [InlineData("kexec_corrupt_test", "image")]
    [InlineData("kexec_corrupt_test=image", "image")]
    [InlineData("kexec_corrupt_test=handover", "handover")]
    [InlineData("kexec_corrupt_test=pagetable", "pagetable")]
    [InlineData("kexec_corrupt_test=elfcorehdr", "elfcorehdr")]
    [InlineData("", "")]
    public void KexecCorruptTest_NamedAloneMeansImage_AndTakesEachTarget(string arg, string word)
        => Assert.Equal(word, Parse(arg).Word(BootParam.KexecCorruptTest));

    [Fact]
    public void KexecCorruptTest_AnUnknownTargetIsMalformedAndNamesTheChoices()
    {
        BootParams.Parse(Ascii.Bytes("kexec_corrupt_test=gdt"), out var v, out var report);
        Assert.Equal("", v.Word(BootParam.KexecCorruptTest));
        Assert.Equal("Malformed boot parameter kexec_corrupt_test=gdt: expected image, handover, pagetable or elfcorehdr; using none",
            Ascii.Of(report.MalformedLine(0)));
        Assert.Equal("kexec_corrupt_test[=image|handover|pagetable|elfcorehdr]  (default none)", Ascii.Of(BootParams.FormatUsage(BootParam.KexecCorruptTest)));
    }

    [Fact]
    public void Crashtest_EveryWordMapsToTheEnumMemberOfTheSameName()
    {
        var words = Ascii.Of(BootParams.Spec(BootParam.Crashtest).Words).Split(' ');
        Assert.Equal(Enum.GetValues<CrashTestType>().Length - 1, words.Length);
        foreach (var word in words)
        {
            var v = Parse("crashtest=" + word);
            Assert.Equal(word.Replace("_", ""), v.Crashtest.ToString(), ignoreCase: true);
        }
    }

    [Fact]
    public void ApicExtnmi_WordsMatchTheEnumOrder()
    {
        var words = Ascii.Of(BootParams.Spec(BootParam.ApicExtnmi).Words).Split(' ');
        Assert.Equal(Enum.GetNames<ApicExtnmiMode>().Select(n => n.ToLowerInvariant()), words);
    }

    [Fact]
    public void AcpiAndNmiReason_WordsMatchTheirConsumersEnums()
    {
        Assert.Equal(Enum.GetNames<AcpiMode>().Select(n => n.ToLowerInvariant()), Ascii.Of(BootParams.Spec(BootParam.Acpi).Words).Split(' '));
        Assert.Equal(Enum.GetNames<NmiReasonOverride>().Where(n => n != "None").Select(n => n.ToLowerInvariant()),
                     Ascii.Of(BootParams.Spec(BootParam.NmiReason).Words).Split(' '));
    }

    [Theory]
    [InlineData("panic=-1", -1)]
    [InlineData("panic=+7", 7)]
    [InlineData("panic=0x10", 16)]
    [InlineData("panic=010", 10)]
    [InlineData("panic=-2147483648", int.MinValue)]
    [InlineData("panic=2147483647", int.MaxValue)]
    public void Panic_AcceptsSignedDecimalAndHex(string text, int expected) => Assert.Equal(expected, Parse(text).Panic);

    [Theory]
    [InlineData("nr_cpus=1", 1)]
    [InlineData("nr_cpus=4096", 4096)]
    [InlineData("nr-cpus=64", 64)]
    public void NrCpus_AcceptsItsWholeRange(string text, int expected) => Assert.Equal(expected, Parse(text).NrCpus);

    [Theory]
    [InlineData("panic=abc", "Malformed boot parameter panic=abc: expected an integer; using 0")]
    [InlineData("panic=", "Malformed boot parameter panic=: expected an integer; using 0")]
    [InlineData("panic", "Malformed boot parameter panic: expected an integer; using 0")]
    [InlineData("panic=1x", "Malformed boot parameter panic=1x: expected an integer; using 0")]
    [InlineData("panic=0x", "Malformed boot parameter panic=0x: expected an integer; using 0")]
    [InlineData("panic=-", "Malformed boot parameter panic=-: expected an integer; using 0")]
    [InlineData("panic=2147483648", "Malformed boot parameter panic=2147483648: expected an integer; using 0")]
    [InlineData("panic=-2147483649", "Malformed boot parameter panic=-2147483649: expected an integer; using 0")]
    [InlineData("panic=99999999999999999999999", "Malformed boot parameter panic=99999999999999999999999: expected an integer; using 0")]
    [InlineData("panic=\"12 34\"", "Malformed boot parameter panic=12 34: expected an integer; using 0")]
    [InlineData("nr_cpus=0", "Malformed boot parameter nr_cpus=0: expected an integer from 1 to 4096; using 0")]
    [InlineData("nr_cpus=4097", "Malformed boot parameter nr_cpus=4097: expected an integer from 1 to 4096; using 0")]
    [InlineData("nr-cpus=abc", "Malformed boot parameter nr-cpus=abc: expected an integer from 1 to 4096; using 0")]
    [InlineData("apic_extnmi=some", "Malformed boot parameter apic_extnmi=some: expected bsp, all or none; using bsp")]
    [InlineData("apic_extnmi=ALL", "Malformed boot parameter apic_extnmi=ALL: expected bsp, all or none; using bsp")]
    [InlineData("apic_extnmi", "Malformed boot parameter apic_extnmi: expected bsp, all or none; using bsp")]
    [InlineData("panic_on_oops=maybe", "Malformed boot parameter panic_on_oops=maybe: expected 0 or 1; using 0")]
    [InlineData("panic_on_oops=", "Malformed boot parameter panic_on_oops=: expected 0 or 1; using 0")]
    [InlineData("panic_on_oops=2", "Malformed boot parameter panic_on_oops=2: expected 0 or 1; using 0")]
    [InlineData("crashtest_cpu=-1", "Malformed boot parameter crashtest_cpu=-1: expected an integer of at least 0; using 0")]
    [InlineData("crashtest_delay_ms=1s", "Malformed boot parameter crashtest_delay_ms=1s: expected an integer of at least 0; using 0")]
    [InlineData("poweroff_after_ms=soon", "Malformed boot parameter poweroff_after_ms=soon: expected an integer of at least 0; using never")]
    [InlineData("poweroff_after_ms=-5", "Malformed boot parameter poweroff_after_ms=-5: expected an integer of at least 0; using never")]
    [InlineData("crashtest=panic", "Malformed boot parameter crashtest=panic: expected one of its 19 words (./build.sh params lists them); using none")]
    [InlineData("crashkernel=", "Malformed boot parameter crashkernel=: expected a value of at most 128 characters; using none")]
    [InlineData("crashkernel", "Malformed boot parameter crashkernel: expected a value of at most 128 characters; using none")]
    public void MalformedValue_IsReportedExactlyAndTheDefaultKept(string text, string expected)
    {
        var v = Parse(text, out var report);
        Assert.Equal(1, report.MalformedCount);
        Assert.Equal([expected], Malformed(report));
        Assert.Equal(0, report.UnknownCount);
        var defaults = Parse("");
        for (var p = (BootParam)0; p < BootParam.Count; p++)
        {
            Assert.Equal(defaults.Value(p), v.Value(p));
            Assert.Equal(defaults.IsSet(p), v.IsSet(p));
            Assert.False(v.WasGiven(p));
        }
    }

    [Fact]
    public void MalformedValue_KeepsAnEarlierGoodValueAndSaysSo()
    {
        var v = Parse("panic=5 panic=abc apic_extnmi=none apic_extnmi=both", out var report);
        Assert.Equal(5, v.Panic);
        Assert.Equal(ApicExtnmiMode.None, v.ApicExtnmi);
        Assert.Equal([
            "Malformed boot parameter panic=abc: expected an integer; using 5",
            "Malformed boot parameter apic_extnmi=both: expected bsp, all or none; using none",
        ], Malformed(report));
    }

    [Fact]
    public void LaterValue_Wins()
    {
        var v = Parse("panic=5 panic=7 panic_on_oops panic_on_oops=0");
        Assert.Equal(7, v.Panic);
        Assert.False(v.PanicOnOops);
        Assert.True(v.WasGiven(BootParam.PanicOnOops));
    }

    [Fact]
    public void TooLongString_IsMalformedAndItsValueShownCut()
    {
        string value = new string('9', 129);
        var v = Parse("crashkernel=" + value, out var report);
        Assert.True(v.Crashkernel.IsEmpty);
        Assert.Equal(["Malformed boot parameter crashkernel=" + new string('9', 40) + "...: expected a value of at most 128 characters; using none"],
                     Malformed(report));

        var ok = Parse("crashkernel=" + new string('7', 128));
        Assert.Equal(new string('7', 128), Ascii.Of(ok.Crashkernel));
    }

    [Fact]
    public void CrashtestMessage_FitsInOneLineEvenWithALongValue()
    {
        Parse("crashtest=" + new string('Z', 5000), out var report);
        var copy = report;
        var line = copy.MalformedLine(0);
        Assert.False(line.Truncated);
        Assert.EndsWith("...: expected one of its 19 words (./build.sh params lists them); using none", Ascii.Of(line));
    }

    [Fact]
    public void ManyMalformedValues_KeepTheFirstEightLinesAndCountAll()
    {
        var v = Parse(string.Join(" ", Enumerable.Range(0, 10).Select(i => "panic=x" + i)), out var report);
        Assert.Equal(10, report.MalformedCount);
        Assert.Equal(BootParamsReport.MaxMalformedLines, report.MalformedLineCount);
        var lines = Malformed(report);
        Assert.Equal("Malformed boot parameter panic=x7: expected an integer; using 0", lines[7]);
        var copy = report;
        Assert.Equal(0, copy.MalformedLine(8).Length);
        Assert.Equal(0, copy.MalformedLine(-1).Length);
        Assert.Equal(0, v.Panic);
    }

    [Fact]
    public void UnknownParameters_AreListedAsGivenOnOneLineInOrder()
    {
        var v = Parse("foo bar=1 apic_extnmi=all baz=\"x y\" quiet", out var report);
        Assert.Equal(ApicExtnmiMode.All, v.ApicExtnmi);
        Assert.Equal(4, report.UnknownCount);
        // Like Linux's print_unknown_bootoptions: bare names, and name=value (quotes removed) for the rest.
        Assert.Equal("Unknown kernel command line parameters \"foo bar=1 baz=x y quiet\", ignored", Unknown(report));
        Assert.Equal(0, report.MalformedCount);
    }

    [Fact]
    public void UnknownNames_AreMatchedExactlyNotByPrefixOrCase()
    {
        Parse("panic_on_oop PANIC=1 nr_cpus_x=2 apic_extnmi.x=1", out var report);
        Assert.Equal("Unknown kernel command line parameters \"panic_on_oop PANIC=1 nr_cpus_x=2 apic_extnmi.x=1\", ignored", Unknown(report));
    }

    [Fact]
    public void ManyUnknownNames_AreCutWithAnEllipsisAndTheLineStillCloses()
    {
        var names = Enumerable.Range(0, 100).Select(i => "unknown" + i).ToArray();
        Parse(string.Join(" ", names), out var report);
        Assert.Equal(100, report.UnknownCount);
        var line = report.UnknownLine();
        Assert.False(line.Truncated);
        string text = Ascii.Of(line);
        Assert.StartsWith("Unknown kernel command line parameters \"unknown0 unknown1 ", text);
        Assert.EndsWith(" ...\", ignored", text);
    }

    [Fact]
    public void OneHugeUnknownName_IsReplacedByAnEllipsis()
    {
        Parse(new string('u', 100_000) + " short", out var report);
        Assert.Equal(2, report.UnknownCount);
        Assert.Equal("Unknown kernel command line parameters \"...\", ignored", Unknown(report));
    }

    [Fact]
    public void DoubleDash_StopsParsingAndPointsAtInitsArguments()
    {
        string text = "panic=3 -- panic=9 foo";
        var v = Parse(text, out var report);
        Assert.Equal(3, v.Panic);
        Assert.Equal(0, report.UnknownCount);
        Assert.Equal("panic=9 foo", text.Substring(report.InitArgsOffset));
    }

    [Fact]
    public void DashesAndUnderscores_AreInterchangeableInNames()
    {
        var v = Parse("panic-on-oops crash-kexec-post_notifiers nr-cpus=2 apic-extnmi=none");
        Assert.True(v.PanicOnOops);
        Assert.True(v.CrashKexecPostNotifiers);
        Assert.Equal(2, v.NrCpus);
        Assert.Equal(ApicExtnmiMode.None, v.ApicExtnmi);
    }

    [Fact]
    public void Quotes_AroundValueOrWholeParameterGiveTheSameValue()
    {
        Assert.Equal("64M@256M", Ascii.Of(Parse("crashkernel=\"64M@256M\"").Crashkernel));
        Assert.Equal("64M@256M", Ascii.Of(Parse("\"crashkernel=64M@256M\"").Crashkernel));
        Assert.Equal("a b", Ascii.Of(Parse("\"crashkernel=a b\"").Crashkernel));
        Assert.Equal(ApicExtnmiMode.None, Parse("apic_extnmi=\"none\"").ApicExtnmi);
    }

    [Theory]
    [InlineData("crashkernel=\"64M@256M")]      // unterminated
    [InlineData("\"")]
    [InlineData("\"\"")]
    [InlineData("\" \"")]
    [InlineData("=")]
    [InlineData("==")]
    [InlineData("\"=\"")]
    [InlineData("panic=1\0panic=abc")]
    [InlineData("\0")]
    [InlineData("   ")]
    [InlineData("")]
    [InlineData("--")]
    [InlineData("-- --")]
    [InlineData("\"--")]
    public void Garbage_NeverFailsAndGivesSaneCounts(string text)
    {
        Parse(text, out var report);
        Assert.InRange(report.UnknownCount, 0, text.Length);
        Assert.InRange(report.MalformedCount, 0, text.Length);
        Assert.True(report.UnknownLine().Length <= LogLine.Capacity);
    }

    [Fact]
    public void EmbeddedNul_EndsTheCommandLine()
    {
        var v = Parse("panic=1\0panic=abc nonsense", out var report);
        Assert.Equal(1, v.Panic);
        Assert.Equal(0, report.MalformedCount);
        Assert.Equal(0, report.UnknownCount);
    }

    [Fact]
    public void AbsurdlyLongTokens_AreHandled()
    {
        var v = Parse("panic=" + new string('1', 100_000) + " nr_cpus=" + new string('0', 100_000) + "7", out var report);
        Assert.Equal(0, v.Panic);
        Assert.Equal(7, v.NrCpus);         // leading zeros are still a number
        Assert.Equal(1, report.MalformedCount);
        Assert.Equal("Malformed boot parameter panic=" + new string('1', 40) + "...: expected an integer; using 0", Malformed(report)[0]);
    }

    [Fact]
    public void RandomCommandLines_NeverFail()
    {
        var random = new Random(8675309);
        string[] pieces = ["panic", "=", "\"", " ", "nr_cpus", "apic_extnmi", "crashtest", "crashkernel", "-", "_",
                           "all", "PANIC", "0x", "-1", "99999999999", "--", "\0", "\t", "y", "off", "é", "\u00ff"];
        for (int iteration = 0; iteration < 20000; iteration++)
        {
            var sb = new System.Text.StringBuilder();
            int n = random.Next(0, 20);
            for (int i = 0; i < n; i++) sb.Append(pieces[random.Next(pieces.Length)]);
            var bytes = Ascii.Bytes(sb.ToString());
            if (random.Next(4) == 0 && bytes.Length > 0) bytes[random.Next(bytes.Length)] = (byte)random.Next(256);
            BootParams.Parse(bytes, out var values, out var report);
            Assert.True(report.UnknownLine().Length <= LogLine.Capacity);
            for (int i = 0; i < report.MalformedLineCount; i++)
            {
                var copy = report;
                string line = Ascii.Of(copy.MalformedLine(i));
                Assert.StartsWith("Malformed boot parameter ", line);
                Assert.Contains(": expected ", line);
                Assert.Contains("; using ", line);
                Assert.All(line, c => Assert.InRange(c, ' ', '~'));
            }
            Assert.InRange(values.NrCpus, 0, 4096);
            Assert.True(values.Crashkernel.Length <= KernelParams.StringCapacity);
            for (var p = (BootParam)0; p < BootParam.Count; p++) Assert.True(BootParams.FormatValue(values, p).Length > 0);
        }
    }

    [Theory]
    [InlineData("64M", 64L << 20)]
    [InlineData("64m", 64L << 20)]
    [InlineData("1G", 1L << 30)]
    [InlineData("0x10K", 16L << 10)]
    [InlineData("512", 512L)]
    [InlineData("2T", 2L << 40)]
    [InlineData("3P", 3L << 50)]
    [InlineData("7E", 7L << 60)]
    [InlineData("9223372036854775807", long.MaxValue)]
    public void ParseSize_AcceptsMemparseSuffixes(string text, long expected)
    {
        Assert.True(Kstrtox.ParseSize(Ascii.Bytes(text), out long v));
        Assert.Equal(expected, v);
    }

    [Theory]
    [InlineData("")]
    [InlineData("M")]
    [InlineData("8E")]                 // 2^63 does not fit
    [InlineData("1Q")]
    [InlineData("1MB")]
    [InlineData("-1M")]
    [InlineData("9223372036854775808")]
    public void ParseSize_RejectsWhatMemparseWouldMisread(string text)
        => Assert.False(Kstrtox.ParseSize(Ascii.Bytes(text), out _));

    [Theory]
    [InlineData("0", 0L)]
    [InlineData("-0", 0L)]
    [InlineData("+5", 5L)]
    [InlineData("-0x10", -16L)]
    [InlineData("0XfF", 255L)]
    [InlineData("9223372036854775807", long.MaxValue)]
    [InlineData("-9223372036854775808", long.MinValue)]
    [InlineData("0x7fffffffffffffff", long.MaxValue)]
    public void ParseInteger_AcceptsTheFullSignedRange(string text, long expected)
    {
        Assert.True(Kstrtox.ParseInteger(Ascii.Bytes(text), out long v));
        Assert.Equal(expected, v);
    }

    [Theory]
    [InlineData("")]
    [InlineData("+")]
    [InlineData("--1")]
    [InlineData("1 ")]
    [InlineData(" 1")]
    [InlineData("9223372036854775808")]
    [InlineData("-9223372036854775809")]
    [InlineData("0x8000000000000000")]
    [InlineData("0x")]
    [InlineData("0xg")]
    [InlineData("1e3")]
    public void ParseInteger_RejectsOverflowAndTrailingText(string text)
        => Assert.False(Kstrtox.ParseInteger(Ascii.Bytes(text), out _));

    [Fact]
    public void Table_EveryParameterHasAUniqueNameHelpAndConsistentType()
    {
        var names = new HashSet<string>();
        for (var p = (BootParam)0; p < BootParam.Count; p++)
        {
            var spec = BootParams.Spec(p);
            string name = Ascii.Of(spec.Name);
            Assert.Matches("^[a-z][a-z0-9_]*$", name);
            Assert.True(names.Add(name), "duplicate " + name);
            Assert.False(spec.Help.IsEmpty, name);
            Assert.True(spec.Help.Length < 120, name + ": help is meant to be one line");
            Assert.True(BootParams.Find(spec.Name, out var found) && found == p);
            // A choice needs two words, unless "not given" is itself the other choice.
            if (spec.Type == BootParamType.Enum) Assert.True(BootParams.WordCount(spec.Words) >= (spec.DefaultUnset ? 1 : 2), name);
            if (spec.Type == BootParamType.String) Assert.InRange(spec.MaxLength, 1, KernelParams.StringCapacity);
            if (spec.BareWord >= 0) Assert.True(spec.Type == BootParamType.Enum && spec.BareWord < BootParams.WordCount(spec.Words), name);
            if (spec.DefaultUnset) Assert.False(spec.UnsetText.IsEmpty, name);
            if (spec.Type == BootParamType.Integer && !spec.DefaultUnset && spec.Default != 0)
                Assert.InRange(spec.Default, spec.Min, spec.Max);
        }
        Assert.Equal((int)BootParam.Count, names.Count);
        Assert.False(BootParams.Find("nope"u8, out _));
        Assert.False(BootParams.Find(default, out _));
    }

    [Theory]
    [InlineData(BootParam.ApicExtnmi, "apic_extnmi=bsp|all|none  (default bsp)")]
    [InlineData(BootParam.PanicOnOops, "panic_on_oops[=0|1]  (default 0)")]
    [InlineData(BootParam.Panic, "panic=<integer>  (default 0)")]
    [InlineData(BootParam.NrCpus, "nr_cpus=<integer 1..4096>  (default 0)")]
    [InlineData(BootParam.CrashtestCpu, "crashtest_cpu=<integer >= 0>  (default 0)")]
    [InlineData(BootParam.PoweroffAfterMs, "poweroff_after_ms=<integer >= 0>  (default never)")]
    [InlineData(BootParam.Crashkernel, "crashkernel=<string>  (default none)")]
    [InlineData(BootParam.Crashtest, "crashtest=<name>  (default none)")]
    public void Usage_ShowsSyntaxAndDefault(BootParam p, string expected)
    {
        var line = BootParams.FormatUsage(p);
        Assert.False(line.Truncated);
        Assert.Equal(expected, Ascii.Of(line));
    }

    [Fact]
    public void Names_AWordListTooLongForTheSyntaxGetsALineOfItsOwn_WithEveryName()
    {
        var parts = new List<string>();
        for (int part = 0; BootParams.FormatNames(BootParam.Crashtest, part) is var line && line.Length > 0; part++)
        {
            Assert.False(line.Truncated);
            Assert.InRange(line.Length, 1, BootParams.NamesLineWidth);
            parts.Add(Ascii.Of(line));
        }
        Assert.True(parts.Count > 1, "the crashtest= names no longer fit one line");
        Assert.StartsWith("names: ", parts[0]);
        Assert.All(parts.Skip(1), p => Assert.StartsWith("       ", p));
        string names = string.Join(" ", parts.Select(p => p[7..]));
        Assert.Equal(Ascii.Of(BootParams.Spec(BootParam.Crashtest).Words), names);
        Assert.Contains("WRITE_CRASHKERNEL", names);
        Assert.Equal(0, BootParams.FormatNames(BootParam.ApicExtnmi).Length);     // spelled out in its syntax
        Assert.Equal(0, BootParams.FormatNames(BootParam.Panic).Length);
    }

    [Fact]
    public void Usage_OfEveryParameterFitsOneLine()
    {
        for (var p = (BootParam)0; p < BootParam.Count; p++)
            Assert.False(BootParams.FormatUsage(p).Truncated, p.ToString());
    }

    [Fact]
    public void FormatValue_PrintsTheValuesInEffectAsTheyWouldBeTyped()
    {
        var v = Parse("apic_extnmi=all crashkernel=64M panic=-1 crashtest=DOUBLE_PANIC");
        string Value(BootParam p) => Ascii.Of(BootParams.FormatValue(v, p));
        Assert.Equal("apic_extnmi=all", Value(BootParam.ApicExtnmi));
        Assert.Equal("crashkernel=64M", Value(BootParam.Crashkernel));
        Assert.Equal("panic=-1", Value(BootParam.Panic));
        Assert.Equal("crashtest=DOUBLE_PANIC", Value(BootParam.Crashtest));
        Assert.Equal("poweroff_after_ms=never", Value(BootParam.PoweroffAfterMs));
        Assert.Equal("panic_on_oops=0", Value(BootParam.PanicOnOops));
        Assert.Equal("nr_cpus=0", Value(BootParam.NrCpus));

        var line = new LogLine(0, 0);
        BootParams.AppendValue(ref line, v, BootParam.Panic);
        line.AppendChar(' ');
        BootParams.AppendValue(ref line, v, BootParam.ApicExtnmi);
        Assert.Equal("panic=-1 apic_extnmi=all", Ascii.Of(line));
    }

    [Fact]
    public void Apply_RejectsOutOfRangeParameterIds()
    {
        var v = Parse("");
        Assert.False(BootParams.Apply(BootParam.Count, "1"u8, true, ref v));
        Assert.False(BootParams.Apply((BootParam)(-1), "1"u8, true, ref v));
        Assert.Equal(0, v.Value(BootParam.Count));
        Assert.False(v.IsSet((BootParam)(-1)));
        Assert.True(v.StringValue(BootParam.Count).IsEmpty);
    }

    [Fact]
    public void ParsedStructs_HoldNoReferences_SoTheKernelCanKeepThemInStatics()
    {
        Assert.False(RuntimeHelpers.IsReferenceOrContainsReferences<KernelParams>());
        Assert.False(RuntimeHelpers.IsReferenceOrContainsReferences<BootParamsReport>());
        Assert.False(RuntimeHelpers.IsReferenceOrContainsReferences<KmsgHeader>());
    }
}
