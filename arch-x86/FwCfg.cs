// QEMU's firmware configuration device (docs/specs/fw_cfg.rst): a selector port (16-bit writes at
// 0x510) and a data port (byte reads at 0x511); item 0 is the signature "QEMU", item 0x19 the file
// directory (a big-endian count, then 64-byte entries: size, select key, name). Files are looked up
// by name: their keys move when devices come and go. It exists only under a hypervisor, so the
// ports are touched only when CPUID says one is there (leaf 1, ECX bit 31): bare metal never sees a write.
static unsafe class FwCfg
{
    const ushort SelectorPort = 0x510, DataPort = 0x511;
    const ushort KeySignature = 0x0000, KeyFileDirectory = 0x0019;
    const int DirectoryEntrySize = 64, NameSize = 56;
    /// <summary>Entries walked at most (QEMU's pc machine has about fifteen).</summary>
    const uint MaxFiles = 4096;

    public enum Presence { NoHypervisor, NoDevice, Present }

    static Presence s_presence;
    static bool s_probed;

    /// <summary>Whether the device is there; the first call probes (CPUID, then the signature).</summary>
    public static Presence Probe()
    {
        if (s_probed) return s_presence;
        s_probed = true;
        if ((Cpu.Cpuid(1).Ecx & (1u << 31)) == 0) return s_presence = Presence.NoHypervisor;
        Select(KeySignature);
        bool qemu = Cpu.Inb(DataPort) == (byte)'Q' && Cpu.Inb(DataPort) == (byte)'E' && Cpu.Inb(DataPort) == (byte)'M' && Cpu.Inb(DataPort) == (byte)'U';
        return s_presence = qemu ? Presence.Present : Presence.NoDevice;
    }

    static void Select(ushort key) => Cpu.Outw(SelectorPort, key);

    static uint ReadBigEndian32()
    {
        uint v = 0;
        for (int i = 0; i < 4; i++) v = v << 8 | Cpu.Inb(DataPort);
        return v;
    }

    /// <summary>A file's select key and size, by name; false when the directory has no such file.</summary>
    public static bool FindFile(string name, out ushort key, out uint size)
    {
        key = 0;
        size = 0;
        if (Probe() != Presence.Present || name.Length >= NameSize) return false;
        Select(KeyFileDirectory);
        uint count = ReadBigEndian32();
        byte* entry = stackalloc byte[DirectoryEntrySize];
        for (uint i = 0; i < count && i < MaxFiles; i++)
        {
            for (int b = 0; b < DirectoryEntrySize; b++) entry[b] = Cpu.Inb(DataPort);
            bool match = entry[8 + name.Length] == 0;
            for (int c = 0; match && c < name.Length; c++) match = entry[8 + c] == (byte)name[c];
            if (!match) continue;
            size = (uint)(entry[0] << 24 | entry[1] << 16 | entry[2] << 8 | entry[3]);
            key = (ushort)(entry[4] << 8 | entry[5]);
            return true;
        }
        return false;
    }

    /// <summary>The first bytes of an item (reads past its end give 0).</summary>
    public static void Read(ushort key, byte* into, int length)
    {
        Select(key);
        for (int i = 0; i < length; i++) into[i] = Cpu.Inb(DataPort);
    }
}
