// Files the inspector cannot read: each gets exactly one line on stderr, "path: reason" in the
// readers' own words, exit status 2, nothing on stdout, and never a stack trace.
namespace Nmidump.Inspector.Tests;

public class BadFileTests : IDisposable
{
    readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>Runs the inspector on these bytes as a file and checks the one-line refusal.</summary>
    string Refused(string name, byte[] bytes)
    {
        string path = _dir.Write(name, bytes);
        var run = CliRun.Of(path);
        Assert.Equal(2, run.Exit);
        Assert.Equal("", run.Out);
        string line = Assert.Single(run.ErrLines);
        Assert.StartsWith(path + ": ", line);
        Assert.DoesNotContain(" at Nmidump", run.Err);
        Assert.DoesNotContain("Exception", run.Err);
        return line[(path.Length + 2)..].TrimEnd('\r');
    }

    static byte[] Patched(Action<byte[]> patch)
    {
        byte[] b = (byte[])FakeCrash.Default.Clone();
        patch(b);
        return b;
    }

    [Fact]
    public void MissingFile()
    {
        string path = _dir.File("absent");
        var run = CliRun.Of(path);
        Assert.Equal(2, run.Exit);
        Assert.Equal($"{path}: no such file", Assert.Single(run.ErrLines));
    }

    [Fact]
    public void Directory_IsNotAFile()
    {
        var run = CliRun.Of(_dir.Path);
        Assert.Equal(2, run.Exit);
        Assert.Equal($"{_dir.Path}: is a directory, not a file", Assert.Single(run.ErrLines));
    }

    [Fact]
    public void EmptyFile() => Assert.Equal("empty file (0 bytes)", Refused("empty", []));

    [Theory]
    [InlineData(1, 1)]
    [InlineData(2, 63)]
    [InlineData(3, 4096)]
    [InlineData(4, 1 << 20)]
    public void RandomBytes_AreNotElf(int seed, int length)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        bytes[0] = 0x42;
        Assert.Equal($"not an ELF file ({length} bytes, no 7f 45 4c 46 header)", Refused($"random{seed}", bytes));
    }

    [Fact]
    public void Elf32_IsRefused() => Assert.Equal("not ELF64 (EI_CLASS 1)", Refused("elf32", Patched(b => b[Elf.EiClass] = 1)));

    [Theory]
    [InlineData(40)]     // ARM
    [InlineData(183)]    // AArch64
    [InlineData(3)]      // i386
    public void OtherMachine_IsRefused(ushort machine)
        => Assert.Equal($"not x86-64 (e_machine {machine})", Refused($"machine{machine}", Patched(b => LittleEndian.Put16(b, Elf.EMachine, machine))));

    [Fact]
    public void BigEndian_IsRefused() => Assert.Equal("not little-endian (EI_DATA 2)", Refused("msb", Patched(b => b[Elf.EiData] = 2)));

    [Fact]
    public void Executable_IsNotACore() => Assert.Equal("not a core file (e_type 2)", Refused("exec", Patched(b => LittleEndian.Put16(b, Elf.EType, 2))));

    [Fact]
    public void SegmentPastTheEnd_IsNamed()
    {
        // PT_LOAD 1 (program header 2) claims a MiB more than the file holds.
        int ph = Elf.HeaderSize + 2 * Elf.ProgramHeaderSize;
        string reason = Refused("long", Patched(b =>
        {
            LittleEndian.Put64(b, ph + Elf.PFilesz, 0x20_0000);
            LittleEndian.Put64(b, ph + Elf.PMemsz, 0x20_0000);
        }));
        Assert.Equal($"truncated: program header 2 ends at 0x{0xA0000 + 0x20_0000:x} but the file has 0x{FakeCrash.Default.Length:x} bytes", reason);
    }

    [Fact]
    public void Truncated_AtEveryPointOfTheHeaders_AndThroughTheFile_IsRefusedWithTheReason()
    {
        byte[] full = FakeCrash.Default;
        int headers = Elf.HeaderSize + 3 * Elf.ProgramHeaderSize;
        var cuts = new List<int>();
        for (int n = 1; n < headers + 600; n++) cuts.Add(n);                  // ELF header, program headers, notes
        for (int n = headers + 600; n < full.Length; n += 4093) cuts.Add(n);  // padding and both PT_LOADs
        cuts.Add(full.Length - 1);
        foreach (int n in cuts)
        {
            string? why = Cli.Why(full.AsSpan(0, n));
            Assert.NotNull(why);
            if (n < Elf.HeaderSize) Assert.Equal($"truncated: {n} bytes, the ELF header alone needs 64", why);
            else if (n < headers) Assert.Equal($"truncated: program header table ends at 0x{headers:x} but the file has 0x{n:x} bytes", why);
            else Assert.Matches($"^truncated: program header [012] ends at 0x[0-9a-f]+ but the file has 0x{n:x} bytes$", why);
        }
        Assert.Null(Cli.Why(full));
    }

    [Theory]
    [InlineData(17)]
    [InlineData(64)]
    [InlineData(200)]
    [InlineData(0x1000)]
    [InlineData(0x50000)]
    [InlineData(0x19FFFF)]
    public void Truncated_FilesAreRefusedByTheCommand(int length)
    {
        string reason = Refused($"cut{length}", FakeCrash.Default[..length]);
        Assert.StartsWith("truncated: ", reason);
    }

    [Fact]
    public void MutatedDumps_NeverCrashTheInspector()
    {
        // Whatever a damaged dump holds, the result is a report (0) or one line (2): never an exception.
        byte[] good = FakeCrash.Default;
        var random = new Random(1234);
        for (int round = 0; round < 80; round++)
        {
            byte[] bad = (byte[])good.Clone();
            // Mostly the headers and notes, sometimes the tables in memory.
            for (int n = random.Next(1, 6); n > 0; n--)
            {
                int at = random.Next(3) switch
                {
                    0 => random.Next(0x400),
                    1 => 0xA0000 + (int)(FakeCrash.KallsymsAddress - 0x10_0000) + random.Next(0x200),
                    _ => 0xA0000 + (int)(FakeCrash.LogAddress - 0x10_0000) + random.Next(0x400),
                };
                bad[at] = (byte)random.Next(256);
            }
            var stdout = new StringWriter();
            var stderr = new StringWriter();
            int exit = Cli.InspectBytes($"mutant{round}", bad, null, null, 50, true, stdout, stderr);
            Assert.True(exit is 0 or 2, $"round {round}: exit {exit}");
            if (exit == 2)
            {
                Assert.Single(stderr.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries));
                Assert.DoesNotContain("internal error", stderr.ToString());
            }
            else
            {
                Assert.Equal("", stderr.ToString());
            }
        }
    }
}
