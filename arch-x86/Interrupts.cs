// Hardware interrupt vectors (0x20 and up). There is no periodic tick and the PICs are masked:
// the interrupts are the APIC's own (timer, error) and IPIs. An IPI's owner registers its handler
// for a vector (as Linux's sysvec handlers are declared by their owners); the APIC gets its EOI
// before the handler runs, as Linux's sysvec entries do, so a handler that never returns (a CPU
// told to stop) leaves nothing in service, unless the owner asked to send it itself
// (RegisterOwnEoi). A spurious interrupt gets no EOI (SDM Vol. 3A 11.9).
using System.Threading;

static unsafe class Interrupts
{
    struct Table { public fixed ulong Handlers[256]; }
    static Table s_handlers;
    struct OwnEoi { public fixed int Flags[256]; }
    static OwnEoi s_ownEoi;

    /// <summary>Sets the handler of a fixed vector (boot time, before the first IPI for it is sent).</summary>
    public static void Register(int vector, delegate*<TrapFrame*, void> handler)
    {
        Bug.On(vector < Vectors.FirstInterrupt || vector > 0xFF, "Interrupts.Register: interrupt vectors are 0x20..0xff");
        Bug.On(vector == Vectors.Spurious || vector == Vectors.ApicTimer || vector == Vectors.ApicError || vector == Vectors.Reboot,
            "Interrupts.Register: the APIC's own vectors and the reboot vector are not for registration");
        Volatile.Write(ref s_handlers.Handlers[vector], (ulong)handler);
    }

    /// <summary>
    /// Register, for a handler that sends its own EOI once it has consumed what the interrupt
    /// announced, as Hyper-V's message handler does. The flag is set before the handler is
    /// published, so the APIC never gets two EOIs for one interrupt.
    /// </summary>
    public static void RegisterOwnEoi(int vector, delegate*<TrapFrame*, void> handler)
    {
        Bug.On(vector < Vectors.FirstInterrupt || vector > 0xFF, "Interrupts.RegisterOwnEoi: interrupt vectors are 0x20..0xff");
        Volatile.Write(ref s_ownEoi.Flags[vector], 1);
        Register(vector, handler);
    }

    public static void Handle(TrapFrame* frame, int vector)
    {
        switch (vector)
        {
            case Vectors.ApicTimer:
                // Ends a bounded halt (Idle.HaltBriefly) and runs a periodic tick that is due.
                LocalApic.EndOfInterrupt();
                LapicTimer.Interrupt();
                return;
            case Vectors.Reboot:
                LocalApic.EndOfInterrupt();
                SmpStop.StopThisCpu();
                return;
            case Vectors.ApicError:
                LocalApic.Write(ApicRegisters.ErrorStatus, 0);
                Log.Warn($"APIC error on CPU{PerCpuArea.ThisCpu}: ESR 0x{LocalApic.Read(ApicRegisters.ErrorStatus):x2}");
                LocalApic.EndOfInterrupt();
                return;
        }
        ulong handler = Volatile.Read(ref s_handlers.Handlers[vector]);
        if (handler == 0 || Volatile.Read(ref s_ownEoi.Flags[vector]) == 0) LocalApic.EndOfInterrupt();
        if (handler != 0) ((delegate*<TrapFrame*, void>)(void*)handler)(frame);
        else Log.Warn($"unexpected interrupt vector 0x{vector:x2} on CPU {PerCpuArea.ThisCpu}");
    }
}
