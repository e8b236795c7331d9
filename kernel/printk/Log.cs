// printk: every line goes into the kmsg ring (sequence number, timestamp, level) and, when it is
// more urgent than the console log level (loglevel=, Linux's console_loglevel, default 7), to the
// console, prefixed Linux-style "[    0.001234] ". The level is kept in the record, never printed.
// One lock covers both so lines never interleave; it is bounded (SpinLock) because a CPU stopped
// by the crash NMI may hold it forever.
using System;

static unsafe class Log
{
    public const int RingBytes = 256 * 1024;
    // How long a CPU waits for the console lock before giving up on it (a busy holder prints a
    // line in well under a millisecond; one stopped by the crash NMI never lets go).
    const ulong LockBoundUs = 50_000;
    /// <summary>Linux's default console_loglevel: everything but KERN_DEBUG.</summary>
    public const int DefaultConsoleLevel = 7;
    /// <summary>console_verbose(): every level reaches the console.</summary>
    const int VerboseConsoleLevel = 15;

    // The compiler aligns statics to their field types only: keep 8 spare bytes and align by hand.
    struct RingStorage { public fixed byte Bytes[RingBytes + 8]; }

    static SpinLock s_lock;
    static RingStorage s_ring;   // the kmsg area: its header, then the records (printk/Kmsg.cs)
    static bool s_ready;
    // loglevel + 1, 0 until Params sets it: a static with an initialiser would make the compiler
    // keep every static of this class (the 256 KiB ring too) as initialised data in the image.
    static int s_consoleLevelPlusOne;

    static int ConsoleLevel => s_consoleLevelPlusOne == 0 ? DefaultConsoleLevel : s_consoleLevelPlusOne - 1;

    /// <summary>The log area's address, for VMCOREINFO and the dump readers.</summary>
    public static byte* Area { get { fixed (byte* p = s_ring.Bytes) return (byte*)(((ulong)p + 7) & ~7UL); } }

    static Span<byte> AreaSpan => new Span<byte>(Area, RingBytes);

    public static ulong RecordCount => s_ready ? Kmsg.Count(AreaSpan) : 0;

    public static void Init()
    {
        s_ready = Kmsg.Init(AreaSpan);
        if (!s_ready) Warn("printk: the kmsg ring could not be set up; the console alone keeps the log");
    }

    /// <summary>loglevel=: records with a level below it reach the console.</summary>
    public static void SetConsoleLevel(int level) => s_consoleLevelPlusOne = level + 1;

    /// <summary>console_verbose(): a panic or an oops shows everything from now on.</summary>
    public static void ConsoleVerbose() => s_consoleLevelPlusOne = VerboseConsoleLevel + 1;

    public static void Emerg(ref LogLine line) => Printk(KernLevel.Emerg, ref line);
    public static void Crit(ref LogLine line) => Printk(KernLevel.Crit, ref line);
    public static void Err(ref LogLine line) => Printk(KernLevel.Err, ref line);
    public static void Warn(ref LogLine line) => Printk(KernLevel.Warning, ref line);
    public static void Notice(ref LogLine line) => Printk(KernLevel.Notice, ref line);
    public static void Info(ref LogLine line) => Printk(KernLevel.Info, ref line);
    public static void Debug(ref LogLine line) => Printk(KernLevel.Debug, ref line);

    public static void Emerg(string text) => PrintkText(KernLevel.Emerg, text);
    public static void Err(string text) => PrintkText(KernLevel.Err, text);
    public static void Warn(string text) => PrintkText(KernLevel.Warning, text);
    public static void Notice(string text) => PrintkText(KernLevel.Notice, text);
    public static void Info(string text) => PrintkText(KernLevel.Info, text);
    public static void Debug(string text) => PrintkText(KernLevel.Debug, text);

    static void PrintkText(KernLevel level, string text)
    {
        LogLine l = default;
        l.Append(text);
        Printk(level, ref l);
    }

    /// <summary>
    /// printk_deferred: into the kmsg ring only, no console output now. For lines on the crash path
    /// that the capture kernel prints from the dump anyway: every console byte there is a port write
    /// QEMU turns into a host write, and the time from the panic to the capture kernel counts.
    /// </summary>
    public static void Deferred(KernLevel level, ref LogLine line) => Printk(level, ref line, console: false);

    public static void Printk(KernLevel level, ref LogLine line) => Printk(level, ref line, console: true);

    static void Printk(KernLevel level, ref LogLine line, bool console)
    {
        ulong ts = Clock.NowNs;
        int cpu = PerCpuArea.ThisCpu;
        LockResult result = s_lock.Acquire(cpu, Clock.DeadlineAfterUs(LockBoundUs));
        if (result == LockResult.TimedOut && Panic.PanicCpu == cpu)
        {
            // The holder was stopped by the shootdown (or hangs): it will never release the lock.
            // Take it, so every later line of the panic does not wait the whole bound again.
            s_lock.Break(cpu);
            result = LockResult.Acquired;
        }
        bool locked = result == LockResult.Acquired;
        // A CPU that re-entered (an NMI inside Printk) must not append over the record its own
        // interrupted call was writing: that line goes to the console only.
        if (s_ready && result != LockResult.Reentered) Kmsg.Append(AreaSpan, ts, line.AsSpan(), level);
        if (console && (int)level < ConsoleLevel)
        {
            LogLine prefix = default;
            Kmsg.AppendPrefix(ref prefix, ts);
            Serial.Write(prefix.AsSpan());
            Serial.Write(line.AsSpan());
            Serial.Write((byte)'\r');
            Serial.Write((byte)'\n');
        }
        if (locked) s_lock.Release(cpu);
    }
}
