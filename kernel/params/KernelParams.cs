// KernelParams: the parsed values of the boot parameters (BootParamTable.cs), kept by the kernel for
// the whole run (Params.cs) and by the host tests. No reference fields, so the
// kernel can keep it in a static; strings are copied into fixed slots because the command line they
// came from may not live forever.
using System;

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

    // ---- Accessors --------------------------------------------------------------------------------
    // Enum parameters are read with Choice() by their consumer, beside the enum that names the
    // words (ApicExtnmiMode in ApicRegisters.cs, CrashTestType in debug/CrashtestScenario.cs, ...).

    /// <summary>An Enum parameter's word index, or -1 while it has no value (DefaultUnset and not given).</summary>
    public readonly int Choice(BootParam p) => IsSet(p) ? (int)Value(p) : -1;

    public readonly bool UnknownNmiPanic => Value(BootParam.UnknownNmiPanic) != 0;
    public readonly bool PanicOnUnrecoveredNmi => Value(BootParam.PanicOnUnrecoveredNmi) != 0;
    public readonly bool PanicOnIoNmi => Value(BootParam.PanicOnIoNmi) != 0;
    public readonly bool UnknownNmiOneCpu => Value(BootParam.UnknownNmiOneCpu) != 0;
    public readonly bool PanicOnOops => Value(BootParam.PanicOnOops) != 0;
    public readonly bool CrashKexecPostNotifiers => Value(BootParam.CrashKexecPostNotifiers) != 0;
    /// <summary>The CPU that owns the crash channel, or -1 for no channel.</summary>
    public readonly int CrashChannel => IsSet(BootParam.CrashChannel) ? (int)Value(BootParam.CrashChannel) : -1;
    /// <summary>Seconds before rebooting after a panic: 0 waits forever, negative reboots at once.</summary>
    public readonly int Panic => (int)Value(BootParam.Panic);
    [System.Diagnostics.CodeAnalysis.UnscopedRef]
    public ReadOnlySpan<byte> Crashkernel => StringValue(BootParam.Crashkernel);
    /// <summary>0 means all CPUs.</summary>
    public readonly int NrCpus => (int)Value(BootParam.NrCpus);
    public readonly int CrashtestCpu => (int)Value(BootParam.CrashtestCpu);
    public readonly int CrashtestDelayMs => (int)Value(BootParam.CrashtestDelayMs);
    /// <summary>Milliseconds after boot to power off, or -1 for never.</summary>
    public readonly long PoweroffAfterMs => IsSet(BootParam.PoweroffAfterMs) ? Value(BootParam.PoweroffAfterMs) : -1;
    public readonly bool PoweroffAtEntry => Value(BootParam.PoweroffAtEntry) != 0;
    /// <summary>Microseconds between INIT and the SIPIs; 0 when not given (modern CPUs need none).</summary>
    public readonly long CpuInitUdelay => IsSet(BootParam.CpuInitUdelay) ? Value(BootParam.CpuInitUdelay) : 0;
    /// <summary>makedumpfile's dump_level mask (capture kernel): DumpFilter.ZeroPages | DumpFilter.FreePages by default.</summary>
    public readonly int DumpLevel => (int)Value(BootParam.DumpLevel);
    public readonly bool CaptureNmiTest => Value(BootParam.CaptureNmiTest) != 0;
    /// <summary>Console log level: records with a level below it reach the console (Linux's console_loglevel).</summary>
    public readonly int Loglevel => (int)Value(BootParam.Loglevel);
    /// <summary>Seconds of BMC watchdog armed before the kexec jump; 0: none.</summary>
    public readonly int CrashWatchdog => (int)Value(BootParam.CrashWatchdog);
}
