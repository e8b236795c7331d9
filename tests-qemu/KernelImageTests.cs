// The built image itself: a multiboot header QEMU accepts (with the a.out kludge), an embedded
// kallsyms table that agrees with the ELF symbol table, and debug information that names sources
// relative to the checkout, never the build machine's folders.
using System.Buffers.Binary;
using Xunit;

namespace Nmidump.QemuTests;

public class KernelImageTests
{
    [Fact]
    public void MultibootHeader_HasTheAoutKludgeInTheFirst8KiB()
    {
        byte[] image = File.ReadAllBytes(Kernel.Image);
        int at = -1;
        for (int i = 0; i + 12 <= Math.Min(image.Length, 8192); i += 4)
            if (BinaryPrimitives.ReadUInt32LittleEndian(image.AsSpan(i)) == 0x1BADB002) { at = i; break; }
        Assert.True(at >= 0, "no multiboot magic in the first 8 KiB");
        uint flags = BinaryPrimitives.ReadUInt32LittleEndian(image.AsSpan(at + 4));
        uint checksum = BinaryPrimitives.ReadUInt32LittleEndian(image.AsSpan(at + 8));
        Assert.Equal(0u, unchecked(0x1BADB002u + flags + checksum));
        Assert.NotEqual(0u, flags & (1u << 16));
    }

    [Fact]
    public void TheImages_NameNoFolderOfTheBuildMachine_AndGdbFindsEachKindOfSourceInTheCheckout()
    {
        byte[] root = System.Text.Encoding.UTF8.GetBytes(Kernel.Root);
        foreach (string image in new[] { Kernel.Image, Path.Combine(Kernel.Root, "out", "capture.elf") })
            Assert.True(File.ReadAllBytes(image).AsSpan().IndexOf(root) < 0, $"{image} holds the checkout's path {Kernel.Root}");

        // C# (ilc, PathMap), GNU as (--debug-prefix-map) and NASM (its comp_dir rewritten): gdb names
        // a file inside the checkout and lists the line from it.
        ulong start32 = ElfFile.Read(Kernel.Image).Symbols.First(s => s.Name == "_start32").Address;
        var (status, gdb) = DumpTests.Tool("gdb", "-batch", "-nx", Kernel.Image, "-ex", $"directory {Kernel.Root}",
            "-ex", "info line Kernel_Crashtest__VictimPart", "-ex", "list Kernel_Crashtest__VictimPart",
            "-ex", "info line cpu_idle", "-ex", "list cpu_idle",
            "-ex", $"info line *0x{start32:x}", "-ex", $"list *0x{start32:x}");
        Assert.True(status == 0, gdb);
        Assert.Matches(@"Line \d+ of ""\./kernel/debug/Crashtest\.cs""", gdb);
        Assert.Contains("static void VictimPart()", gdb);
        Assert.Matches(@"Line \d+ of ""boot/cpu\.s""", gdb);
        Assert.Contains("FUNC cpu_idle", gdb);
        Assert.Matches(@"Line \d+ of ""boot/multiboot\.asm""", gdb);
        Assert.Contains("global _start32", gdb);
        Assert.DoesNotContain("No such file", gdb);
    }

    [Fact]
    public void EmbeddedKallsyms_NamesEveryFunctionAtItsElfAddress()
    {
        var elf = ElfFile.Read(Kernel.Image);
        byte[] table = elf.SectionBytes(".kallsyms");
        Assert.True(table.Length > 16, "the .kallsyms section is empty");
        var functions = elf.Symbols.Where(s => s.IsFunction && s.Size > 0).ToList();
        Assert.True(functions.Count > 50, $"only {functions.Count} functions in the ELF symbol table");
        foreach (var f in functions)
        {
            Assert.True(Kallsyms.Lookup(table, f.Address + f.Size / 2, out ReadOnlySpan<byte> name, out ulong offset, out ulong size),
                $"kallsyms has nothing for {f.Name} at 0x{f.Address:x}");
            string found = System.Text.Encoding.ASCII.GetString(name);
            Assert.Equal(f.Address + f.Size / 2 - offset, elf.Symbols.First(s => s.Name == found).Address);
        }
        Assert.True(Kallsyms.Lookup(table, elf.Symbols.First(s => s.Name == "cpu_idle").Address, out ReadOnlySpan<byte> idle, out ulong off0, out _));
        Assert.Equal("cpu_idle", System.Text.Encoding.ASCII.GetString(idle));
        Assert.Equal(0UL, off0);
    }
}
