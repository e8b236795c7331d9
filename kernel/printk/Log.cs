// printk: every line goes into the kmsg ring (sequence number, timestamp) and to the console,
// prefixed Linux-style "[    0.001234] ". One lock covers both so lines never interleave; it is
// bounded (SpinLock) because a CPU stopped by the crash NMI may hold it forever.
using System;

static unsafe class Log
{
    public const int RingBytes = 256 * 1024;
    // Spins before the console lock is given up on: about 50 ms of a busy holder under TCG.
    const long LockSpins = 2_000_000;

    // The compiler aligns statics to their field types only: keep 8 spare bytes and align by hand.
    struct RingStorage { public fixed byte Bytes[RingBytes + 8]; }

    static SpinLock s_lock;
    static RingStorage s_ring;   // the kmsg area: its header, then the records (kernel/Kmsg.cs)
    static bool s_ready;

    /// <summary>The log area's address, for VMCOREINFO and the dump readers.</summary>
    public static byte* Area { get { fixed (byte* p = s_ring.Bytes) return (byte*)(((ulong)p + 7) & ~7UL); } }

    static Span<byte> AreaSpan => new Span<byte>(Area, RingBytes);

    public static ulong RecordCount => s_ready ? Kmsg.Count(AreaSpan) : 0;

    public static void Init()
    {
        s_ready = Kmsg.Init(AreaSpan);
        if (!s_ready) Warn("printk: the kmsg ring could not be set up; the console alone keeps the log");
    }

    public static void Info(ref LogLine line) => Emit(ref line);
    public static void Warn(ref LogLine line) => Emit(ref line);
    public static void Emerg(ref LogLine line) => Emit(ref line);

    public static void Info(string text) => EmitText(text);
    public static void Warn(string text) => EmitText(text);
    public static void Emerg(string text) => EmitText(text);

    static void EmitText(string text)
    {
        LogLine l = default;
        l.Append(text);
        Emit(ref l);
    }

    public static void Emit(ref LogLine line)
    {
        ulong ts = Clock.NowNs;
        int cpu = PerCpuArea.ThisCpu;
        LockResult result = s_lock.Acquire(cpu, LockSpins);
        if (result == LockResult.TimedOut && Panic.PanicCpu == cpu)
        {
            // The holder was stopped by the shootdown (or hangs): it will never release the lock.
            // Take it, so every later line of the panic does not wait the whole bound again.
            s_lock.Break(cpu);
            result = LockResult.Acquired;
        }
        bool locked = result == LockResult.Acquired;
        // A CPU that re-entered (an NMI inside Emit) must not append over the record its own
        // interrupted call was writing: that line goes to the console only.
        if (s_ready && result != LockResult.Reentered) Kmsg.Append(AreaSpan, ts, line.AsSpan());
        LogLine prefix = default;
        Kmsg.AppendPrefix(ref prefix, ts);
        Serial.Write(prefix.AsSpan());
        Serial.Write(line.AsSpan());
        Serial.Write((byte)'\r');
        Serial.Write((byte)'\n');
        if (locked) s_lock.Release(cpu);
    }
}
