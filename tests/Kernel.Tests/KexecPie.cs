// Test helper: real position-independent executables for the kexec loader, assembled with nasm and
// linked with ld -pie into a temporary directory, their symbols read back with nm, and a small
// independent ELF reader (BinaryPrimitives, not the kernel's code) to locate and patch fields.
using System.Buffers.Binary;
using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace Kernel.Tests;

sealed class KexecPie
{
    /// <summary>
    /// The standard test image: code, four absolute pointers (so ld emits four R_X86_64_RELATIVE),
    /// one with an addend, a string, and 4 KiB of bss.
    /// </summary>
    public const string StandardSource = """
        bits 64
        default rel
        section .text
        global entry
        entry:
            lea rax, [table]
            ret
        section .data
        align 8
        global table
        table:
            dq entry
            dq table
            dq message
            dq bss_area + 16
        global message
        message: db "capture", 0
        section .bss
        global bss_area
        bss_area: resb 4096
        """;

    /// <summary>ld flags of the capture image: a PIE that needs no dynamic linker.</summary>
    public static readonly string[] PieFlags = ["-pie", "--no-dynamic-linker", "-z", "norelro", "-e", "entry"];

    public byte[] Bytes { get; }
    public IReadOnlyDictionary<string, ulong> Symbols { get; }

    KexecPie(byte[] bytes, IReadOnlyDictionary<string, ulong> symbols)
    {
        Bytes = bytes;
        Symbols = symbols;
    }

    public ulong this[string symbol] => Symbols[symbol];

    public byte[] Copy() => (byte[])Bytes.Clone();

    static readonly Lazy<KexecPie> s_standard = new(() => Build(StandardSource, PieFlags));

    /// <summary>The standard image, built once per test run (callers copy before patching).</summary>
    public static KexecPie Standard => s_standard.Value;

    /// <summary>Assembles <paramref name="source"/> and links it with <paramref name="ldFlags"/>.</summary>
    public static KexecPie Build(string source, string[] ldFlags)
    {
        string dir = Directory.CreateTempSubdirectory("kexec-pie-").FullName;
        try
        {
            string asm = Path.Combine(dir, "image.asm"), obj = Path.Combine(dir, "image.o"), elf = Path.Combine(dir, "image.elf");
            File.WriteAllText(asm, source);
            Run("nasm", "-f", "elf64", "-o", obj, asm);
            Run("ld", [.. ldFlags, "-o", elf, obj]);
            var symbols = new Dictionary<string, ulong>();
            foreach (var line in Run("nm", elf).Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (f.Length == 3) symbols[f[2]] = Convert.ToUInt64(f[0], 16);
            }
            return new KexecPie(File.ReadAllBytes(elf), symbols);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    static string Run(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["LC_ALL"] = "C";
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {file}");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        Assert.True(p.WaitForExit(60_000), $"{file} did not finish in 60 s");
        Assert.True(p.ExitCode == 0, $"{file} {string.Join(' ', args)} failed ({p.ExitCode}): {stderr.Result}");
        return stdout.Result;
    }

    // ---- The real capture image, linked later by the lead ----

    public static string CaptureImagePath([CallerFilePath] string here = "") =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(here)!, "..", "..", "out", "capture.elf"));
}

/// <summary>A fact that runs only once out/capture.elf has been linked, and says so when skipped.</summary>
sealed class CaptureImageFactAttribute : FactAttribute
{
    public CaptureImageFactAttribute()
    {
        if (!File.Exists(KexecPie.CaptureImagePath()))
            Skip = $"{KexecPie.CaptureImagePath()} is not built yet; the capture image test runs once it is";
    }
}

/// <summary>An ELF64 file read and patched with BinaryPrimitives, independent of the kernel's reader.</summary>
static class KexecElf
{
    public record struct ProgramHeader(int Index, uint Type, ulong Offset, ulong Vaddr, ulong Filesz, ulong Memsz, ulong Align, uint Flags = 7)
    {
        /// <summary>Executable or writable: what the digest covers (a read-only segment holds metadata only).</summary>
        public readonly bool Digested => (Flags & 3) != 0;
    }
    public record struct Rela(int Index, int FileOffset, ulong Offset, ulong Info, long Addend);

    public static ushort U16(byte[] b, int at) => BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan(at));
    public static uint U32(byte[] b, int at) => BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(at));
    public static ulong U64(byte[] b, int at) => BinaryPrimitives.ReadUInt64LittleEndian(b.AsSpan(at));
    public static void Put16(byte[] b, int at, ushort v) => BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(at), v);
    public static void Put64(byte[] b, int at, ulong v) => BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(at), v);

    public static ulong Entry(byte[] b) => U64(b, 24);

    public static int ProgramHeaderOffset(byte[] b, int index) => (int)U64(b, 32) + index * 56;

    public static List<ProgramHeader> ProgramHeaders(byte[] b)
    {
        var list = new List<ProgramHeader>();
        for (int i = 0; i < U16(b, 56); i++)
        {
            int p = ProgramHeaderOffset(b, i);
            list.Add(new ProgramHeader(i, U32(b, p), U64(b, p + 8), U64(b, p + 16), U64(b, p + 32), U64(b, p + 40), U64(b, p + 48), U32(b, p + 4)));
        }
        return list;
    }

    /// <summary>PT_LOADs with bytes, in program-header order: the segments the loader keeps.</summary>
    public static List<ProgramHeader> Loads(byte[] b) => ProgramHeaders(b).Where(p => p.Type == 1 && p.Memsz != 0).ToList();

    /// <summary>The file offset of a virtual address inside some PT_LOAD's file bytes.</summary>
    public static int FileOffset(byte[] b, ulong vaddr)
    {
        foreach (var p in ProgramHeaders(b))
            if (p.Type == 1 && vaddr >= p.Vaddr && vaddr < p.Vaddr + p.Filesz) return (int)(p.Offset + (vaddr - p.Vaddr));
        throw new InvalidOperationException($"0x{vaddr:x} is not in a PT_LOAD's file bytes");
    }

    /// <summary>The file offset of the d_tag of the dynamic entry with <paramref name="tag"/>.</summary>
    public static int DynamicEntry(byte[] b, ulong tag)
    {
        var dynamic = ProgramHeaders(b).Single(p => p.Type == 2);
        for (int at = (int)dynamic.Offset; at + 16 <= (int)(dynamic.Offset + dynamic.Filesz); at += 16)
            if (U64(b, at) == tag) return at;
        throw new InvalidOperationException($"no dynamic entry {tag}");
    }

    public static List<Rela> Relocations(byte[] b)
    {
        ulong rela = U64(b, DynamicEntry(b, 7) + 8), size = U64(b, DynamicEntry(b, 8) + 8);
        int at = FileOffset(b, rela);
        var list = new List<Rela>();
        for (int i = 0; i < (int)(size / 24); i++, at += 24)
            list.Add(new Rela(i, at, U64(b, at), U64(b, at + 8), (long)U64(b, at + 16)));
        return list;
    }
}
