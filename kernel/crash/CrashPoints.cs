// Crash points, after LKDTM's: named places on the crash path where a test trigger (kernel/debug)
// may run code to force a race at exactly that moment. The path names the point; the trigger
// registers itself there at boot. With nothing registered a crash point costs one load.
using System.Threading;

/// <summary>The places a trigger can hook.</summary>
enum CrashPoint
{
    /// <summary>__crash_kexec, the kexec lock just taken, before the machine is shut down for the jump.</summary>
    CrashKexec,
    Count,
}

static unsafe class CrashPoints
{
    struct Table { public fixed ulong Hooks[4]; }    // delegate*<void>, one per CrashPoint
    static Table s_hooks;

    public static void Register(CrashPoint point, delegate*<void> hook)
    {
        Bug.On((uint)point >= (uint)CrashPoint.Count || (int)CrashPoint.Count > 4, "CrashPoints.Register: a crash point the table has room for");
        Volatile.Write(ref s_hooks.Hooks[(int)point], (ulong)hook);
    }

    public static void Hit(CrashPoint point)
    {
        ulong hook = Volatile.Read(ref s_hooks.Hooks[(int)point]);
        if (hook != 0) ((delegate*<void>)(void*)hook)();
    }
}
