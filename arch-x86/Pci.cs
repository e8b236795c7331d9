// PCI configuration space through the legacy ports 0xCF8 (address) and 0xCFC (data), PCI Local Bus
// Specification 3.0 section 3.2.2.3.2 ("configuration mechanism #1"). Enough to find a device on
// bus 0 and read its BARs; the firmware has already assigned them.
static class Pci
{
    const ushort AddressPort = 0xCF8, DataPort = 0xCFC;
    public const int VendorId = 0x00, Command = 0x04, HeaderType = 0x0E, Bar0 = 0x10;
    public const ushort CommandMemorySpace = 1 << 1;

    static uint Address(int bus, int device, int function, int offset) =>
        0x8000_0000u | (uint)(bus << 16) | (uint)(device << 11) | (uint)(function << 8) | (uint)(offset & 0xFC);

    public static uint Read32(int bus, int device, int function, int offset)
    {
        Cpu.Outl(AddressPort, Address(bus, device, function, offset));
        return Cpu.Inl(DataPort);
    }

    public static void Write32(int bus, int device, int function, int offset, uint value)
    {
        Cpu.Outl(AddressPort, Address(bus, device, function, offset));
        Cpu.Outl(DataPort, value);
    }

    /// <summary>Finds the first function on bus 0 with this vendor and device ID.</summary>
    public static bool Find(ushort vendor, ushort device, out int dev, out int fn)
    {
        for (dev = 0; dev < 32; dev++)
        {
            int functions = (Read32(0, dev, 0, HeaderType) >> 16 & 0x80) != 0 ? 8 : 1;
            for (fn = 0; fn < functions; fn++)
            {
                uint id = Read32(0, dev, fn, VendorId);
                if ((id & 0xFFFF) == 0xFFFF) continue;
                if ((id & 0xFFFF) == vendor && (id >> 16) == device) return true;
            }
        }
        dev = fn = -1;
        return false;
    }

    /// <summary>A memory BAR's address and size (64-bit BARs span two registers); the size comes from the all-ones probe.</summary>
    public static bool MemoryBar(int dev, int fn, int index, out ulong address, out ulong size)
    {
        int off = Bar0 + index * 4;
        uint low = Read32(0, dev, fn, off);
        address = size = 0;
        if ((low & 1) != 0) return false;   // an I/O BAR
        bool is64 = ((low >> 1) & 3) == 2;
        uint high = is64 ? Read32(0, dev, fn, off + 4) : 0;
        // Probe the size with memory decoding off, then restore.
        uint cmd = Read32(0, dev, fn, Command);
        Write32(0, dev, fn, Command, cmd & ~(uint)CommandMemorySpace);
        Write32(0, dev, fn, off, 0xFFFF_FFFF);
        uint sizeLow = Read32(0, dev, fn, off);
        uint sizeHigh = 0xFFFF_FFFF;
        if (is64) { Write32(0, dev, fn, off + 4, 0xFFFF_FFFF); sizeHigh = Read32(0, dev, fn, off + 4); }
        Write32(0, dev, fn, off, low);
        if (is64) Write32(0, dev, fn, off + 4, high);
        Write32(0, dev, fn, Command, cmd | CommandMemorySpace);
        ulong mask = ((ulong)sizeHigh << 32) | (sizeLow & 0xFFFF_FFF0u);
        if (!is64) mask |= 0xFFFF_FFFF_0000_0000;
        size = ~mask + 1;
        address = ((ulong)high << 32) | (low & 0xFFFF_FFF0u);
        return address != 0 && size != 0;
    }
}
