// BootParams: the table of known boot parameters, their parsed values (KernelParams) and the console
// diagnostics (BootParamsReport), after Linux's __setup()/core_param() and init/main.c's unknown-
// parameter notice. A new parameter is one BootParam member, one Spec arm and one accessor.
using System;

/// <summary>Every parameter the kernel knows; the order is the order of the help listing.</summary>
public enum BootParam
{
    ApicExtnmi,
    UnknownNmiPanic,
    PanicOnUnrecoveredNmi,
    PanicOnIoNmi,
    PanicOnOops,
    CrashKexecPostNotifiers,
    Panic,
    Crashkernel,
    NrCpus,
    Crashtest,
    CrashtestCpu,
    CrashtestDelayMs,
    PoweroffAfterMs,
    PoweroffAtEntry,
    Acpi,
    CpuInitUdelay,
    Selftest,
    NmiReason,
    DumpChannels,
    KexecCorruptTest,
    Count,
}

public enum BootParamType
{
    /// <summary>On when named alone; also =0/1, y/n, yes/no, on/off, true/false.</summary>
    Flag,
    /// <summary>Decimal or 0x hex, optional sign, within [Min, Max].</summary>
    Integer,
    /// <summary>One of the space-separated Words (case-sensitive, as Linux compares them).</summary>
    Enum,
    /// <summary>Copied as given, at most MaxLength bytes; parsed later by whoever needs it.</summary>
    String,
    /// <summary>Linux's memparse(): a number with an optional K, M, G, T, P or E suffix.</summary>
    Size,
}

/// <summary>apic_extnmi=: which CPUs unmask LINT1 for external NMIs (Linux's APIC_EXTNMI_*).</summary>
public enum ApicExtnmiMode
{
    Bsp,
    All,
    None,
}

/// <summary>acpi=: whether the ACPI tables are used (CPUs, power-off, reset).</summary>
public enum AcpiMode
{
    On,
    Off,
}

/// <summary>selftest=: a boot-time self-test a QEMU test asks for.</summary>
public enum SelftestType
{
    None = -1,
    Ipi,
}

/// <summary>nmi_reason=: what the next read of the NMI reason port reports, for tests (QEMU never sets SERR or IOCHK).</summary>
public enum NmiReasonOverride
{
    None = -1,
    Serr,
    Iochk,
}

/// <summary>dump_channels=: where the capture kernel sends the vmcore (Auto: the window when present, else debugcon).</summary>
public enum DumpChannels
{
    Auto = -1,
    Window,
    Debugcon,
    Both,
    None,
}

/// <summary>crashtest=: the crash scenario a test boot asks for; same order as the table's words.</summary>
public enum CrashTestType
{
    None = -1,
    Panic,
    Bug,
    Exception,
    DoubleFault,
    StackOverflow,
    PanicStopIrqoff,
    Hardlockup,
    NmiHang,
    OopsPanicRace,
    DoublePanic,
    NestedNmiPanic,
}

/// <summary>
/// One row of the parameter table. The texts are UTF-8 literals in the kernel image: a ref struct of
/// spans, because a struct holding string references would need GC write barriers the kernel lacks.
/// </summary>
public readonly ref struct BootParamSpec
{
    public readonly ReadOnlySpan<byte> Name;
    public readonly BootParamType Type;
    /// <summary>Default value: 0/1 for a flag, the number, or the index into Words.</summary>
    public readonly long Default;
    /// <summary>True if the parameter has no value until given (shown as UnsetText).</summary>
    public readonly bool DefaultUnset;
    public readonly long Min;
    public readonly long Max;
    /// <summary>Allowed words of an Enum, separated by single spaces; empty otherwise.</summary>
    public readonly ReadOnlySpan<byte> Words;
    /// <summary>Longest value of a String.</summary>
    public readonly int MaxLength;
    /// <summary>How an unset value is shown ("never", "none").</summary>
    public readonly ReadOnlySpan<byte> UnsetText;
    public readonly ReadOnlySpan<byte> Help;

    public BootParamSpec(ReadOnlySpan<byte> name, BootParamType type, long defaultValue, bool defaultUnset,
                         long min, long max, ReadOnlySpan<byte> words, int maxLength,
                         ReadOnlySpan<byte> unsetText, ReadOnlySpan<byte> help)
    {
        Name = name;
        Type = type;
        Default = defaultValue;
        DefaultUnset = defaultUnset;
        Min = min;
        Max = max;
        Words = words;
        MaxLength = maxLength;
        UnsetText = unsetText;
        Help = help;
    }
}

/// <summary>
/// The parsed values. No reference fields, so the kernel can keep it in a static; strings are
/// copied into fixed slots because the command line they came from may not live forever.
/// </summary>
public unsafe struct KernelParams
{
    /// <summary>Bytes a String parameter's slot holds.</summary>
    public const int StringCapacity = 128;
    private const int N = (int)BootParam.Count;

    private fixed long _value[N];        // flag 0/1, number, word index, string length
    private fixed bool _isSet[N];        // false: no value (DefaultUnset and not given)
    private fixed bool _given[N];        // a valid value came from the command line
    private fixed byte _strings[N * StringCapacity];

    /// <summary>Fills in every parameter's default.</summary>
    public void SetDefaults()
    {
        for (int i = 0; i < N; i++)
        {
            BootParamSpec spec = BootParams.Spec((BootParam)i);
            _value[i] = spec.DefaultUnset ? 0 : spec.Default;
            _isSet[i] = !spec.DefaultUnset;
            _given[i] = false;
        }
    }

    public readonly long Value(BootParam p) => (uint)p < N ? _value[(int)p] : 0;
    public readonly bool IsSet(BootParam p) => (uint)p < N && _isSet[(int)p];
    public readonly bool WasGiven(BootParam p) => (uint)p < N && _given[(int)p];

    /// <summary>The value of a String parameter (empty when unset).</summary>
    [System.Diagnostics.CodeAnalysis.UnscopedRef]
    public ReadOnlySpan<byte> StringValue(BootParam p)
    {
        if ((uint)p >= N || !_isSet[(int)p]) return default;
        long length = _value[(int)p];
        if (length < 0 || length > StringCapacity) return default;
        return System.Runtime.InteropServices.MemoryMarshal.CreateReadOnlySpan(ref _strings[(int)p * StringCapacity], (int)length);
    }

    /// <summary>Appends a String parameter's value (nothing when unset).</summary>
    public readonly void AppendString(ref LogLine line, BootParam p)
    {
        if ((uint)p >= N || !_isSet[(int)p]) return;
        long length = _value[(int)p];
        for (int i = 0; i < length && i < StringCapacity; i++) line.AppendChar((char)_strings[(int)p * StringCapacity + i]);
    }

    internal void Set(BootParam p, long value)
    {
        _value[(int)p] = value;
        _isSet[(int)p] = true;
        _given[(int)p] = true;
    }

    internal void SetString(BootParam p, ReadOnlySpan<byte> value)
    {
        int n = value.Length < StringCapacity ? value.Length : StringCapacity;
        for (int i = 0; i < n; i++) _strings[(int)p * StringCapacity + i] = value[i];
        Set(p, n);
    }

    // ---- Accessors: one per parameter ----------------------------------------------------------

    public readonly ApicExtnmiMode ApicExtnmi => (ApicExtnmiMode)Value(BootParam.ApicExtnmi);
    public readonly bool UnknownNmiPanic => Value(BootParam.UnknownNmiPanic) != 0;
    public readonly bool PanicOnUnrecoveredNmi => Value(BootParam.PanicOnUnrecoveredNmi) != 0;
    public readonly bool PanicOnIoNmi => Value(BootParam.PanicOnIoNmi) != 0;
    public readonly bool PanicOnOops => Value(BootParam.PanicOnOops) != 0;
    public readonly bool CrashKexecPostNotifiers => Value(BootParam.CrashKexecPostNotifiers) != 0;
    /// <summary>Seconds before rebooting after a panic: 0 waits forever, negative reboots at once.</summary>
    public readonly int Panic => (int)Value(BootParam.Panic);
    [System.Diagnostics.CodeAnalysis.UnscopedRef]
    public ReadOnlySpan<byte> Crashkernel => StringValue(BootParam.Crashkernel);
    /// <summary>0 means all CPUs.</summary>
    public readonly int NrCpus => (int)Value(BootParam.NrCpus);
    public readonly CrashTestType Crashtest
        => IsSet(BootParam.Crashtest) ? (CrashTestType)Value(BootParam.Crashtest) : CrashTestType.None;
    public readonly int CrashtestCpu => (int)Value(BootParam.CrashtestCpu);
    public readonly int CrashtestDelayMs => (int)Value(BootParam.CrashtestDelayMs);
    /// <summary>Milliseconds after boot to power off, or -1 for never.</summary>
    public readonly long PoweroffAfterMs => IsSet(BootParam.PoweroffAfterMs) ? Value(BootParam.PoweroffAfterMs) : -1;
    public readonly bool PoweroffAtEntry => Value(BootParam.PoweroffAtEntry) != 0;
    public readonly AcpiMode Acpi => (AcpiMode)Value(BootParam.Acpi);
    /// <summary>Microseconds between INIT and the SIPIs; 0 when not given (modern CPUs need none).</summary>
    public readonly long CpuInitUdelay => IsSet(BootParam.CpuInitUdelay) ? Value(BootParam.CpuInitUdelay) : 0;
    public readonly SelftestType Selftest
        => IsSet(BootParam.Selftest) ? (SelftestType)Value(BootParam.Selftest) : SelftestType.None;
    public readonly DumpChannels DumpChannels
        => IsSet(BootParam.DumpChannels) ? (DumpChannels)Value(BootParam.DumpChannels) : DumpChannels.Auto;
    public readonly bool KexecCorruptTest => Value(BootParam.KexecCorruptTest) != 0;
    public readonly NmiReasonOverride NmiReason
        => IsSet(BootParam.NmiReason) ? (NmiReasonOverride)Value(BootParam.NmiReason) : NmiReasonOverride.None;
}

/// <summary>
/// What the parser has to tell the console, kept as data (no callbacks): one line for all unknown
/// names, one line per malformed value (the first <see cref="MaxMalformedLines"/>).
/// </summary>
public unsafe struct BootParamsReport
{
    public const int MaxMalformedLines = 8;
    // Room for the names so that the prefix and the closing ", ignored" always fit in a LogLine.
    private const int UnknownNamesCapacity = LogLine.Capacity - 56;

    /// <summary>Unknown parameters seen (all of them, even those cut from the line).</summary>
    public int UnknownCount;
    /// <summary>Malformed values seen (all of them, even those beyond MaxMalformedLines).</summary>
    public int MalformedCount;
    /// <summary>Offset in the command line of what follows "--", or -1.</summary>
    public int InitArgsOffset;

    private int _unknownLength;
    private bool _unknownCut;
    private fixed byte _unknown[UnknownNamesCapacity];
    private fixed int _malformedLength[MaxMalformedLines];
    private fixed byte _malformed[MaxMalformedLines * LogLine.Capacity];

    /// <summary>Malformed lines kept, at most MaxMalformedLines.</summary>
    public readonly int MalformedLineCount => MalformedCount < MaxMalformedLines ? MalformedCount : MaxMalformedLines;

    /// <summary>Unknown kernel command line parameters "foo bar", ignored (only if UnknownCount > 0).</summary>
    public readonly LogLine UnknownLine()
    {
        LogLine line = new LogLine(0, 0);
        line.Append("Unknown kernel command line parameters \"");
        int n = _unknownLength < UnknownNamesCapacity ? _unknownLength : UnknownNamesCapacity;
        for (int i = 0; i < n; i++) line.AppendChar((char)_unknown[i]);
        line.Append("\", ignored");
        return line;
    }

    /// <summary>The index-th "Malformed boot parameter ..." line (empty if out of range).</summary>
    public readonly LogLine MalformedLine(int index)
    {
        LogLine line = new LogLine(0, 0);
        if (index < 0 || index >= MalformedLineCount) return line;
        int n = _malformedLength[index];
        if (n < 0 || n > LogLine.Capacity) n = 0;
        for (int i = 0; i < n; i++) line.AppendChar((char)_malformed[index * LogLine.Capacity + i]);
        return line;
    }

    /// <summary>Linux lists an unknown parameter as given: the bare name, or name=value.</summary>
    internal void AddUnknown(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value, bool hasValue)
    {
        UnknownCount++;
        if (_unknownCut) return;
        int separator = _unknownLength > 0 ? 1 : 0;
        int length = name.Length + (hasValue ? 1 + value.Length : 0);
        // Keep 4 bytes for " ..." so a cut list still says it was cut.
        if (_unknownLength + separator + length <= UnknownNamesCapacity - 4)
        {
            if (separator != 0) _unknown[_unknownLength++] = (byte)' ';
            for (int i = 0; i < name.Length; i++) _unknown[_unknownLength++] = name[i];
            if (hasValue)
            {
                _unknown[_unknownLength++] = (byte)'=';
                for (int i = 0; i < value.Length; i++) _unknown[_unknownLength++] = value[i];
            }
            return;
        }
        _unknownCut = true;
        if (separator != 0) _unknown[_unknownLength++] = (byte)' ';
        for (int i = 0; i < 3; i++) _unknown[_unknownLength++] = (byte)'.';
    }

    internal void AddMalformed(ReadOnlySpan<byte> line)
    {
        if (MalformedCount < MaxMalformedLines)
        {
            int n = line.Length < LogLine.Capacity ? line.Length : LogLine.Capacity;
            for (int i = 0; i < n; i++) _malformed[MalformedCount * LogLine.Capacity + i] = line[i];
            _malformedLength[MalformedCount] = n;
        }
        MalformedCount++;
    }
}

/// <summary>The parameter table, the parser and the formatters for messages and listings.</summary>
public static class BootParams
{
    private const long IntMin = -2147483648L;
    private const long IntMax = 2147483647L;
    private const long LongMax = 9223372036854775807L;
    /// <summary>A malformed value is shown up to this many bytes, so the line keeps its "expected" part.</summary>
    public const int MaxValueShown = 40;

    // ---- The table -------------------------------------------------------------------------------

    /// <summary>The table row of <paramref name="p"/>. Each arm is one parameter.</summary>
    public static BootParamSpec Spec(BootParam p) => p switch
    {
        BootParam.ApicExtnmi => Choice("apic_extnmi"u8, "bsp all none"u8, 0,
            "Which CPUs take external NMIs (LINT1, QEMU's inject-nmi): the boot CPU, all or none"u8),
        BootParam.UnknownNmiPanic => Flag("unknown_nmi_panic"u8,
            "Panic on an NMI whose reason is unknown"u8),
        BootParam.PanicOnUnrecoveredNmi => Flag("panic_on_unrecovered_nmi"u8,
            "Panic on an NMI reporting a memory parity error (SERR)"u8),
        BootParam.PanicOnIoNmi => Flag("panic_on_io_nmi"u8,
            "Panic on an NMI reporting an I/O channel check (IOCHK)"u8),
        BootParam.PanicOnOops => Flag("panic_on_oops"u8,
            "Turn every oops into a panic"u8),
        BootParam.CrashKexecPostNotifiers => Flag("crash_kexec_post_notifiers"u8,
            "Run the panic notifiers and dump the log before jumping to the capture kernel"u8),
        BootParam.Panic => Integer("panic"u8, 0, IntMin, IntMax,
            "Seconds to wait after a panic before rebooting: 0 waits forever, negative reboots at once"u8),
        BootParam.Crashkernel => Text("crashkernel"u8, KernelParams.StringCapacity, "none"u8,
            "Memory reserved for the capture kernel, as size[@offset], e.g. 64M@256M"u8),
        BootParam.NrCpus => Integer("nr_cpus"u8, 0, 1, 4096,
            "Most CPUs to bring up, the boot CPU included; 0 (the default) means all"u8),
        BootParam.Crashtest => ChoiceUnset("crashtest"u8,
            "PANIC BUG EXCEPTION DOUBLE_FAULT STACK_OVERFLOW PANIC_STOP_IRQOFF HARDLOCKUP NMI_HANG OOPS_PANIC_RACE DOUBLE_PANIC NESTED_NMI_PANIC"u8,
            "none"u8, "Crash scenario to run after boot, for the QEMU tests"u8),
        BootParam.CrashtestCpu => Integer("crashtest_cpu"u8, 0, 0, IntMax,
            "CPU that runs the crash scenario"u8),
        BootParam.CrashtestDelayMs => Integer("crashtest_delay_ms"u8, 0, 0, IntMax,
            "Milliseconds to wait after boot before the crash scenario"u8),
        BootParam.PoweroffAfterMs => IntegerUnset("poweroff_after_ms"u8, 0, IntMax, "never"u8,
            "Power off this many milliseconds after boot (a watchdog for tests)"u8),
        BootParam.PoweroffAtEntry => Flag("poweroff_at_entry"u8,
            "Power off as soon as the kernel is entered (a boot smoke test)"u8),
        BootParam.Acpi => Choice("acpi"u8, "on off"u8, 0,
            "off: ignore the ACPI tables (one CPU, power-off through isa-debug-exit)"u8),
        BootParam.CpuInitUdelay => IntegerUnset("cpu_init_udelay"u8, 0, 10_000_000, "0 (modern CPUs)"u8,
            "Microseconds to wait after INIT before the SIPIs; 10000 restores the MP spec's delay"u8),
        BootParam.Selftest => ChoiceUnset("selftest"u8, "ipi"u8, "none"u8,
            "Boot-time self-test: ipi sends a fixed and an NMI IPI from CPU 0 to every other CPU"u8),
        BootParam.DumpChannels => ChoiceUnset("dump_channels"u8, "window debugcon both none"u8, "window if present, else debugcon"u8,
            "Capture kernel: where the vmcore goes (ivshmem window, debugcon port 0xe9, both, or none: report only)"u8),
        BootParam.KexecCorruptTest => Flag("kexec_corrupt_test"u8,
            "Flip one byte of the loaded capture image after its digest was taken (tests the check)"u8),
        BootParam.NmiReason => ChoiceUnset("nmi_reason"u8, "serr iochk"u8, "none"u8,
            "Make the next NMI reason read report SERR or IOCHK, once, on the first CPU to read it (tests)"u8),
        _ => Row(default, BootParamType.Flag, 0, false, 0, 0, default, 0, default, default),
    };

    private static BootParamSpec Row(ReadOnlySpan<byte> name, BootParamType type, long def, bool unset, long min, long max,
                                     ReadOnlySpan<byte> words, int maxLength, ReadOnlySpan<byte> unsetText, ReadOnlySpan<byte> help)
        => new BootParamSpec(name, type, def, unset, min, max, words, maxLength, unsetText, help);

    private static BootParamSpec Flag(ReadOnlySpan<byte> name, ReadOnlySpan<byte> help)
        => Row(name, BootParamType.Flag, 0, false, 0, 1, default, 0, default, help);

    private static BootParamSpec Integer(ReadOnlySpan<byte> name, long def, long min, long max, ReadOnlySpan<byte> help)
        => Row(name, BootParamType.Integer, def, false, min, max, default, 0, default, help);

    private static BootParamSpec IntegerUnset(ReadOnlySpan<byte> name, long min, long max, ReadOnlySpan<byte> unsetText,
                                              ReadOnlySpan<byte> help)
        => Row(name, BootParamType.Integer, 0, true, min, max, default, 0, unsetText, help);

    private static BootParamSpec Choice(ReadOnlySpan<byte> name, ReadOnlySpan<byte> words, int def, ReadOnlySpan<byte> help)
        => Row(name, BootParamType.Enum, def, false, 0, 0, words, 0, default, help);

    private static BootParamSpec ChoiceUnset(ReadOnlySpan<byte> name, ReadOnlySpan<byte> words, ReadOnlySpan<byte> unsetText,
                                             ReadOnlySpan<byte> help)
        => Row(name, BootParamType.Enum, 0, true, 0, 0, words, 0, unsetText, help);

    private static BootParamSpec Text(ReadOnlySpan<byte> name, int maxLength, ReadOnlySpan<byte> unsetText, ReadOnlySpan<byte> help)
        => Row(name, BootParamType.String, 0, true, 0, 0, default, maxLength, unsetText, help);

    /// <summary>Finds a parameter by the name as given (dashes and underscores alike).</summary>
    public static bool Find(ReadOnlySpan<byte> name, out BootParam p)
    {
        for (int i = 0; i < (int)BootParam.Count; i++)
        {
            if (CommandLine.NameEquals(name, Spec((BootParam)i).Name))
            {
                p = (BootParam)i;
                return true;
            }
        }
        p = BootParam.Count;
        return false;
    }

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
                else if (!ParseBool(value, out bool b)) return false;
                else v = b ? 1 : 0;
                break;
            case BootParamType.Integer:
                if (!hasValue || !ParseInteger(value, out v) || v < spec.Min || v > spec.Max) return false;
                break;
            case BootParamType.Size:
                if (!hasValue || !ParseSize(value, out v) || v < spec.Min || v > spec.Max) return false;
                break;
            case BootParamType.Enum:
                if (!hasValue || !FindWord(spec.Words, value, out int index)) return false;
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

    /// <summary>kstrtobool()'s words, whole and case-insensitive: 1 y yes on true / 0 n no off false.</summary>
    public static bool ParseBool(ReadOnlySpan<byte> s, out bool value)
    {
        value = false;
        if (Is(s, "1") || Is(s, "y") || Is(s, "yes") || Is(s, "on") || Is(s, "true")) { value = true; return true; }
        return Is(s, "0") || Is(s, "n") || Is(s, "no") || Is(s, "off") || Is(s, "false");
    }

    /// <summary>
    /// kstrtoll(): optional sign, then decimal or 0x hex digits and nothing else. Unlike Linux a
    /// leading 0 does not mean octal: "010" is ten, which is what a person typing it means.
    /// </summary>
    public static bool ParseInteger(ReadOnlySpan<byte> s, out long value)
    {
        value = 0;
        int i = 0;
        bool negative = false;
        if (i < s.Length && (s[i] == (byte)'+' || s[i] == (byte)'-'))
        {
            negative = s[i] == (byte)'-';
            i++;
        }
        if (!ParseDigits(s, ref i, negative ? 0x8000000000000000UL : (ulong)LongMax, out ulong magnitude)) return false;
        if (i != s.Length) return false;
        value = negative ? (long)(0UL - magnitude) : (long)magnitude;
        return true;
    }

    /// <summary>memparse(): a non-negative number with an optional K/M/G/T/P/E suffix (powers of 1024).</summary>
    public static bool ParseSize(ReadOnlySpan<byte> s, out long value)
    {
        value = 0;
        int i = 0;
        if (!ParseDigits(s, ref i, (ulong)LongMax, out ulong magnitude)) return false;
        int shift = 0;
        if (i < s.Length)
        {
            byte c = (byte)(s[i] | 0x20);
            shift = c == (byte)'k' ? 10 : c == (byte)'m' ? 20 : c == (byte)'g' ? 30
                  : c == (byte)'t' ? 40 : c == (byte)'p' ? 50 : c == (byte)'e' ? 60 : -1;
            if (shift < 0) return false;
            i++;
        }
        if (i != s.Length) return false;
        if (magnitude > ((ulong)LongMax >> shift)) return false;
        value = (long)(magnitude << shift);
        return true;
    }

    // Digits at s[i..]: "0x" then hex, or decimal. At least one digit; overflow past limit fails.
    private static bool ParseDigits(ReadOnlySpan<byte> s, ref int i, ulong limit, out ulong magnitude)
    {
        magnitude = 0;
        uint radix = 10;
        if (i + 1 < s.Length && s[i] == (byte)'0' && (s[i + 1] | 0x20) == (byte)'x')
        {
            radix = 16;
            i += 2;
        }
        int first = i;
        while (i < s.Length)
        {
            int d = DigitValue(s[i]);
            if (d < 0 || d >= (int)radix) break;
            if (magnitude > (limit - (ulong)d) / radix) return false;
            magnitude = magnitude * radix + (ulong)d;
            i++;
        }
        return i > first;
    }

    private static int DigitValue(byte c)
    {
        if (c >= (byte)'0' && c <= (byte)'9') return c - '0';
        int lower = c | 0x20;
        if (lower >= 'a' && lower <= 'f') return lower - 'a' + 10;
        return -1;
    }

    private static bool Is(ReadOnlySpan<byte> s, string word)
    {
        if (s.Length != word.Length) return false;
        for (int i = 0; i < s.Length; i++)
        {
            int c = s[i] >= (byte)'A' && s[i] <= (byte)'Z' ? s[i] | 0x20 : s[i];
            if (c != word[i]) return false;
        }
        return true;
    }

    // ---- Word lists ("bsp all none") -----------------------------------------------------------

    /// <summary>Number of words in a space-separated list.</summary>
    public static int WordCount(ReadOnlySpan<byte> words)
    {
        int n = 0;
        for (int i = 0; i < words.Length; i++)
            if (words[i] != (byte)' ' && (i == 0 || words[i - 1] == (byte)' ')) n++;
        return n;
    }

    /// <summary>The index-th word of a space-separated list (empty if there is none).</summary>
    public static ReadOnlySpan<byte> Word(ReadOnlySpan<byte> words, int index)
    {
        int n = 0;
        for (int i = 0; i < words.Length; i++)
        {
            if (words[i] == (byte)' ' || (i > 0 && words[i - 1] != (byte)' ')) continue;
            int end = i;
            while (end < words.Length && words[end] != (byte)' ') end++;
            if (n == index) return words.Slice(i, end - i);
            n++;
        }
        return default;
    }

    private static bool FindWord(ReadOnlySpan<byte> words, ReadOnlySpan<byte> value, out int index)
    {
        int count = WordCount(words);
        for (index = 0; index < count; index++)
            if (SameBytes(Word(words, index), value)) return true;
        index = -1;
        return false;
    }

    private static bool SameBytes(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b)
    {
        if (a.Length != b.Length) return false;
        for (int i = 0; i < a.Length; i++)
            if (a[i] != b[i]) return false;
        return true;
    }

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
        AppendExpected(ref line, p);
        line.Append("; using ");
        AppendCurrent(ref line, in values, p);
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
            case BootParamType.Size:
                line.Append("a size such as 64M");
                AppendRange(ref line, spec, 0, LongMax);
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
            case BootParamType.Size:
                bool hasMin = spec.Min > (spec.Type == BootParamType.Size ? 0 : IntMin);
                bool hasMax = spec.Max < (spec.Type == BootParamType.Size ? LongMax : IntMax);
                line.Append(spec.Type == BootParamType.Size ? "=<size" : "=<integer");
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
                int count = WordCount(spec.Words);
                line.AppendChar('=');
                for (int i = 0; i < count; i++)
                {
                    if (i > 0) line.AppendChar('|');
                    line.Append(Word(spec.Words, i));
                }
                break;
            case BootParamType.String:
                line.Append("=<string>");
                break;
        }
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
