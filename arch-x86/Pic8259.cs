// The legacy 8259A interrupt controllers. The firmware leaves IRQ0 (the PIT tick) unmasked at
// vector 8, which is the double-fault vector in long mode: remap both PICs to 0x20-0x2F and mask
// every line before interrupts are first enabled. Intel 8259A data sheet, ICW1-ICW4.
static class Pic8259
{
    const ushort MasterCommand = 0x20, MasterData = 0x21, SlaveCommand = 0xA0, SlaveData = 0xA1;
    const byte Icw1Init = 0x11;      // edge triggered, cascade, ICW4 follows
    const byte Icw4_8086 = 0x01;
    public const byte MasterBase = 0x20, SlaveBase = 0x28;

    public static void RemapAndMaskAll()
    {
        Cpu.Outb(MasterCommand, Icw1Init);
        Cpu.Outb(SlaveCommand, Icw1Init);
        Cpu.Outb(MasterData, MasterBase);
        Cpu.Outb(SlaveData, SlaveBase);
        Cpu.Outb(MasterData, 1 << 2);    // slave on IR2
        Cpu.Outb(SlaveData, 2);          // cascade identity
        Cpu.Outb(MasterData, Icw4_8086);
        Cpu.Outb(SlaveData, Icw4_8086);
        Cpu.Outb(MasterData, 0xFF);
        Cpu.Outb(SlaveData, 0xFF);
    }
}
