// `inspect --crashlog FILE [--kernel kernel.elf]`: the RAM crashlog (kernel/dump/RamCrashlog.cs) read
// out of a raw image of guest memory from physical 0 (QMP pmemsave, or any dump of RAM). The area
// is found by its magic on a page boundary whose offset matches the address its header records (a
// copy elsewhere in memory is not the record); it is printed only when its CRCs hold.
using System.Text;

namespace Nmidump.Inspector;

public static class CrashlogReport
{
    public static int Run(string path, string? kernelPath, TextWriter stdout, TextWriter stderr)
    {
        try
        {
            SymbolTable? symbols = null;
            string? kernelId = null;
            if (kernelPath != null)
            {
                using MappedFile k = MappedFile.Open(kernelPath);
                var kernel = KernelElf.Read(k.Span, out string why);
                if (kernel == null) return Fail(stderr, kernelPath, why);
                symbols = new SymbolTable(kernel.Symbols, Paths(kernelPath));
                kernelId = kernel.BuildId;
            }
            using MappedFile file = MappedFile.Open(path);
            ReadOnlySpan<byte> image = file.Span;
            for (long at = 0; at + RamCrashlog.Size <= image.Length; at += 4096)
            {
                ReadOnlySpan<byte> area = image.Slice((int)at, RamCrashlog.Size);
                if (!RamCrashlog.LooksLikeArea(area)) continue;
                CrashlogStatus status = RamCrashlog.Read(area, out CrashlogRecord r);
                if (status == CrashlogStatus.Valid && r.AreaAddress != (ulong)at) continue;
                if (status == CrashlogStatus.Damaged)
                {
                    LogLine l = default;
                    RamCrashlog.Describe(ref l, in r);
                    return Fail(stderr, path, $"the crashlog at 0x{at:x} is damaged ({Encoding.ASCII.GetString(l.AsSpan())}); not trusted");
                }
                Print(stdout, at, ref r, symbols, kernelId, kernelPath);
                return Cli.ExitOk;
            }
            return Fail(stderr, path, "no crashlog record (no page starts with an NMIDCLOG header that names its own address)");
        }
        catch (DumpFileException e)
        {
            stderr.WriteLine(e.Message);
            return Cli.ExitError;
        }
    }

    static string Paths(string p) => Path.GetFileName(p);

    static void Print(TextWriter o, long at, ref CrashlogRecord r, SymbolTable? symbols, string? kernelId, string? kernelPath)
    {
        string id = Encoding.ASCII.GetString(r.BuildId);
        o.WriteLine($"crashlog   at 0x{at:x}, generation {r.Generation}, {(r.Reported ? "reported by a later boot" : "not reported yet")}");
        o.WriteLine($"panic      {Encoding.ASCII.GetString(r.Reason)} (CPU {r.CrashCpu})");
        var when = DateTimeOffset.FromUnixTimeSeconds((long)Math.Min(r.CrashTime, 253402300799UL));
        o.WriteLine($"time       {when:yyyy-MM-dd HH:mm:ss} UTC ({r.CrashTime}), {r.UptimeNs / 1_000_000} ms after boot");
        string match = kernelId == null ? "" : kernelId == id ? $" (matches {kernelPath})" : $" (differs from {kernelPath}'s {kernelId}: no symbols)";
        o.WriteLine($"build-id   {id}{match}");
        if (kernelId != id) symbols = null;
        o.WriteLine($"cpus       {r.CpuCount}");
        for (int i = 0; i < r.CpuCount; i++)
        {
            CrashlogCpu c = r.Cpu(i);
            LogLine state = default;
            new CpuStopStatus(c.Cpu, c.ApicId, c.State, c.WaitedMs, 0).Describe(ref state);
            string regs = c.Rip == 0 ? "no registers" : $"rip {c.Rip:x16}{(symbols?.Describe(c.Rip) is string s ? " " + s : "")} rsp {c.Rsp:x16}";
            o.WriteLine($"  CPU {c.Cpu,-3} apic {c.ApicId,-3} {regs}  {Encoding.ASCII.GetString(state.AsSpan())}");
        }
        string[] lines = Encoding.ASCII.GetString(r.Log).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        o.WriteLine($"log        the last {lines.Length} lines");
        foreach (var line in lines) o.WriteLine("  " + line);
    }

    static int Fail(TextWriter stderr, string path, string reason)
    {
        stderr.WriteLine($"{path}: {reason}");
        return Cli.ExitError;
    }
}
