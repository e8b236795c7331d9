// The panic notifier chain and kmsg_dump, registered statically: a fixed table of notifiers with
// priorities (higher runs first, as Linux's notifier chains order them) and of log dumpers.
// Nothing is allocated; nothing here may take a lock a stopped CPU could hold.
enum PanicNotifierId { None, LogSummary }

static unsafe class PanicNotifiers
{
    /// <summary>The registered notifiers, highest priority first.</summary>
    static PanicNotifierId At(int i) => i switch
    {
        0 => PanicNotifierId.LogSummary,
        _ => PanicNotifierId.None,
    };

    static int Priority(PanicNotifierId id) => id switch
    {
        PanicNotifierId.LogSummary => 0,
        _ => 0,
    };

    public static void Call(System.ReadOnlySpan<byte> message)
    {
        for (int i = 0; At(i) != PanicNotifierId.None; i++)
        {
            PanicNotifierId id = At(i);
            switch (id)
            {
                case PanicNotifierId.LogSummary:
                    Log.Emerg($"panic: notifier log_summary (priority {Priority(id)}): {Log.RecordCount} log records, kmsg area at 0x{(ulong)Log.Area:x}");
                    break;
            }
        }
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
