// BootParamTable: every boot parameter the kernel knows, with its type, default, range and help, after
// Linux's __setup()/core_param() tables. `./build.sh params` prints it (the build driver compiles this
// folder). Each parameter's meaning lives with its consumer; enums for its words live there too.
// A new parameter is one BootParam member and one Spec arm.
using System;

/// <summary>Every parameter the kernel knows; the order is the order of the help listing.</summary>
public enum BootParam
{
    ApicExtnmi,
    UnknownNmiPanic,
    PanicOnUnrecoveredNmi,
    PanicOnIoNmi,
    UnknownNmiOneCpu,
    PanicOnOops,
    CrashKexecPostNotifiers,
    CrashChannel,
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
    DumpLevel,
    CaptureNmiTest,
    KexecCorruptTest,
    Loglevel,
    CrashWatchdog,
    CaptureTest,
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
    /// <summary>For an Enum that may be named alone: the word it then means; -1 when a value is required.</summary>
    public readonly int BareWord;
    /// <summary>How an unset value is shown ("never", "none").</summary>
    public readonly ReadOnlySpan<byte> UnsetText;
    public readonly ReadOnlySpan<byte> Help;

    public BootParamSpec(ReadOnlySpan<byte> name, BootParamType type, long defaultValue, bool defaultUnset,
                         long min, long max, ReadOnlySpan<byte> words, int maxLength,
                         ReadOnlySpan<byte> unsetText, ReadOnlySpan<byte> help, int bareWord = -1)
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
        BareWord = bareWord;
    }
}

/// <summary>The parameter table and the word lists of its Enum rows.</summary>
public static partial class BootParams
{
    internal const long IntMin = -2147483648L;
    internal const long IntMax = 2147483647L;

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
        BootParam.UnknownNmiOneCpu => Flag("unknown_nmi_one_cpu"u8,
            "With unknown_nmi_panic, only the first CPU's unknown NMI panics; the others return (Hyper-V's hv_nmi_unknown)"u8),
        BootParam.PanicOnOops => Flag("panic_on_oops"u8,
            "Turn every oops into a panic"u8),
        BootParam.CrashKexecPostNotifiers => Flag("crash_kexec_post_notifiers"u8,
            "Run the panic notifiers and dump the log before jumping to the capture kernel"u8),
        BootParam.CrashChannel => IntegerUnset("crash_channel"u8, 0, IntMax, "none"u8,
            "CPU owning a modelled VMBus channel whose unload handshake the crash shutdown completes"u8),
        BootParam.Panic => Integer("panic"u8, 0, IntMin, IntMax,
            "Seconds to wait after a panic before rebooting: 0 waits forever, negative reboots at once"u8),
        BootParam.Crashkernel => Text("crashkernel"u8, KernelParams.StringCapacity, "none"u8,
            "Memory reserved for the capture kernel, as size[@offset], e.g. 64M@256M"u8),
        BootParam.NrCpus => Integer("nr_cpus"u8, 0, 1, 4096,
            "Most CPUs to bring up, the boot CPU included; 0 (the default) means all"u8),
        BootParam.Crashtest => ChoiceUnset("crashtest"u8,
            "PANIC BUG EXCEPTION DOUBLE_FAULT STACK_OVERFLOW PANIC_STOP_IRQOFF HARDLOCKUP NMI_HANG OOPS_PANIC_RACE DOUBLE_PANIC NESTED_NMI_PANIC UNKNOWN_NMI_BROADCAST REASON_LOCK_PANIC RUNAWAY_WRITER PRINTK_STORM NMI_OOPS_RACE NOTIFIER_OOPS PANIC_DOUBLE_FAULT WRITE_CRASHKERNEL"u8,
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
        BootParam.Selftest => ChoiceUnset("selftest"u8, "ipi highmem"u8, "none"u8,
            "Boot-time self-test: ipi sends IPIs and NMI IPIs to every CPU; highmem owns and writes a page above 4 GiB"u8),
        BootParam.DumpChannels => ChoiceUnset("dump_channels"u8, "window debugcon both none serial"u8, "window if present, else debugcon"u8,
            "Capture kernel: where the vmcore goes (ivshmem window, debugcon 0xe9, both, none: report only, serial: COM2)"u8),
        BootParam.DumpLevel => Integer("dump_level"u8, 31, 0, 31,
            "Capture kernel: makedumpfile's -d mask; 1: zero pages as holes, 16: free pages out, 0: full dump"u8),
        BootParam.CaptureNmiTest => Flag("capture_nmi_test"u8,
            "Capture kernel (on its module line): unmask LINT1 and wait, mid-export, for two injected NMIs"u8),
        BootParam.KexecCorruptTest => ChoiceBare("kexec_corrupt_test"u8, "image handover pagetable elfcorehdr"u8, 0, "none"u8,
            "After the digests: flip a byte of the image (the bare form), hand-over code or page tables, or zero e_phnum"u8),
        BootParam.NmiReason => ChoiceUnset("nmi_reason"u8, "serr iochk"u8, "none"u8,
            "Make the next NMI reason read report SERR or IOCHK, once, on the first CPU to read it (tests)"u8),
        BootParam.CrashWatchdog => Integer("crash_watchdog"u8, 0, 0, 6553,
            "Seconds of the BMC watchdog armed before the jump to the capture kernel, which pets it; 0: none"u8),
        BootParam.CaptureTest => ChoiceUnset("capture_test"u8, "FAIL HANG"u8, "none"u8,
            "Capture kernel (on its module line): fail at once, or hang with interrupts off (tests)"u8),
        BootParam.Loglevel => Integer("loglevel"u8, 7, 0, 8,
            "Console log level: records more urgent than N (KERN_EMERG 0 .. KERN_DEBUG 7) reach the console; the log keeps all"u8),
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

    private static BootParamSpec ChoiceBare(ReadOnlySpan<byte> name, ReadOnlySpan<byte> words, int bareWord, ReadOnlySpan<byte> unsetText,
                                            ReadOnlySpan<byte> help)
        => new BootParamSpec(name, BootParamType.Enum, 0, true, 0, 0, words, 0, unsetText, help, bareWord);

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
            if (Bytes.Equal(Word(words, index), value)) return true;
        index = -1;
        return false;
    }
}
