// Crash triggers for tests, modelled on Linux's LKDTM direct entries: `crashtest=NAME` makes the
// kernel fail in a known way once boot is complete. Each fault happens at a named place (the asm
// routines in boot/cpu.asm) so the oops can be checked against the symbol it must name.
using System.Runtime;
using System.Runtime.CompilerServices;

static unsafe class Crashtest
{
    [MethodImpl(MethodImplOptions.InternalCall), RuntimeImport("*", "crashtest_ud2")] static extern void Ud2();
    [MethodImpl(MethodImplOptions.InternalCall), RuntimeImport("*", "crashtest_null_write")] static extern void NullWrite();
    [MethodImpl(MethodImplOptions.InternalCall), RuntimeImport("*", "crashtest_gp")] static extern void GeneralProtection();

    public static void RunIfRequested()
    {
        CrashTestType test = Params.Current.Crashtest;
        if (test == CrashTestType.None) return;
        LogLine l = default;
        l.Append("crashtest: performing ");
        Params.AppendValue(ref l, BootParam.Crashtest);
        Log.Emit(ref l);
        switch (test)
        {
            case CrashTestType.Panic:
                Panic.KernelPanic("crashtest: PANIC");
                break;
            case CrashTestType.Bug:
                Ud2();
                break;
            case CrashTestType.Exception:
                NullWrite();
                break;
            case CrashTestType.DoubleFault:
                // With the #GP gate absent, the #GP raises #NP while it is delivered: a contributory
                // fault during a contributory fault is a double fault (SDM Vol. 3A table 6-5).
                Idt.SetPresent(Idt.GeneralProtection, false);
                GeneralProtection();
                break;
            case CrashTestType.StackOverflow:
                Recurse(0);
                break;
            default:
                LogLine w = default;
                w.Append("crashtest: scenario ");
                Params.AppendValue(ref w, BootParam.Crashtest);
                w.Append(" needs the SMP and panic work; ignored");
                Log.Emit(ref w);
                return;
        }
        LogLine f = default;
        f.Append("crashtest: ");
        Params.AppendValue(ref f, BootParam.Crashtest);
        f.Append(" did not crash the kernel");
        Log.Emit(ref f);
        Power.ExitFailure();
    }

    /// <summary>Eats the stack 512 bytes a call until the guard page below it faults.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    static int Recurse(int depth)
    {
        byte* frame = stackalloc byte[512];
        for (int i = 0; i < 512; i += 64) frame[i] = (byte)depth;
        return Recurse(depth + 1) + frame[depth & 511];
    }
}
