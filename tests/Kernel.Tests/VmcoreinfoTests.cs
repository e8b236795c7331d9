// VMCOREINFO (kernel/dump/Vmcoreinfo.cs): the text forms Linux prints, whole-line-or-nothing appends,
// crash-time replacement without allocation, the note around the text, and a reader that survives
// garbage. A model of the text (a list of lines) checks random sequences of operations.
using System.Buffers.Binary;
using System.Text;

namespace Kernel.Tests;

public class VmcoreinfoTests
{
    static string Text(in VmcoreinfoBuilder b) => Ascii.Of(b.Text);

    [Fact]
    public void Builder_WritesTheFormsLinuxPrints()
    {
        var buffer = new byte[4096];
        var b = new VmcoreinfoBuilder(buffer, 0);
        Assert.True(b.AddText("OSRELEASE", "0.1-nmidump"));
        Assert.True(b.AddDecimal("PAGESIZE", 4096));
        Assert.True(b.AddSymbol("kmsg", 0xFFFF_FFFF_8100_0000));
        Assert.True(b.AddSize("kmsg_header", 64));
        Assert.True(b.AddOffset("kmsg_header.tail", 24));
        Assert.True(b.AddLength("crash_notes", 64));
        Assert.True(b.AddNumber("PANIC_CPU_INVALID", -1));
        Assert.True(b.AddHex("BUILD-ID", 0xdeadbeef));
        Assert.Equal(
            "OSRELEASE=0.1-nmidump\nPAGESIZE=4096\nSYMBOL(kmsg)=ffffffff81000000\nSIZE(kmsg_header)=64\n" +
            "OFFSET(kmsg_header.tail)=24\nLENGTH(crash_notes)=64\nNUMBER(PANIC_CPU_INVALID)=-1\nBUILD-ID=deadbeef\n", Text(b));
        Assert.False(b.Overflowed);
    }

    [Theory]
    [InlineData(0UL, "0")]
    [InlineData(0xAUL, "a")]
    [InlineData(0x100000UL, "100000")]
    [InlineData(ulong.MaxValue, "ffffffffffffffff")]
    public void Symbol_IsLowercaseHexWithoutPrefix(ulong address, string expected)
    {
        var b = new VmcoreinfoBuilder(new byte[128], 0);
        Assert.True(b.AddSymbol("x", address));
        Assert.Equal($"SYMBOL(x)={expected}\n", Text(b));
    }

    [Theory]
    [InlineData(long.MinValue, "-9223372036854775808")]
    [InlineData(-1L, "-1")]
    [InlineData(0L, "0")]
    [InlineData(long.MaxValue, "9223372036854775807")]
    public void Decimal_CoversTheWholeRange(long value, string expected)
    {
        var b = new VmcoreinfoBuilder(new byte[128], 0);
        Assert.True(b.AddDecimal("N", value));
        Assert.True(b.AddUnsigned("U", ulong.MaxValue));
        Assert.Equal($"N={expected}\nU=18446744073709551615\n", Text(b));
        Assert.True(Vmcoreinfo.FindDecimal(b.Text, "N", out long back));
        Assert.Equal(value, back);
        Assert.True(Vmcoreinfo.FindUnsigned(b.Text, "U", out ulong u));
        Assert.Equal(ulong.MaxValue, u);
    }

    [Fact]
    public void Set_ReplacesTheKeysLines_AndAppendsTheNewValueLast()
    {
        var buffer = new byte[256];
        var b = new VmcoreinfoBuilder(buffer, 0);
        b.AddDecimal("CRASHTIME", 1);
        b.AddDecimal("PAGESIZE", 4096);
        b.AddDecimal("CRASHTIME", 2);
        b.AddDecimal("CRASHTIME2", 3);           // another key that merely starts the same
        Assert.True(b.SetDecimal("CRASHTIME", 1700000000));
        Assert.Equal("PAGESIZE=4096\nCRASHTIME2=3\nCRASHTIME=1700000000\n", Text(b));
        Assert.True(b.SetText("PANIC_MESSAGE", "NMI: Not continuing"));
        Assert.True(b.SetText("PANIC_MESSAGE", "second"u8));
        Assert.Equal("PAGESIZE=4096\nCRASHTIME2=3\nCRASHTIME=1700000000\nPANIC_MESSAGE=second\n", Text(b));
        Assert.True(b.SetHex("CPU_MISSING", 0b1010));
        Assert.EndsWith("CPU_MISSING=a\n", Text(b));
    }

    [Fact]
    public void Remove_DeletesEveryLineOfTheKeyOnly()
    {
        var b = new VmcoreinfoBuilder(new byte[256], 0);
        b.AddText("A", "1"); b.AddText("AB", "2"); b.AddText("A", "3");
        Assert.Equal(2, b.Remove("A"));
        Assert.Equal("AB=2\n", Text(b));
        Assert.Equal(0, b.Remove("A"));
    }

    [Fact]
    public void LineThatDoesNotFit_ChangesNothing_AndSetsOverflowed()
    {
        var buffer = new byte[32];
        Array.Fill(buffer, (byte)'#');
        var b = new VmcoreinfoBuilder(buffer, 0);
        Assert.True(b.AddDecimal("PAGESIZE", 4096));             // 14 bytes
        Assert.True(b.AddText("K", "0123456789abc"));            // 16 bytes: 30 in all
        Assert.False(b.AddText("Z", "1"));                       // 4 more do not fit
        Assert.True(b.Overflowed);
        Assert.Equal(30, b.Length);
        Assert.Equal("##", Encoding.ASCII.GetString(buffer, 30, 2));
        Assert.False(b.SetText("K", "0123456789abcdef"));        // would need 33
        Assert.Equal("PAGESIZE=4096\nK=0123456789abc\n", Text(b));
        Assert.True(b.SetText("K", "0123456789abcde"));          // exactly 32 once the old line goes
        Assert.Equal("PAGESIZE=4096\nK=0123456789abcde\n", Text(b));
        Assert.Equal(32, b.Length);
    }

    [Fact]
    public void Values_CannotBreakALine_ControlBytesBecomeQuestionMarks()
    {
        var b = new VmcoreinfoBuilder(new byte[128], 0);
        Assert.True(b.AddText("PANIC_MESSAGE", "line1\nCRASHTIME=0\r\0\x7f\u00e9"));
        Assert.True(b.AddText("RAW", new byte[] { (byte)'a', 10, 0, 0xFF }));
        Assert.Equal("PANIC_MESSAGE=line1?CRASHTIME=0????\nRAW=a???\n", Text(b));
        Assert.False(Vmcoreinfo.Find(b.Text, "CRASHTIME", out _));
    }

    [Theory]
    [InlineData("")]
    [InlineData("A=B")]
    [InlineData("A B")]
    [InlineData("A\nB")]
    [InlineData("\u00e9")]
    public void Keys_ThatCouldNotBeReadBack_AreRefused(string key)
    {
        var b = new VmcoreinfoBuilder(new byte[128], 0);
        Assert.False(b.AddText(key, "v"));
        Assert.False(b.SetDecimal(key, 1));
        Assert.False(b.AddSymbol(key, 1));
        Assert.Equal(0, b.Length);
        Assert.False(b.Overflowed);
        var other = new VmcoreinfoBuilder(Encoding.ASCII.GetBytes("=x\nA=1\n"), 7);
        Assert.Equal(0, other.Remove(key));
        Assert.False(Vmcoreinfo.Find(other.Text, key, out _));
    }

    [Fact]
    public void Resuming_TextWithoutItsLastNewline_StartsANewLine()
    {
        var buffer = new byte[64];
        int n = Encoding.ASCII.GetBytes("A=1\nB=2", buffer);
        var b = new VmcoreinfoBuilder(buffer, n);
        Assert.True(b.AddDecimal("C", 3));
        Assert.Equal("A=1\nB=2\nC=3\n", Text(b));
        Assert.True(Vmcoreinfo.FindDecimal(b.Text, "B", out long v));
        Assert.Equal(2, v);
        var clamped = new VmcoreinfoBuilder(new byte[8], 100);
        Assert.Equal(8, clamped.Length);
        Assert.Equal(0, new VmcoreinfoBuilder(new byte[8], -5).Length);
    }

    [Fact]
    public void Reader_FindsTheFirstExactKey_ValueEndsAtNewlineOrText()
    {
        var text = "CRASHTIME2=5\nCRASHTIME=7\nSYMBOL(kmsg)=FFFFFFFF81000000\nSYMBOL(k)=0x10\nSIZE(a)=3\nOFFSET(s.f)=112\nLENGTH(x)=9\nNUMBER(n)=-4\nLAST=end"u8;
        Assert.True(Vmcoreinfo.Find(text, "CRASHTIME", out var v));
        Assert.Equal("7", Ascii.Of(v));
        Assert.True(Vmcoreinfo.Find(text, "LAST", out v));
        Assert.Equal("end", Ascii.Of(v));
        Assert.True(Vmcoreinfo.FindSymbol(text, "kmsg", out ulong a));
        Assert.Equal(0xFFFF_FFFF_8100_0000UL, a);
        Assert.True(Vmcoreinfo.FindSymbol(text, "k", out a));
        Assert.Equal(0x10UL, a);
        Assert.True(Vmcoreinfo.FindSize(text, "a", out ulong s));
        Assert.Equal(3UL, s);
        Assert.True(Vmcoreinfo.FindOffset(text, "s.f", out ulong o));
        Assert.Equal(112UL, o);
        Assert.True(Vmcoreinfo.FindLength(text, "x", out ulong l));
        Assert.Equal(9UL, l);
        Assert.True(Vmcoreinfo.FindNumber(text, "n", out long n));
        Assert.Equal(-4, n);
        Assert.False(Vmcoreinfo.Find(text, "CRASH", out _));
        Assert.False(Vmcoreinfo.Find(text, "kmsg", out _));
        Assert.False(Vmcoreinfo.FindSymbol(text, "km", out _));
    }

    [Theory]
    [InlineData("", false, 0L)]
    [InlineData("-", false, 0L)]
    [InlineData("12a", false, 0L)]
    [InlineData(" 1", false, 0L)]
    [InlineData("+1", false, 0L)]
    [InlineData("9223372036854775807", true, long.MaxValue)]
    [InlineData("9223372036854775808", false, 0L)]
    [InlineData("-9223372036854775808", true, long.MinValue)]
    [InlineData("-9223372036854775809", false, 0L)]
    [InlineData("99999999999999999999999", false, 0L)]
    public void ParseDecimal_RejectsMalformedAndOverflowingValues(string s, bool ok, long expected)
    {
        Assert.Equal(ok, Vmcoreinfo.ParseDecimal(Encoding.ASCII.GetBytes(s), out long v));
        Assert.Equal(expected, v);
    }

    [Theory]
    [InlineData("0", true, 0UL)]
    [InlineData("0x", false, 0UL)]
    [InlineData("0XaBcD", true, 0xABCDUL)]
    [InlineData("ffffffffffffffff", true, ulong.MaxValue)]
    [InlineData("10000000000000000", false, 0UL)]
    [InlineData("g", false, 0UL)]
    [InlineData("", false, 0UL)]
    public void ParseHex_TakesEitherCaseAndOptional0x_RejectsOverflow(string s, bool ok, ulong expected)
    {
        Assert.Equal(ok, Vmcoreinfo.ParseHex(Encoding.ASCII.GetBytes(s), out ulong v));
        if (ok) Assert.Equal(expected, v);
    }

    [Fact]
    public void ParseUnsigned_StopsExactlyAtUlongMax()
    {
        Assert.True(Vmcoreinfo.ParseUnsigned("18446744073709551615"u8, out ulong v));
        Assert.Equal(ulong.MaxValue, v);
        Assert.False(Vmcoreinfo.ParseUnsigned("18446744073709551616"u8, out _));
        Assert.False(Vmcoreinfo.ParseUnsigned("-1"u8, out _));
    }

    [Fact]
    public void Note_IsNamedVmcoreinfoTypeZero_WithTheTextAsDescAndATerminator()
    {
        var text = "PAGESIZE=4096\nCRASHTIME=1\n"u8;   // 26 bytes, padded to 28
        var buffer = new byte[Vmcoreinfo.NoteBufferSize(64)];
        Array.Fill(buffer, (byte)0x77);
        int n = Vmcoreinfo.WriteNote(buffer, text);
        Assert.Equal(12 + 12 + 28 + 12, n);
        Assert.Equal(11u, BinaryPrimitives.ReadUInt32LittleEndian(buffer));
        Assert.Equal(26u, BinaryPrimitives.ReadUInt32LittleEndian(buffer.AsSpan(4)));
        Assert.Equal(0u, BinaryPrimitives.ReadUInt32LittleEndian(buffer.AsSpan(8)));
        Assert.Equal("VMCOREINFO\0\0", Encoding.ASCII.GetString(buffer, 12, 12));
        Assert.Equal(text.ToArray(), buffer[24..50]);
        Assert.All(buffer[50..64], b => Assert.Equal(0, b));          // padding and terminator
        Assert.Equal(0x77, buffer[64]);
        Assert.True(Vmcoreinfo.FindNote(buffer, out var back));
        Assert.Equal(text.ToArray(), back.ToArray());
        Assert.Equal(12 + 12 + 64 + 12, Vmcoreinfo.NoteBufferSize(64));
        Assert.Equal(0, Vmcoreinfo.WriteNote(new byte[63], text));
    }

    [Fact]
    public void CrashTime_SetAtCrash_ThenNoteRewritten_ReadsBack()
    {
        // The kernel's shape: text in one static buffer, the note in another, rewritten at crash time.
        var textBuffer = new byte[Vmcoreinfo.DefaultCapacity];
        var note = new byte[Vmcoreinfo.NoteBufferSize(Vmcoreinfo.DefaultCapacity)];
        var boot = new VmcoreinfoBuilder(textBuffer, 0);
        boot.AddText("OSRELEASE", "0.1");
        boot.AddSymbol("kmsg", 0x10F000);
        int length = boot.Length;
        Vmcoreinfo.WriteNote(note, boot.Text);

        var crash = new VmcoreinfoBuilder(textBuffer, length);
        Assert.True(crash.SetDecimal("CRASHTIME", 1_700_000_000));
        Assert.True(crash.SetText("PANIC_MESSAGE", "NMI received for unknown reason 30 on CPU 0."));
        Assert.True(crash.SetText("CPU_MISSING", "2,3"));
        Assert.True(Vmcoreinfo.WriteNote(note, crash.Text) > 0);

        Assert.True(Vmcoreinfo.FindNote(note, out var text));
        Assert.True(Vmcoreinfo.FindDecimal(text, "CRASHTIME", out long t));
        Assert.Equal(1_700_000_000, t);
        Assert.True(Vmcoreinfo.Find(text, "CPU_MISSING", out var missing));
        Assert.Equal("2,3", Ascii.Of(missing));
        Assert.True(Vmcoreinfo.FindSymbol(text, "kmsg", out ulong kmsg));
        Assert.Equal(0x10F000UL, kmsg);
    }

    [Theory]
    [InlineData(11)]
    [InlineData(12)]
    public void Builder_Fuzz_MatchesAModelOfLines(int seed)
    {
        var rng = new Random(seed);
        string[] keys = ["A", "B", "CRASHTIME", "CRASHTIME2", "SYMBOL(x)", "K"];
        for (int round = 0; round < 300; round++)
        {
            int capacity = rng.Next(0, 200);
            var buffer = new byte[capacity];
            var b = new VmcoreinfoBuilder(buffer, 0);
            var model = new List<string>();
            for (int op = 0; op < 60; op++)
            {
                string key = keys[rng.Next(keys.Length)];
                string value = new string(Enumerable.Range(0, rng.Next(0, 12)).Select(_ => (char)rng.Next(0x20, 0x7F)).ToArray());
                bool replace = rng.Next(2) == 0;
                var next = new List<string>(model);
                if (replace) next.RemoveAll(l => l.StartsWith(key + "=", StringComparison.Ordinal));
                next.Add(key + "=" + value);
                bool fits = next.Sum(l => l.Length + 1) <= capacity;
                bool ok = replace ? b.SetText(key, value) : b.AddText(key, value);
                Assert.Equal(fits, ok);
                if (ok) model = next;
                Assert.Equal(string.Concat(model.Select(l => l + "\n")), Text(b));
                foreach (var k in keys)
                {
                    string? first = model.FirstOrDefault(l => l.StartsWith(k + "=", StringComparison.Ordinal));
                    Assert.Equal(first != null, Vmcoreinfo.Find(b.Text, k, out var v));
                    if (first != null) Assert.Equal(first[(k.Length + 1)..], Ascii.Of(v));
                }
            }
        }
    }

    [Theory]
    [InlineData(21)]
    [InlineData(22)]
    public void Reader_Fuzz_GarbageNeverThrows_ValuesLieInsideTheText(int seed)
    {
        var rng = new Random(seed);
        byte[] alphabet = "=\n\0()SYMBOLkmsgAB0123456789abcdefx-"u8.ToArray();
        for (int i = 0; i < 20000; i++)
        {
            var text = new byte[rng.Next(0, 64)];
            for (int j = 0; j < text.Length; j++) text[j] = rng.Next(4) == 0 ? (byte)rng.Next(256) : alphabet[rng.Next(alphabet.Length)];
            foreach (var key in new[] { "A", "B", "SYMBOL(kmsg)" })
            {
                if (Vmcoreinfo.Find(text, key, out var v))
                {
                    Assert.True(v.Length < text.Length);
                    Assert.DoesNotContain((byte)'\n', v.ToArray());
                }
            }
            Vmcoreinfo.FindSymbol(text, "kmsg", out _);
            Vmcoreinfo.FindNumber(text, "A", out _);
            Vmcoreinfo.FindNote(text, out _);
            // Resuming a builder over garbage and replacing keeps the text well-formed at its end.
            var copy = new byte[text.Length + 16];
            text.CopyTo(copy, 0);
            var b = new VmcoreinfoBuilder(copy, text.Length);
            if (b.SetDecimal("B", 5))
            {
                Assert.True(Vmcoreinfo.FindDecimal(b.Text, "B", out long five));
                Assert.Equal(5, five);
                Assert.EndsWith("B=5\n", Ascii.Of(b.Text));
            }
        }
    }
}

public class VmcoreinfoNamedRangeTests
{
    [Fact]
    public void NamedRanges_AreEverySymbolWithASize_TimesItsLength()
    {
        var text = new byte[1024];
        var b = new VmcoreinfoBuilder(text, 0);
        b.AddSymbol("log_buf", 0x62f788);
        b.AddSize("log_buf", 262144);
        b.AddSymbol("_stext", 0x100060);                 // no SIZE: not a range
        b.AddSymbol("crash_notes", 0x6247b0);
        b.AddSize("crash_notes", 368);
        b.AddLength("crash_notes", 255);
        b.AddSymbol("page_table_pool", 0x700000);
        b.AddSize("page_table_pool", 0);                 // nothing handed out yet: no range
        b.AddSymbol("owned_ranges", 0x1000);
        b.AddSize("owned_ranges", 1040);
        Assert.True(b.SetSize("page_table_pool", 8192)); // replaced, not added
        var ranges = new PhysRange[8];
        int n = Vmcoreinfo.NamedRanges(b.Text, ranges);
        Assert.Equal([(0x62f788UL, 262144UL), (0x6247b0UL, 368UL * 255), (0x700000UL, 8192UL), (0x1000UL, 1040UL)],
            ranges[..n].Select(r => (r.Start, r.Size)));
        Assert.Equal(1, Ascii.Of(b.Text).Split('\n').Count(l => l.StartsWith("SIZE(page_table_pool)")));
        Assert.Equal(2, Vmcoreinfo.NamedRanges(b.Text, ranges.AsSpan(0, 2)));
    }

    [Fact]
    public void NamedRanges_IgnoreMalformedLines()
    {
        byte[] text = Ascii.Bytes("SYMBOL(a)=zz\nSIZE(a)=10\nSYMBOL(b=1000\nSYMBOL(c)=ffffffffffffffff\nSIZE(c)=16\nSYMBOL(d)=2000\nSIZE(d)=x\n");
        Assert.Equal(0, Vmcoreinfo.NamedRanges(text, new PhysRange[8]));
    }
}

public unsafe class DumpStreamChecksumTests
{
    [Fact]
    public void CopyingWhileSumming_GivesTheSumOfTheCopy_InAnyPieces()
    {
        var random = new Random(7);
        for (int round = 0; round < 50; round++)
        {
            var data = new byte[random.Next(0, 5000)];
            random.NextBytes(data);
            var copy = new byte[data.Length];
            var sum = DumpStream.ChecksumState.Start();
            int at = 0;
            fixed (byte* s = data, d = copy)
                while (at < data.Length)
                {
                    // Pieces of whole words but the last, as the export loop feeds them.
                    int n = Math.Min(data.Length - at, 8 * random.Next(1, 100));
                    sum.AddCopy(d + at, s + at, (ulong)n);
                    at += n;
                }
            Assert.Equal(data, copy);
            Assert.Equal(DumpStream.Checksum(data), sum.Finish());
        }
    }
}
