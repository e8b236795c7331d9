// BootParamParser: a whole command line into KernelParams and a BootParamsReport, as Linux's
// parse_args() does (kernel/params.c): defaults first, then each parameter in order, a later one
// winning; numbers and truth values through Kstrtox (kernel/lib).
using System;

public static partial class BootParams
{
    // ---- Parsing ---------------------------------------------------------------------------------

    /// <summary>
    /// Parses a whole command line: defaults first, then each parameter in order (a later one wins,
    /// as in Linux). A malformed value leaves the value in effect unchanged and is reported.
    /// </summary>
    public static void Parse(ReadOnlySpan<byte> commandLine, out KernelParams values, out BootParamsReport report)
    {
        values = default;
        values.SetDefaults();
        report = default;
        CommandLine args = new CommandLine(commandLine);
        while (args.Next(out CommandLineParam arg))
        {
            // A lone quote or similar garbage yields an empty name: nothing to set or to name.
            if (arg.Name.IsEmpty) continue;
            if (!Find(arg.Name, out BootParam p))
            {
                report.AddUnknown(arg.Name, arg.Value, arg.HasValue);
                continue;
            }
            if (!Apply(p, arg.Value, arg.HasValue, ref values))
            {
                LogLine line = FormatMalformed(p, arg.Name, arg.Value, arg.HasValue, in values);
                report.AddMalformed(line.AsSpan());
            }
        }
        report.InitArgsOffset = args.InitArgsOffset;
    }

    /// <summary>Parses one value for <paramref name="p"/> and stores it; false (nothing stored) if malformed.</summary>
    public static bool Apply(BootParam p, ReadOnlySpan<byte> value, bool hasValue, ref KernelParams values)
    {
        if ((uint)p >= (uint)BootParam.Count) return false;
        BootParamSpec spec = Spec(p);
        long v;
        switch (spec.Type)
        {
            case BootParamType.Flag:
                if (!hasValue) v = 1;
                else if (!Kstrtox.ParseBool(value, out bool b)) return false;
                else v = b ? 1 : 0;
                break;
            case BootParamType.Integer:
                if (!hasValue || !Kstrtox.ParseInteger(value, out v) || v < spec.Min || v > spec.Max) return false;
                break;
            case BootParamType.Enum:
                if (!hasValue)
                {
                    if (spec.BareWord < 0) return false;
                    v = spec.BareWord;
                    break;
                }
                if (!FindWord(spec.Words, value, out int index)) return false;
                v = index;
                break;
            case BootParamType.String:
                if (!hasValue || value.IsEmpty || value.Length > spec.MaxLength || value.Length > KernelParams.StringCapacity)
                    return false;
                values.SetString(p, value);
                return true;
            default:
                return false;
        }
        values.Set(p, v);
        return true;
    }
}
