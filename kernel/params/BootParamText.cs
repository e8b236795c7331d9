// BootParamText: how parameters read on the console and in `./build.sh params`: the malformed-value
// line ("Malformed boot parameter panic=abc: expected an integer; using 0"), the value in effect
// as a user would type it, and the usage line of the listing.
using System;

public static partial class BootParams
{
    /// <summary>A malformed value is shown up to this many bytes, so the line keeps its "expected" part.</summary>
    public const int MaxValueShown = 40;

    // ---- Messages and listings -----------------------------------------------------------------

    /// <summary>
    /// "Malformed boot parameter panic=abc: expected an integer; using 0" — the name and value as
    /// given (the value cut at MaxValueShown bytes), what was expected, and the value kept.
    /// </summary>
    public static LogLine FormatMalformed(BootParam p, ReadOnlySpan<byte> givenName, ReadOnlySpan<byte> value,
                                          bool hasValue, in KernelParams values)
    {
        LogLine line = new LogLine(0, 0);
        line.Append("Malformed boot parameter ");
        line.Append(givenName);
        if (hasValue)
        {
            line.AppendChar('=');
            if (value.Length <= MaxValueShown) line.Append(value);
            else
            {
                line.Append(value.Slice(0, MaxValueShown));
                line.Append("...");
            }
        }
        line.Append(": expected ");
        // A long word list (crashtest=) beside a long value would push the value kept off the
        // line; then the list is named instead of spelled out.
        LogLine expected = new LogLine(0, 0), kept = new LogLine(0, 0);
        AppendExpected(ref expected, p);
        AppendCurrent(ref kept, in values, p);
        if (!expected.Truncated && line.Length + expected.Length + "; using ".Length + kept.Length <= LogLine.Capacity)
            line.Append(expected.AsSpan());
        else
        {
            line.Append("one of its ");
            line.AppendDecimal(WordCount(Spec(p).Words));
            line.Append(" words (./build.sh params lists them)");
        }
        line.Append("; using ");
        line.Append(kept.AsSpan());
        return line;
    }

    /// <summary>What a value must look like: "an integer from 1 to 4096", "bsp, all or none", "0 or 1".</summary>
    public static void AppendExpected(ref LogLine line, BootParam p)
    {
        BootParamSpec spec = Spec(p);
        switch (spec.Type)
        {
            case BootParamType.Flag:
                line.Append("0 or 1");
                break;
            case BootParamType.Integer:
                line.Append("an integer");
                AppendRange(ref line, spec, IntMin, IntMax);
                break;
            case BootParamType.Enum:
                int count = WordCount(spec.Words);
                for (int i = 0; i < count; i++)
                {
                    if (i > 0) line.Append(i == count - 1 ? " or " : ", ");
                    line.Append(Word(spec.Words, i));
                }
                break;
            case BootParamType.String:
                line.Append("a value of at most ");
                line.AppendDecimal(spec.MaxLength);
                line.Append(" characters");
                break;
        }
    }

    // Bounds equal to the type's own limits are not worth saying.
    private static void AppendRange(ref LogLine line, in BootParamSpec spec, long typeMin, long typeMax)
    {
        bool hasMin = spec.Min > typeMin, hasMax = spec.Max < typeMax;
        if (hasMin && hasMax)
        {
            line.Append(" from ");
            line.AppendDecimal(spec.Min);
            line.Append(" to ");
            line.AppendDecimal(spec.Max);
        }
        else if (hasMin)
        {
            line.Append(" of at least ");
            line.AppendDecimal(spec.Min);
        }
        else if (hasMax)
        {
            line.Append(" of at most ");
            line.AppendDecimal(spec.Max);
        }
    }

    /// <summary>The default in the form a user would type it ("bsp", "0", "never").</summary>
    public static void AppendDefault(ref LogLine line, BootParam p)
    {
        BootParamSpec spec = Spec(p);
        if (spec.DefaultUnset) line.Append(spec.UnsetText);
        else AppendTyped(ref line, spec, spec.Default);
    }

    /// <summary>The value in effect for <paramref name="p"/>, in the form a user would type it.</summary>
    public static void AppendCurrent(ref LogLine line, in KernelParams values, BootParam p)
    {
        BootParamSpec spec = Spec(p);
        if (!values.IsSet(p)) line.Append(spec.UnsetText);
        else if (spec.Type == BootParamType.String) values.AppendString(ref line, p);
        else AppendTyped(ref line, spec, values.Value(p));
    }

    private static void AppendTyped(ref LogLine line, in BootParamSpec spec, long value)
    {
        if (spec.Type == BootParamType.Enum) line.Append(Word(spec.Words, (int)value));
        else line.AppendDecimal(value);
    }

    /// <summary>"name=value" for the value in effect, as printed at boot.</summary>
    public static void AppendValue(ref LogLine line, in KernelParams values, BootParam p)
    {
        line.Append(Spec(p).Name);
        line.AppendChar('=');
        AppendCurrent(ref line, in values, p);
    }

    /// <summary>The same as one line.</summary>
    public static LogLine FormatValue(in KernelParams values, BootParam p)
    {
        LogLine line = new LogLine(0, 0);
        AppendValue(ref line, in values, p);
        return line;
    }

    /// <summary>How to write the parameter: "panic_on_oops[=0|1]", "nr_cpus=<1..4096>", "apic_extnmi=bsp|all|none".</summary>
    public static void AppendSyntax(ref LogLine line, BootParam p)
    {
        BootParamSpec spec = Spec(p);
        line.Append(spec.Name);
        switch (spec.Type)
        {
            case BootParamType.Flag:
                line.Append("[=0|1]");
                break;
            case BootParamType.Integer:
                bool hasMin = spec.Min > IntMin, hasMax = spec.Max < IntMax;
                line.Append("=<integer");
                if (hasMin && hasMax)
                {
                    line.AppendChar(' ');
                    line.AppendDecimal(spec.Min);
                    line.Append("..");
                    line.AppendDecimal(spec.Max);
                }
                else if (hasMin)
                {
                    line.Append(" >= ");
                    line.AppendDecimal(spec.Min);
                }
                else if (hasMax)
                {
                    line.Append(" <= ");
                    line.AppendDecimal(spec.Max);
                }
                line.AppendChar('>');
                break;
            case BootParamType.Enum:
                line.Append(spec.BareWord >= 0 ? "[=" : "=");
                if (spec.Words.Length > MaxWordsInSyntax) line.Append("<name>");     // crashtest=: the names get a line of their own
                else AppendWords(ref line, spec.Words, "|");
                if (spec.BareWord >= 0) line.AppendChar(']');
                break;
            case BootParamType.String:
                line.Append("=<string>");
                break;
        }
    }

    /// <summary>A word list longer than this is not spelled out in the syntax ("crashtest=<name>"); <see cref="FormatNames"/> lists it.</summary>
    public const int MaxWordsInSyntax = 120;

    static void AppendWords(ref LogLine line, ReadOnlySpan<byte> words, string separator)
    {
        int count = WordCount(words);
        for (int i = 0; i < count; i++)
        {
            if (i > 0) line.Append(separator);
            line.Append(Word(words, i));
        }
    }

    /// <summary>Width of a names line, well inside a LogLine: the list grows with every crashtest= trigger.</summary>
    public const int NamesLineWidth = 100;

    /// <summary>
    /// For an Enum whose names the syntax leaves out: "names: PANIC BUG ...", else empty. A list
    /// longer than a line goes on in parts 1, 2, ... (indented like the first); past its end, empty.
    /// </summary>
    public static LogLine FormatNames(BootParam p, int part = 0)
    {
        LogLine line = new LogLine(0, 0);
        BootParamSpec spec = Spec(p);
        if (spec.Type != BootParamType.Enum || spec.Words.Length <= MaxWordsInSyntax) return line;
        int count = WordCount(spec.Words), next = 0;
        for (int k = 0; k <= part; k++)
        {
            if (next >= count) return new LogLine(0, 0);
            line = new LogLine(0, 0);
            line.Append(k == 0 ? "names: " : "       ");
            int first = next;
            while (next < count && (next == first || line.Length + 1 + Word(spec.Words, next).Length <= NamesLineWidth))
            {
                if (next > first) line.Append(" ");
                line.Append(Word(spec.Words, next++));
            }
        }
        return line;
    }

    /// <summary>"{syntax}  (default {default})": the first line of a listing entry; Spec(p).Help is the second.</summary>
    public static LogLine FormatUsage(BootParam p)
    {
        LogLine line = new LogLine(0, 0);
        AppendSyntax(ref line, p);
        line.Append("  (default ");
        AppendDefault(ref line, p);
        line.AppendChar(')');
        return line;
    }
}
