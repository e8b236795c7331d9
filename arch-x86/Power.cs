// Power-off and reboot. One exit-status mapping is used everywhere (README): QEMU status 0 = ACPI
// S5 power-off; through isa-debug-exit at port 0x501 QEMU exits
// with (v << 1) | 1: v = 0 (status 1) = clean power-off without ACPI, v = 1 (status 3) = a
// failure the kernel detected. Reboot uses the FADT's reset register, else pulses the keyboard
// controller's reset line, so QEMU with -no-reboot exits.
static unsafe class Power
{
    const ushort KeyboardStatus = 0x64;
    const byte KeyboardPulseReset = 0xFE;
    const ulong KeyboardDrainBoundUs = 10_000;

    /// <summary>kernel_power_off(): stop the other CPUs, then ACPI S5 (or isa-debug-exit).</summary>
    public static void Poweroff()
    {
        SmpStop.StopOtherCpus();
        Log.Info("reboot: Power down");
        Cpu.DisableInterrupts();
        Platform.AcpiPowerOff();
        Cpu.Outb(DebugExit.Port, DebugExit.Clean);
        Cpu.HaltForever();
    }

    /// <summary>
    /// The capture kernel's end once the dump is out: isa-debug-exit first (QEMU ends from the vCPU
    /// at once, status 1), ACPI S5 only where that device is absent. QEMU 7.2's orderly shutdown
    /// after S5 can wait forever in its monitor cleanup (main thread in monitor_cleanup's aio_poll,
    /// holding the BQL) when a QMP command arrives as it starts: the torture found it with an NMI
    /// injected during the export, and the machine never ended although the dump was complete.
    /// </summary>
    public static void PoweroffAfterDump()
    {
        SmpStop.StopOtherCpus();
        Log.Info("reboot: Power down");
        Cpu.DisableInterrupts();
        Cpu.Outb(DebugExit.Port, DebugExit.Clean);
        Platform.AcpiPowerOff();
        Cpu.HaltForever();
    }

    /// <summary>Clean power-off without a word (poweroff_at_entry: the benchmark floor).</summary>
    public static void ExitClean()
    {
        Cpu.DisableInterrupts();
        Cpu.Outb(DebugExit.Port, DebugExit.Clean);
        Cpu.HaltForever();
    }

    /// <summary>Ends the machine with the "kernel detected a failure" status.</summary>
    public static void ExitFailure()
    {
        Cpu.DisableInterrupts();
        Cpu.Outb(DebugExit.Port, DebugExit.Failure);
        Cpu.HaltForever();
    }

    /// <summary>emergency_restart(): from panic, the other CPUs already stopped by the crash shootdown.</summary>
    public static void EmergencyRestart() => Reboot();

    public static void Reboot()
    {
        Log.Info("reboot: Restarting system");
        Cpu.DisableInterrupts();
        Platform.AcpiReset();
        // Wait (bounded by time: this runs at the end of a panic) for the controller's input buffer
        // to drain, then pulse reset.
        ulong deadline = Clock.DeadlineAfterUs(KeyboardDrainBoundUs);
        while ((Cpu.Inb(KeyboardStatus) & 0x02) != 0 && !Clock.Passed(deadline)) Cpu.Pause();
        Cpu.Outb(KeyboardStatus, KeyboardPulseReset);
        Clock.Mdelay(50);
        // Still here: a triple fault resets any PC.
        byte* idtr = stackalloc byte[10];
        for (int i = 0; i < 10; i++) idtr[i] = 0;
        Cpu.Lidt(idtr);
        TripleFault();
    }

    static void TripleFault()
    {
        Cpu.EnableInterrupts();
        *(ulong*)0 = 0;   // page 0 is unmapped; with an empty IDT the #PF cannot be delivered
        Cpu.HaltForever();
    }
}
