// ELF64 as the crash-dump formats use it: the constants (System V gABI "ELF Header", "Program
// Header"; the psABI's EM_X86_64) and little-endian field access on spans.
using System;

/// <summary>ELF64 constants for x86-64 core files (gABI 4.1; the psABI gives EM_X86_64).</summary>
public static class Elf
{
    /// <summary>sizeof(Elf64_Ehdr) and sizeof(Elf64_Phdr).</summary>
    public const int HeaderSize = 64, ProgramHeaderSize = 56;

    // e_ident (gABI "ELF Identification")
    public const int EiClass = 4, EiData = 5, EiVersion = 6, EiOsAbi = 7;
    public const byte ElfClass64 = 2, ElfData2Lsb = 1, EvCurrent = 1;

    // Elf64_Ehdr field offsets
    public const int EType = 16, EMachine = 18, EVersion = 20, EEntry = 24, EPhoff = 32, EShoff = 40,
        EFlags = 48, EEhsize = 52, EPhentsize = 54, EPhnum = 56, EShentsize = 58, EShnum = 60, EShstrndx = 62;

    public const ushort EtCore = 4;
    /// <summary>AMD x86-64 (psABI); 40 is ARM, 3 is i386, 183 is AArch64.</summary>
    public const ushort EmX86_64 = 62;
    /// <summary>e_phnum escape meaning "the count is in section 0": never produced or accepted here.</summary>
    public const ushort PnXnum = 0xFFFF;

    // Elf64_Phdr field offsets
    public const int PType = 0, PFlags = 4, POffset = 8, PVaddr = 16, PPaddr = 24, PFilesz = 32, PMemsz = 40, PAlign = 48;

    public const uint PtNull = 0, PtLoad = 1, PtNote = 4;
    public const uint PfX = 1, PfW = 2, PfR = 4;

    /// <summary>The page size of the x86-64 dump layout (the first PT_LOAD starts on such a boundary).</summary>
    public const ulong PageSize = 4096;

    /// <summary>True if the buffer starts with the ELF magic 7f 'E' 'L' 'F'.</summary>
    public static bool HasMagic(ReadOnlySpan<byte> b)
        => b.Length >= 4 && b[0] == 0x7F && b[1] == (byte)'E' && b[2] == (byte)'L' && b[3] == (byte)'F';
}

/// <summary>Little-endian loads and stores on spans, bounds-checked by the span (no BinaryPrimitives in the kernel).</summary>
public static class LittleEndian
{
    public static ushort U16(ReadOnlySpan<byte> b, int at) => (ushort)(b[at] | b[at + 1] << 8);

    public static uint U32(ReadOnlySpan<byte> b, int at)
        => (uint)b[at] | (uint)b[at + 1] << 8 | (uint)b[at + 2] << 16 | (uint)b[at + 3] << 24;

    public static ulong U64(ReadOnlySpan<byte> b, int at) => U32(b, at) | (ulong)U32(b, at + 4) << 32;

    public static void Put16(Span<byte> b, int at, ushort v)
    {
        b[at] = (byte)v;
        b[at + 1] = (byte)(v >> 8);
    }

    public static void Put32(Span<byte> b, int at, uint v)
    {
        b[at] = (byte)v;
        b[at + 1] = (byte)(v >> 8);
        b[at + 2] = (byte)(v >> 16);
        b[at + 3] = (byte)(v >> 24);
    }

    public static void Put64(Span<byte> b, int at, ulong v)
    {
        Put32(b, at, (uint)v);
        Put32(b, at + 4, (uint)(v >> 32));
    }
}
