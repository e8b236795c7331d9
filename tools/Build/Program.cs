// The build driver's front door: one verb per job. build.sh and build.ps1 only start this.
using System.CommandLine;
using System.CommandLine.Parsing;

namespace Nmidump.Build;

public static class Program
{
    const string Usage = """
        usage: ./build.sh <verb> [options]

          build                  compile the kernel into out/kernel.elf
          run [options]          boot the kernel in QEMU with the capture image armed, inject an NMI,
                                 receive and verify the vmcore into out/vmcore, print its summary
              --smp N            CPUs, 1-255 (default 4)
              --mem MiB          memory, 64 MiB to 64 GiB (default 256)
              --dump-level N     the capture kernel's dump_level= (makedumpfile's -d mask: 1 zero
                                 pages as holes, 16 free pages left out; default 31, 0 = full dump)
              --append "..."     extra kernel parameters (after apic_extnmi=all unknown_nmi_panic crashkernel=16M)
              --nmi-delay-ms N   wait N ms after boot before the NMI (default 0)
              --no-nmi           do not inject an NMI (use with --append crashtest=...)
              --channels C       window (default), debugcon or both
              --out DIR          where vmcore, serial.log and the channel files go (default out/)
              --timeout S        give up after S seconds (default 300)
              --keep-window      keep the window file as out/vmcore.window
          iso [--out FILE] [--test-config FILE] [--no-build]
                                 write out/nmidump.iso: a BIOS-bootable GRUB ISO of the kernel and the
                                 capture image (kdump armed, dump on COM2; a second entry without kdump)
          receive <channel file> <vmcore>
                                 check a saved transfer (window, debugcon or COM2 file) and write the vmcore
          inspect <vmcore> [--kernel out/kernel.elf] [--cpu N] [--json]
                                 print a vmcore's panic, CPUs and how they stopped, registers, code,
                                 a call trace per CPU, the crash timeline, VMCOREINFO and log
          inspect <vmcore> dmesg print the first kernel's log as <level>[sec.usec] text
          inspect --crashlog <memory image> [--kernel out/kernel.elf]
                                 print the RAM crashlog record found in a raw image of guest memory
                                 from physical 0 (QMP pmemsave)
          test [filter]          run every test suite; ends with "N passed, M failed"
                                 (a filter is passed to dotnet test as --filter)
          bench boot [--runs N] [--smp 1,8,64]
                                 boot timings (host wall time, medians) beside the poweroff_at_entry floor
          bench shootdown [--runs N] [--smp 2,8,64] [--extnmi bsp,all]
                                 guest-measured NMI shootdown time, per apic_extnmi= mode
          bench kexec [--runs N] [--smp 4] [--append "..."]
                                 guest time from the panic to the capture kernel, and the digest's share
          bench dump [--cases 1024:31,1024:0,16384:31] [--smp 4] [--runs N] [--no-qemu]
                                 NMI to verified vmcore on the host per guest MiB:dump_level,
                                 beside QEMU's dump-guest-memory
          torture [--runs N] [--seed S] [--jobs J] [--keep-failures DIR] [--replay S:K]
                                 randomized race torture: each run draws CPUs (1-16), RAM (128M-1G),
                                 apic_extnmi=, unknown_nmi_panic, crash_kexec_post_notifiers, a crashtest
                                 scenario and 1-3 NMIs at moments from the first console line, and is
                                 judged by what must hold for its draw; ends with "N passed, M failed"
          fuzz [--target params|coreheader|framing|vmcore] [--iterations N] [--seed S]
                                 fuzz the boot-parameter parser, the capture kernel's core header
                                 reader, the transfer framing decoder and the inspector's vmcore
                                 reader with N generated and mutated inputs each (default 1000000)
          params                 list the kernel's boot parameters
          clean                  remove out/
        """;

    public static int Main(string[] args)
    {
        if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
        {
            Console.WriteLine(Usage);
            return args.Length == 0 ? 2 : 0;
        }
        try
        {
            return args[0] switch
            {
                "build" => BuildOnly(),
                "iso" => IsoCommand.Run(args[1..]),
                "run" => RunCommand.Run(args[1..]),
                "inspect" => InspectCommand.Run(args[1..]),
                "receive" => ReceiveCommand.Run(args[1..]),
                "test" => TestCommand.Run(args[1..]),
                "params" => ParamsCommand.Run(),
                "bench" => BenchCommand.Run(args[1..]),
                "torture" => TortureCommand.Run(args[1..]),
                "fuzz" => FuzzCommand.Run(args[1..]),
                "clean" => Clean(),
                _ => UnknownVerb(args[0]),
            };
        }
        catch (BuildException e)
        {
            Console.Error.WriteLine($"build: error: {e.Message}");
            return 1;
        }
        catch (UsageException e)
        {
            Console.Error.WriteLine($"build: {e.Message}");
            Console.Error.WriteLine(Usage);
            return 2;
        }
    }

    static int BuildOnly()
    {
        KernelBuild.Build(verbose: true);
        return 0;
    }

    static int Clean()
    {
        if (Directory.Exists(Paths.Out)) Directory.Delete(Paths.Out, recursive: true);
        Console.WriteLine("build: removed out/");
        return 0;
    }

    static int UnknownVerb(string verb)
    {
        Console.Error.WriteLine($"build: unknown verb '{verb}'");
        Console.Error.WriteLine(Usage);
        return 2;
    }
}

public sealed class UsageException(string message) : Exception(message);

/// <summary>
/// A verb's options, read by System.CommandLine: `--name value` or `--name=value` pairs (the last
/// one counts when a name comes twice), flags that take no value, the other words in order. Each
/// verb names the options it knows; anything else, or a pair without its value, is a usage error
/// naming the option. No response files: a word starting with @ is an ordinary word (a kernel
/// command line may hold one).
/// </summary>
public sealed class Options
{
    readonly Dictionary<string, string> _values = new();
    /// <summary>Options that take no value.</summary>
    static readonly string[] Flags = ["--no-nmi", "--no-disasm", "--no-build", "--keep-window", "--no-qemu", "--record"];
    public List<string> Positional { get; } = new();

    public Options(string[] args, params string[] known)
    {
        var command = new Command("verb");
        var words = new Argument<string[]>("words") { Arity = ArgumentArity.ZeroOrMore };
        command.Arguments.Add(words);
        // A pair may be given again (a caller's default, then the user's): the last one counts.
        var options = known.Select(name => Flags.Contains(name) ? (Option)new Option<bool>(name) : new Option<string[]>(name) { Arity = ArgumentArity.OneOrMore }).ToList();
        foreach (var o in options) command.Options.Add(o);
        ParseResult r = command.Parse(args, new ParserConfiguration { ResponseFileTokenReplacer = null });
        foreach (ParseError e in r.Errors)
            throw new UsageException(e.SymbolResult is OptionResult { Option: var o, Tokens.Count: 0 } ? $"option {o.Name} needs a value" : e.Message);
        foreach (string w in r.GetValue(words) ?? [])
        {
            // System.CommandLine hands a word it does not know as an option to the argument.
            if (w.StartsWith("--")) throw new UsageException($"unknown option {(w.IndexOf('=') is > 0 and int eq ? w[..eq] : w)}");
            Positional.Add(w);
        }
        foreach (var o in options)
        {
            if (r.GetResult(o) is not OptionResult { Implicit: false }) continue;
            if (o is Option<bool> flag) { if (r.GetValue(flag)) _values[o.Name] = "true"; }    // --flag=false: as if absent
            else _values[o.Name] = r.GetValue((Option<string[]>)o)![^1];
        }
    }

    public string? Get(string name) => _values.TryGetValue(name, out var v) ? v : null;

    public int GetInt(string name, int fallback, int min, int max)
    {
        var v = Get(name);
        if (v == null) return fallback;
        if (!int.TryParse(v, out int n) || n < min || n > max)
            throw new UsageException($"{name} {v}: expected an integer from {min} to {max}");
        return n;
    }
}
