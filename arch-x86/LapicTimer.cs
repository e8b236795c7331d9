// The local APIC timer, shared by its two users on a CPU: bounded halts (Idle.HaltBriefly, a
// one-shot deadline) and a periodic tick a driver starts (the crash channel's host model). The
// timer runs in one-shot mode (SDM Vol. 3A 11.5.4) and is always armed for whichever deadline
// comes first, so a halt never cancels the tick nor the tick the halt (Linux: one clock event
// device in one-shot mode with its timers multiplexed on top).

static unsafe class LapicTimer
{
    /// <summary>One CPU's timer users, in its PerCpu; only that CPU touches it, with interrupts off.</summary>
    public struct State
    {
        public ulong Tick;              // delegate*<void>, 0 while no periodic tick runs
        public ulong PeriodTsc;
        public ulong NextTickTsc;
        public ulong HaltUntilTsc;
        public int Halting;             // a bounded halt is waiting for HaltUntilTsc
    }

    /// <summary>Runs tick every periodUs on this CPU from now on (interrupts off; the tick runs in the timer interrupt).</summary>
    public static void StartPeriodic(ulong periodUs, delegate*<void> tick)
    {
        Bug.On(Cpu.InterruptsEnabled, "LapicTimer.StartPeriodic: the timer's state is this CPU's, changed with interrupts off");
        Bug.On(periodUs * Clock.TscKhz / 1000 == 0, "LapicTimer.StartPeriodic: a period of at least one TSC tick, after calibration");
        ref State t = ref PerCpuArea.This->Timer;
        t.PeriodTsc = periodUs * Clock.TscKhz / 1000;
        t.NextTickTsc = Cpu.Rdtsc() + t.PeriodTsc;
        t.Tick = (ulong)tick;
        Arm(ref t);
    }

    /// <summary>A bounded halt begins: the timer fires by maxUs from now at the latest.</summary>
    public static void BeginHalt(ulong maxUs)
    {
        ref State t = ref PerCpuArea.This->Timer;
        t.HaltUntilTsc = Clock.DeadlineAfterUs(maxUs);
        t.Halting = 1;
        Arm(ref t);
    }

    /// <summary>The halt is over (by its deadline or by any interrupt): only the tick, if any, stays armed.</summary>
    public static void EndHalt()
    {
        ref State t = ref PerCpuArea.This->Timer;
        t.Halting = 0;
        Arm(ref t);
    }

    /// <summary>The timer vector (EOI already sent): the tick if it is due, then the next deadline armed.</summary>
    public static void Interrupt()
    {
        PerCpu* cpu = PerCpuArea.This;
        if (cpu == null) return;
        ref State t = ref cpu->Timer;
        // A passed halt deadline is spent: arming it again would fire at once, forever, between the
        // IRET and the halting code's cli.
        if (t.Halting != 0 && Clock.Passed(t.HaltUntilTsc)) t.Halting = 0;
        if (t.Tick != 0 && Clock.Passed(t.NextTickTsc))
        {
            // Missed periods are not replayed: the tick models a source that posts "every period at most".
            t.NextTickTsc += t.PeriodTsc;
            if (Clock.Passed(t.NextTickTsc)) t.NextTickTsc = Cpu.Rdtsc() + t.PeriodTsc;
            ((delegate*<void>)(void*)t.Tick)();
        }
        Arm(ref t);
    }

    static void Arm(ref State t)
    {
        bool armed = t.Tick != 0;
        ulong due = t.NextTickTsc;
        if (t.Halting != 0 && (!armed || (long)(t.HaltUntilTsc - due) < 0))
        {
            due = t.HaltUntilTsc;
            armed = true;
        }
        if (!armed)
        {
            LocalApic.ArmOneShot(0);
            return;
        }
        long left = (long)(due - Cpu.Rdtsc());
        ulong us = left > 0 ? Clock.TicksToNs((ulong)left, Clock.TscKhz) / 1000 : 0;
        LocalApic.ArmOneShot(us == 0 ? 1 : us);
    }
}
