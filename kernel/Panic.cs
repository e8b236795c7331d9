// panic(): stop the machine on exactly one CPU and say why. panic_cpu is one atomic claimed by
// compare-exchange, so a second CPU that panics stops itself instead of racing the first, and the
// same CPU re-entering (a fault inside panic) carries on instead of deadlocking on itself.
// Linux: kernel/panic.c (panic, panic_smp_self_stop).
using System.Threading;

static unsafe class Panic
{
    public const int PanicCpuInvalid = -1;
    public const int MessageCapacity = 256;

    static int s_panicCpu = PanicCpuInvalid;

    /// <summary>The panic message, kept where a dump reader (gdb, the capture image) can find it.</summary>
    struct MessageBuffer { public fixed byte Bytes[MessageCapacity]; public int Length; }
    static MessageBuffer s_message;

    public static int PanicCpu => Volatile.Read(ref s_panicCpu);

    public static void KernelPanic(string message)
    {
        LogLine l = default;
        l.Append(message);
        KernelPanic(ref l);
    }

    public static void KernelPanic(ref LogLine message)
    {
        Cpu.DisableInterrupts();
        int me = PerCpuArea.ThisCpu;
        // Claim the panic CPU first: only the winner may print, stop the others and reboot.
        int old = Interlocked.CompareExchange(ref s_panicCpu, me, PanicCpuInvalid);
        if (old != PanicCpuInvalid && old != me)
            SmpSelfStop();

        SaveMessage(message.AsSpan());
        LogLine l = default;
        l.Append("Kernel panic - not syncing: ");
        l.Append(message.AsSpan());
        Log.Emit(ref l);

        int timeout = Params.Current.Panic;
        if (timeout > 0)
        {
            Log.Info($"Rebooting in {timeout} seconds..");
            Clock.Mdelay((ulong)timeout * 1000);
            Power.Reboot();
        }
        else if (timeout < 0)
        {
            Power.Reboot();
        }
        LogLine end = default;
        end.Append("---[ end Kernel panic - not syncing: ");
        end.Append(message.AsSpan());
        end.Append(" ]---");
        Log.Emit(ref end);
        Cpu.HaltForever();
    }

    /// <summary>After an oops: there is no process to kill, so every oops ends in panic.</summary>
    public static void OnOops(TrapFrame* frame, bool inInterrupt)
    {
        KernelPanic(inInterrupt ? "Fatal exception in interrupt" : "Fatal exception");
    }

    /// <summary>A CPU that lost the panic race: interrupts off, halted for good (panic_smp_self_stop).</summary>
    static void SmpSelfStop()
    {
        Cpu.HaltForever();
    }

    static void SaveMessage(System.ReadOnlySpan<byte> text)
    {
        int n = text.Length < MessageCapacity - 1 ? text.Length : MessageCapacity - 1;
        fixed (byte* p = s_message.Bytes)
        {
            for (int i = 0; i < n; i++) p[i] = text[i];
            p[n] = 0;
        }
        s_message.Length = n;
    }
}
