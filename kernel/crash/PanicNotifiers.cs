// The panic notifier chain (kernel/panic.c panic_notifier_list, atomic_notifier_chain_register) and
// kmsg_dump: notifiers are registered by their owners with a priority (higher runs first, as Linux's
// chains order them) into a fixed table, so nothing is allocated, and panic() runs them in order.
// Nothing here may take a lock a stopped CPU could hold. A notifier that faults re-enters panic(),
// which then goes straight to crash_kexec (Panic.cs).
using System;
using System.Threading;

static unsafe class PanicNotifiers
{
    const int MaxNotifiers = 8;

    struct Table
    {
        public fixed ulong Calls[MaxNotifiers];      // delegate*<ReadOnlySpan<byte>, void>: gets the panic message
        public fixed int Priorities[MaxNotifiers];
        public int Count;
    }

    static Table s_table;

    /// <summary>atomic_notifier_chain_register(): at boot, before any panic; equal priorities run in registration order.</summary>
    public static void Register(delegate*<ReadOnlySpan<byte>, void> call, int priority)
    {
        int n = s_table.Count;
        Bug.On(n >= MaxNotifiers, "PanicNotifiers.Register: the chain holds at most 8 notifiers");
        int at = n;
        while (at > 0 && s_table.Priorities[at - 1] < priority)
        {
            s_table.Calls[at] = s_table.Calls[at - 1];
            s_table.Priorities[at] = s_table.Priorities[at - 1];
            at--;
        }
        s_table.Calls[at] = (ulong)call;
        s_table.Priorities[at] = priority;
        Volatile.Write(ref s_table.Count, n + 1);
    }

    /// <summary>The kernel's own notifier: how big the log is and where it lies, for whoever reads the console.</summary>
    public static void RegisterLogSummary() => Register(&LogSummary, 0);

    public static void Call(ReadOnlySpan<byte> message)
    {
        int count = Volatile.Read(ref s_table.Count);
        for (int i = 0; i < count; i++)
            ((delegate*<ReadOnlySpan<byte>, void>)(void*)s_table.Calls[i])(message);
    }

    static void LogSummary(ReadOnlySpan<byte> message)
    {
        Log.Emerg($"panic: notifier log_summary: {Log.RecordCount} log records, kmsg area at 0x{(ulong)Log.Area:x}");
    }
}

enum KmsgDumpReason { Panic, Oops, Emergency, Shutdown }

/// <summary>kmsg_dump(): hands the log to every registered dumper. The RAM dumper arrives with the capture work.</summary>
static class KmsgDump
{
    public static void Dump(KmsgDumpReason reason)
    {
        Log.Emerg($"kmsg_dump: reason {(reason == KmsgDumpReason.Panic ? "PANIC" : reason == KmsgDumpReason.Oops ? "OOPS" : "OTHER")}, {Log.RecordCount} records, no dumper registered");
    }
}
