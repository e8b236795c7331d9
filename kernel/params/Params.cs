// The kernel's parsed boot parameters, kept for the whole run, and the one-time console report of
// what was wrong with them (BootParamTable.cs holds the table, BootParamParser.cs the parser).
using System;

static class Params
{
    static KernelParams s_values;
    static BootParamsReport s_report;

    public static ref readonly KernelParams Current => ref s_values;

    public static void Parse(ReadOnlySpan<byte> arguments)
    {
        BootParams.Parse(arguments, out s_values, out s_report);
        Log.SetConsoleLevel(s_values.Loglevel);
    }

    /// <summary>Linux prints these once the console is up: one line for all unknown names, one per bad value.</summary>
    public static void Report()
    {
        for (int i = 0; i < s_report.MalformedLineCount; i++)
        {
            LogLine l = s_report.MalformedLine(i);
            Log.Warn(ref l);
        }
        if (s_report.UnknownCount > 0)
        {
            LogLine l = s_report.UnknownLine();
            Log.Notice(ref l);
        }
    }

    /// <summary>
    /// A test trigger (kernel/debug) turning on what its scenario needs, so the scenario is
    /// self-contained; it says so on the console. Boot time only, before the scenario starts.
    /// </summary>
    public static void OverrideForTest(BootParam p, long value)
    {
        s_values.Set(p, value);
        LogLine l = default;
        l.Append("crashtest: sets ");
        l.Append(BootParams.Spec(p).Name);
        l.AppendChar('=');
        AppendValue(ref l, p);
        Log.Info(ref l);
    }

    /// <summary>Appends a parameter's value in effect as the user would type it (enum word, number, text).</summary>
    public static void AppendValue(ref LogLine line, BootParam p) => BootParams.AppendCurrent(ref line, in s_values, p);
}
