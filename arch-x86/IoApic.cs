// The I/O APIC: every redirection entry masked. Nothing here is interrupt-driven, and a capture
// kernel must not take a stale device interrupt. 82093AA data sheet, IOREGSEL at +0, IOWIN at +0x10;
// register 1 holds the highest entry index in bits 16-23; entry n is registers 0x10 + 2n, 0x11 + 2n.
static unsafe class IoApic
{
    const uint RegVersion = 1, RegRedirection = 0x10;
    const uint Masked = 1 << 16;

    public static int MaskAll(ulong address)
    {
        Paging.MapIdentity(address, 4096, uncached: true);
        uint* select = (uint*)address, window = (uint*)(address + 0x10);
        *select = RegVersion;
        int entries = (int)((*window >> 16) & 0xFF) + 1;
        for (int i = 0; i < entries; i++)
        {
            *select = RegRedirection + (uint)i * 2;
            *window = Masked;
            *select = RegRedirection + (uint)i * 2 + 1;
            *window = 0;
        }
        return entries;
    }
}
