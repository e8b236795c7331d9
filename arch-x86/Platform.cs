// The machine as the firmware describes it: ACPI tables (CPUs, IOAPICs, power-off and reset),
// the boot CPU's local APIC, masked IOAPICs, and the CPU numbering SMP bring-up uses. With
// acpi=off or broken tables the kernel runs on the boot CPU alone and powers off through
// isa-debug-exit, as the README's exit-status table says.
static unsafe class Platform
{
    static AcpiInfo s_acpi;
    static AcpiReport s_report;
    static bool s_acpiUsed;

    public static ref readonly AcpiInfo Acpi => ref s_acpi;
    public static bool AcpiUsed => s_acpiUsed;

    public static void Init()
    {
        if ((AcpiMode)Params.Current.Choice(BootParam.Acpi) == AcpiMode.Off)
        {
            Log.Info("ACPI: disabled (acpi=off); using the boot CPU only");
        }
        else
        {
            global::Acpi.Parse(Paging.IdentityWindow, (uint)KernelLayout.Get.BootEbdaSegment, ref s_acpi, ref s_report);
            for (int i = 0; i < s_report.Count && i < AcpiReport.MaxLines; i++)
            {
                LogLine l = s_report.Line(i);
                Log.Printk(s_report.Level(i) == AcpiLevel.Warning ? KernLevel.Warning : KernLevel.Info, ref l);
            }
            if (s_report.Dropped > 0) Log.Warn($"ACPI: {s_report.Dropped} more messages dropped");
            s_acpiUsed = true;
        }

        LocalApic.DetectAndEnableMode();
        uint bootApicId = LocalApic.ReadId();
        LocalApic.Setup(0, LocalApic.ExtnmiParameter);
        LocalApic.CalibrateTimer();
        Log.Info($"APIC: {(LocalApic.X2Apic ? "x2APIC" : "xAPIC")} mode, boot CPU APIC ID {bootApicId}, timer {LocalApic.TimerTicksPerMs} ticks/ms");

        for (int i = 0; s_acpiUsed && i < s_acpi.IoApicCount && i < AcpiInfo.MaxIoApics; i++)
        {
            AcpiIoApic io = s_acpi.IoApic(i);
            int pins = IoApic.MaskAll(io.Address);
            Log.Info($"IOAPIC[{i}]: apic_id {io.Id}, address 0x{io.Address:x8}, GSI {io.GsiBase}-{io.GsiBase + (uint)pins - 1}, all masked");
        }

        uint* ids = stackalloc uint[AcpiInfo.MaxCpus];
        int count = 0, unlisted = 0;
        if (s_acpiUsed && s_acpi.MadtValid)
        {
            for (int i = 0; i < s_acpi.CpuCount && i < AcpiInfo.MaxCpus; i++)
            {
                AcpiCpu c = s_acpi.Cpu(i);
                if (c.Enabled) ids[count++] = c.ApicId;
            }
            unlisted = s_acpi.CpusOverLimit;
        }
        if (count == 0) ids[count++] = bootApicId;
        SmpBoot.Init(bootApicId, ids, count, unlisted, Params.Current.NrCpus);
    }

    /// <summary>Masks every IOAPIC input again (the crash path: nothing may fire into the capture kernel).</summary>
    public static void MaskIoApics()
    {
        for (int i = 0; s_acpiUsed && i < s_acpi.IoApicCount && i < AcpiInfo.MaxIoApics; i++)
            IoApic.MaskAll(s_acpi.IoApic(i).Address);
    }

    /// <summary>SMP bring-up with what the loader told us (the memory map picks the trampoline page).</summary>
    public static void BringUpCpus(ref Multiboot.Info info, ref Multiboot.Tables tables)
    {
        ulong ebda = KernelLayout.Get.BootEbdaSegment << 4;
        SmpBoot.BringUpSecondaries(ref info, ref tables, ebda, Params.Current.CpuInitUdelay);
    }

    /// <summary>The capture kernel powers off with the first kernel's ACPI values (VMCOREINFO ACPI_PM1A_CNT, ACPI_SLP_TYPA).</summary>
    public static void UseAcpiPowerOff(System.ReadOnlySpan<byte> vmcoreinfo)
    {
        if (!Vmcoreinfo.FindHex(vmcoreinfo, "ACPI_PM1A_CNT", out ulong pm1a) || pm1a == 0 || pm1a > 0xFFFF) return;
        Vmcoreinfo.FindUnsigned(vmcoreinfo, "ACPI_SLP_TYPA", out ulong slpTypA);
        s_acpi.Pm1aControl = (ushort)pm1a;
        s_acpi.SlpTypA = (byte)slpTypA;
        s_acpi.S5Found = true;
        s_acpiUsed = true;
    }

    /// <summary>ACPI S5 (QEMU then exits with status 0). Returns only if ACPI cannot power off.</summary>
    public static void AcpiPowerOff()
    {
        if (!s_acpiUsed || !s_acpi.CanPowerOff) return;
        ushort a = s_acpi.Pm1aControl;
        Cpu.Outw(a, global::Acpi.Pm1ControlSleep(Cpu.Inw(a), s_acpi.SlpTypA));
        if (s_acpi.Pm1bControl != 0)
            Cpu.Outw(s_acpi.Pm1bControl, global::Acpi.Pm1ControlSleep(Cpu.Inw(s_acpi.Pm1bControl), s_acpi.SlpTypB));
        Clock.Mdelay(100);
    }

    /// <summary>The FADT's reset register, when the FADT says it is supported. Returns if it did not reset.</summary>
    public static void AcpiReset()
    {
        if (!s_acpiUsed || !s_acpi.ResetValid) return;
        if (s_acpi.ResetSpace == global::Acpi.GasSystemIo) Cpu.Outb((ushort)s_acpi.ResetAddress, s_acpi.ResetValue);
        else if (s_acpi.ResetSpace == global::Acpi.GasSystemMemory && s_acpi.ResetAddress < PageTableBits.IdentityMapEnd)
            *(byte*)s_acpi.ResetAddress = s_acpi.ResetValue;
        Clock.Mdelay(50);
    }
}
