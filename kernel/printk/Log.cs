// printk: every line goes into the kmsg ring (sequence number, timestamp, level, CPU) with no lock,
// from any context, and, when it is more urgent than the console log level (loglevel=, Linux's
// console_loglevel, default 7), to the console (COM1, mirrored on a VGA text screen when there is
// one), prefixed Linux-style "[    0.001234] ". Only the
// console has a lock (lines must not interleave): bounded by time, and broken by the panicking CPU.
// Once a CPU owns panic_cpu, other CPUs' lines are dropped and counted, as Linux 6.x does.
using System;
using System.Threading;

static unsafe class Log
{
    /// <summary>The record area of the kmsg ring (a power of two); the ring's header comes before it.</summary>
    public const int RingBytes = 256 * 1024;
    public const int AreaBytes = Kmsg.HeaderSize + RingBytes;
    // How long a CPU waits for the console lock before giving up on it (a busy holder prints a
    // line in well under a millisecond; one stopped by the crash NMI never lets go).
    const ulong LockBoundUs = 50_000;
    // How long the panicking CPU waits for an unfinished record at the ring's tail to be finished
    // (a writer descheduled by the host for a moment), once; after that it gives up waiting.
    const ulong PanicRingWaitUs = 500_000;
    /// <summary>Linux's default console_loglevel: everything but KERN_DEBUG.</summary>
    public const int DefaultConsoleLevel = 7;
    /// <summary>console_verbose(): every level reaches the console.</summary>
    const int VerboseConsoleLevel = 15;

    // The compiler aligns statics to their field types only: keep 8 spare bytes and align by hand.
    struct RingStorage { public fixed byte Bytes[AreaBytes + 8]; }

    // Bytes of a console line written between two looks at whether another CPU began to panic.
    const int ConsoleChunk = 16;

    static SpinLock s_console;
    static ulong s_consolePos;   // Seq << 24 | Unit of the next record the console prints (Kmsg positions)
    static RingStorage s_ring;   // the kmsg area: its header, then the records (printk/Kmsg.cs)
    static bool s_ready;
    // loglevel + 1, 0 until Params sets it: a static with an initialiser would make the compiler
    // keep every static of this class (the 256 KiB ring too) as initialised data in the image.
    static int s_consoleLevelPlusOne;
    static long s_droppedInPanic, s_droppedReported;
    static int s_panicStopWaiting;
    // Whether the console lock's holder took it as the panicking CPU (written by the holder only).
    static bool s_flushByPanicCpu;

    static int ConsoleLevel => s_consoleLevelPlusOne == 0 ? DefaultConsoleLevel : s_consoleLevelPlusOne - 1;

    /// <summary>The log area's address, for VMCOREINFO and the dump readers.</summary>
    public static byte* Area { get { fixed (byte* p = s_ring.Bytes) return (byte*)(((ulong)p + 7) & ~7UL); } }

    static Span<byte> AreaSpan => new Span<byte>(Area, AreaBytes);

    /// <summary>Records in the ring (a finished walk is not needed: the panic notifier reports this).</summary>
    public static ulong RecordCount => s_ready ? Kmsg.Pending(AreaSpan) : 0;

    /// <summary>The sequence number the next line will get: lines from here on are "what follows".</summary>
    public static ulong NextSeq => s_ready ? Kmsg.NextSeq(AreaSpan) : Kmsg.NoSeq;

    public static void Init()
    {
        s_ready = Kmsg.Init(AreaSpan);
        if (!s_ready) Warn("printk: the kmsg ring could not be set up; the console alone keeps the log");
    }

    /// <summary>loglevel=: records with a level below it reach the console.</summary>
    public static void SetConsoleLevel(int level) => s_consoleLevelPlusOne = level + 1;

    /// <summary>console_verbose(): a panic or an oops shows everything from now on.</summary>
    public static void ConsoleVerbose() => s_consoleLevelPlusOne = VerboseConsoleLevel + 1;

    public static ulong Emerg(ref LogLine line) => Printk(KernLevel.Emerg, ref line);
    public static ulong Crit(ref LogLine line) => Printk(KernLevel.Crit, ref line);
    public static ulong Err(ref LogLine line) => Printk(KernLevel.Err, ref line);
    public static ulong Warn(ref LogLine line) => Printk(KernLevel.Warning, ref line);
    public static ulong Notice(ref LogLine line) => Printk(KernLevel.Notice, ref line);
    public static ulong Info(ref LogLine line) => Printk(KernLevel.Info, ref line);
    public static ulong Debug(ref LogLine line) => Printk(KernLevel.Debug, ref line);

    public static ulong Emerg(string text) => PrintkText(KernLevel.Emerg, text);
    public static ulong Err(string text) => PrintkText(KernLevel.Err, text);
    public static ulong Warn(string text) => PrintkText(KernLevel.Warning, text);
    public static ulong Notice(string text) => PrintkText(KernLevel.Notice, text);
    public static ulong Info(string text) => PrintkText(KernLevel.Info, text);
    public static ulong Debug(string text) => PrintkText(KernLevel.Debug, text);

    static ulong PrintkText(KernLevel level, string text)
    {
        LogLine l = default;
        l.Append(text);
        return Printk(level, ref l);
    }

    /// <summary>printk(): stores the line and prints it; returns its sequence number (NoSeq when it was not stored).</summary>
    public static ulong Printk(KernLevel level, ref LogLine line) => Printk(level, ref line, console: true);

    /// <summary>
    /// printk_deferred: into the kmsg ring now, to the console only with a later line's flush. For
    /// lines on the crash path that the capture kernel prints from the dump anyway: every console
    /// byte there is a port write QEMU turns into a host write, and the time to the capture kernel counts.
    /// </summary>
    public static ulong Deferred(KernLevel level, ref LogLine line) => Printk(level, ref line, console: false);

    /// <summary>printk() into the ring, and onto the console only if <paramref name="console"/> (else as <see cref="Deferred"/>).</summary>
    public static ulong Printk(KernLevel level, ref LogLine line, bool console)
    {
        ulong ts = Clock.NowNs;
        int cpu = PerCpuArea.ThisCpu;
        int panicCpu = Panic.PanicCpu;
        if (panicCpu >= 0 && panicCpu != cpu)
        {
            // Another CPU panics: its lines are the ones that matter, and this one may be about to
            // be stopped half-way through anything (Linux 6.x drops these too).
            Interlocked.Increment(ref s_droppedInPanic);
            return Kmsg.NoSeq;
        }
        ulong seq = s_ready ? Store(level, line.AsSpan(), ts, cpu, panicCpu == cpu) : Kmsg.NoSeq;
        if (console && ((int)level < ConsoleLevel || seq != Kmsg.NoSeq)) Console(line.AsSpan(), ts, cpu, seq, level);
        return seq;
    }

    /// <summary>
    /// The kexec jump's line: into the ring, and onto the console by itself, ahead of the deferred
    /// lines still waiting there. After the jump this kernel prints nothing more, so they would never
    /// be flushed; the capture kernel prints them from the dump.
    /// </summary>
    public static ulong LastBeforeJump(KernLevel level, ref LogLine line)
    {
        ulong ts = Clock.NowNs;
        int cpu = PerCpuArea.ThisCpu;
        ulong seq = s_ready ? Store(level, line.AsSpan(), ts, cpu, Panic.PanicCpu == cpu) : Kmsg.NoSeq;
        if (!OtherCpuPanics(cpu)) PrintUnstored(line.AsSpan(), ts, cpu, level);
        return seq;
    }

    /// <summary>Lines other CPUs lost since the panic began.</summary>
    public static long DroppedInPanic => Volatile.Read(ref s_droppedInPanic);

    /// <summary>Logs how many lines other CPUs lost since the panic began (once per new batch).</summary>
    public static void ReportDroppedInPanic(bool console = true)
    {
        long n = Volatile.Read(ref s_droppedInPanic) - s_droppedReported;
        if (n <= 0) return;
        s_droppedReported += n;
        LogLine l = $"printk: {n} messages from other CPUs dropped during the panic";
        Printk(KernLevel.Emerg, ref l, console);
    }

    static ulong Store(KernLevel level, ReadOnlySpan<byte> text, ulong ts, int cpu, bool panicking)
    {
        KmsgReserveStatus status = Kmsg.Reserve(AreaSpan, text.Length, ts, level, cpu, false, out KmsgReservation r);
        if (status == KmsgReserveStatus.Busy && panicking && Volatile.Read(ref s_panicStopWaiting) == 0)
        {
            // The ring is full up to a record another CPU has not finished. Give it a moment; once
            // the shootdown is out, that writer is stopped for good and its record may be passed.
            ulong deadline = Clock.DeadlineAfterUs(PanicRingWaitUs);
            while (status == KmsgReserveStatus.Busy && !Clock.Passed(deadline))
            {
                Clock.CpuRelax();
                status = Kmsg.Reserve(AreaSpan, text.Length, ts, level, cpu, CrashShutdown.IpiIssued, out r);
            }
            if (status == KmsgReserveStatus.Busy) Volatile.Write(ref s_panicStopWaiting, 1);
        }
        if (status == KmsgReserveStatus.Busy) Kmsg.CountLost(AreaSpan);
        if (status != KmsgReserveStatus.Reserved) return Kmsg.NoSeq;
        Kmsg.Commit(AreaSpan, in r, text);
        return r.Seq;
    }

    // The console prints the ring in order, as Linux's console_unlock() does: whoever holds the
    // console lock prints every committed record from s_consolePos on, and a CPU that finds the
    // lock taken leaves its line to the holder instead of printing over it. Only the panicking CPU
    // waits for the lock (bounded) and then breaks it: the holder is stopped, or abandoning its
    // line because another CPU panics (Linux 6.x's non-panic CPUs give the console up too).
    static void Console(ReadOnlySpan<byte> text, ulong ts, int cpu, ulong seq, KernLevel level)
    {
        if (OtherCpuPanics(cpu)) return;
        if (seq == Kmsg.NoSeq)
        {
            PrintUnstored(text, ts, cpu, level);
            return;
        }
        while (true)
        {
            LockResult result = TakeConsole(cpu);
            if (result == LockResult.Reentered)
            {
                // An NMI (or fault) inside this CPU's own console output: the interrupted flush
                // prints this line after its own, so lines never interleave. Unless this CPU began
                // to panic inside it: then the interrupted flush never resumes, and the panic must
                // be seen. A flush the panic itself was doing does resume (an NMI the panicking CPU
                // survives returns to it): printing here would cut its line in two (torture 1:119).
                if (Panic.PanicCpu != cpu || s_flushByPanicCpu) return;
                FlushConsole(cpu);
                return;
            }
            if (result != LockResult.Acquired) return;     // the holder prints it
            s_flushByPanicCpu = Panic.PanicCpu == cpu;
            FlushConsole(cpu);
            s_flushByPanicCpu = false;
            s_console.Release(cpu);
            // A line committed while this CPU printed, by a CPU that then found the lock taken, has
            // only this CPU to print it. Release is a locked instruction: this look cannot move above it.
            if (OtherCpuPanics(cpu) || !CommittedLineWaiting(cpu)) return;
        }
    }

    static bool OtherCpuPanics(int cpu)
    {
        int panicCpu = Panic.PanicCpu;
        return panicCpu >= 0 && panicCpu != cpu;
    }

    static LockResult TakeConsole(int cpu)
    {
        if (Panic.PanicCpu != cpu) return s_console.Acquire(cpu, 0);      // a trylock: the holder prints our line
        LockResult result = s_console.Acquire(cpu, Clock.DeadlineAfterUs(LockBoundUs));
        if (result == LockResult.TimedOut)
        {
            // The holder was stopped by the shootdown (or hangs): it will never release the lock.
            // Take it, so every later line of the panic does not wait the whole bound again.
            s_console.Break(cpu);
            result = LockResult.Acquired;
        }
        return result;
    }

    // Prints the committed records from s_consolePos on, stopping at one still being written (its
    // writer prints it once it is committed), except on the panicking CPU: that writer, once it
    // commits, finds another CPU panicking and prints nothing, so a panic flush that stopped there
    // would leave the panic's own lines off the console (a storm's writer the host descheduled
    // mid-record did; torture 1:15, 1:35). Linux's panic CPU skips non-finalized records too.
    static void FlushConsole(int cpu)
    {
        bool passUnfinished = Panic.PanicCpu == cpu;
        KmsgReader r = Kmsg.ReadCommittedFrom(AreaSpan, s_consolePos, passUnfinished);
        while (r.MoveNext())
        {
            KmsgRecord rec = r.Current;
            if ((int)rec.Level < ConsoleLevel && !WriteLine(rec.Text, rec.TimestampNs, cpu)) return;
            s_consolePos = r.Position;
        }
    }

    static bool CommittedLineWaiting(int cpu)
    {
        KmsgReader r = Kmsg.ReadCommittedFrom(AreaSpan, Volatile.Read(ref s_consolePos), false);
        return r.MoveNext();
    }

    // A line the ring could not take (no ring yet, or full of unfinished records): printed at once,
    // under the lock when it can be had.
    static void PrintUnstored(ReadOnlySpan<byte> text, ulong ts, int cpu, KernLevel level)
    {
        if ((int)level >= ConsoleLevel) return;
        LockResult result = Panic.PanicCpu == cpu ? TakeConsole(cpu) : s_console.Acquire(cpu, Clock.DeadlineAfterUs(LockBoundUs));
        WriteLine(text, ts, cpu);
        if (result == LockResult.Acquired) s_console.Release(cpu);
    }

    // One console line; false when it was abandoned half-way because another CPU began to panic
    // (that CPU's console now). A line cut off ends where it stopped; the panic's lines follow.
    static bool WriteLine(ReadOnlySpan<byte> text, ulong ts, int cpu)
    {
        LogLine prefix = default;
        Kmsg.AppendPrefix(ref prefix, ts);
        ConsoleWrite(prefix.AsSpan());
        for (int at = 0; at < text.Length; at += ConsoleChunk)
        {
            if (OtherCpuPanics(cpu)) { ConsoleEndLine(); return false; }
            ConsoleWrite(text.Slice(at, text.Length - at < ConsoleChunk ? text.Length - at : ConsoleChunk));
        }
        ConsoleEndLine();
        return true;
    }

    // The consoles: COM1, and the text screen when there is one (arch-x86/VgaText.cs).
    static void ConsoleWrite(ReadOnlySpan<byte> text)
    {
        Serial.Write(text);
        VgaText.Write(text);
    }

    static void ConsoleEndLine()
    {
        Serial.Write((byte)'\r');
        Serial.Write((byte)'\n');
        VgaText.EndLine();
    }

    /// <summary>
    /// The log's last lines as text, "[    0.001234] text\n" each, as many whole lines as fit in
    /// <paramref name="dst"/> (the RAM crashlog's tail); returns the bytes written. Two walks of the
    /// ring (lengths, then the lines that fit), nothing allocated: the panicking CPU calls it.
    /// </summary>
    public static int FormatTail(Span<byte> dst)
    {
        if (!s_ready || dst.Length == 0) return 0;
        const int Remember = 256;
        int* lengths = stackalloc int[Remember];
        byte* line = stackalloc byte[LineBytes];
        var scratch = new Span<byte>(line, LineBytes);
        bool pass = Panic.PanicCpu == PerCpuArea.ThisCpu && CrashShutdown.IpiIssued;
        ulong count = 0;
        KmsgReader r = Kmsg.ReadCommittedFrom(AreaSpan, 0, pass);
        while (r.MoveNext())
        {
            KmsgRecord rec = r.Current;
            lengths[count % Remember] = Kmsg.FormatRecord(rec.TimestampNs, rec.Text, scratch) + 1;
            count++;
        }
        // From the newest line back, while the lines still fit.
        ulong keep = 0;
        int total = 0;
        while (keep < count && keep < Remember && total + lengths[(count - 1 - keep) % Remember] <= dst.Length)
            total += lengths[(count - 1 - keep++) % Remember];
        int at = 0;
        ulong index = 0;
        r = Kmsg.ReadCommittedFrom(AreaSpan, 0, pass);
        while (r.MoveNext() && at < total)
        {
            if (index++ < count - keep) continue;
            KmsgRecord rec = r.Current;
            int n = Kmsg.FormatRecord(rec.TimestampNs, rec.Text, scratch);
            if (at + n + 1 > dst.Length) break;
            scratch.Slice(0, n).CopyTo(dst.Slice(at));
            at += n;
            dst[at++] = (byte)'\n';
        }
        return at;
    }

    const int LineBytes = 1024;

    /// <summary>
    /// A console registered after lines were printed gets them replayed, as Linux's register_console
    /// does for a console that was not there at boot: the log so far, onto the text screen only
    /// (the serial console printed them already). Called on one CPU, before any other could print.
    /// </summary>
    public static void ReplayOnScreen()
    {
        if (!s_ready || !VgaText.Enabled) return;
        KmsgReader r = Kmsg.ReadCommittedFrom(AreaSpan, 0, false);
        while (r.MoveNext())
        {
            KmsgRecord rec = r.Current;
            if ((int)rec.Level >= ConsoleLevel) continue;
            LogLine prefix = default;
            Kmsg.AppendPrefix(ref prefix, rec.TimestampNs);
            VgaText.Write(prefix.AsSpan());
            VgaText.Write(rec.Text);
            VgaText.EndLine();
        }
    }
}
