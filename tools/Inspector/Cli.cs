// The inspector's command line: `inspect <vmcore> [dmesg] [--kernel <kernel.elf>] [--cpu N] [--json]
// [--log-lines N] [--no-disasm]`. A file that cannot be inspected gets one line on stderr, "path:
// reason" in the readers' own words, and exit status 2; never a stack trace. Output carries no ANSI
// codes unless it is a terminal.
using System.CommandLine;
using System.CommandLine.Help;
using Spectre.Console;

namespace Nmidump.Inspector;

/// <summary>What to print: the report (text or JSON, all CPUs or one) or only the log.</summary>
public sealed record InspectOptions(int LogLines = 50, bool Disassemble = true, int? Cpu = null, bool Json = false, bool Dmesg = false);

public static class Cli
{
    public const int ExitOk = 0, ExitError = 2;

    /// <summary>The entry build.sh calls: stdout and stderr of this process.</summary>
    public static int Run(string[] args)
        => Run(args, Console.Out, Console.Error, terminal: !Console.IsOutputRedirected);

    /// <summary>
    /// Runs the command with its output going to <paramref name="stdout"/> and <paramref name="stderr"/>.
    /// Colour and terminal width are used only when <paramref name="terminal"/> is true.
    /// </summary>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr, bool terminal = false)
    {
        try
        {
            // Accept the verb too, so both `inspect out/vmcore` and `out/vmcore` work.
            if (args.Length > 0 && args[0] == "inspect") args = args[1..];
            if (args.Length > 0 && args[0] == "--crashlog") return RunCrashlog(args[1..], stdout, stderr);

            var vmcore = new Argument<string>("vmcore") { Description = "the crash dump (ELF core file, or a dump stream file to decode first)" };
            var view = new Argument<string?>("view") { Description = "dmesg: only the first kernel's whole log, as <level>[sec.usec] text (vmcore-dmesg's form)", Arity = ArgumentArity.ZeroOrOne };
            view.Validators.Add(v =>
            {
                string? value = v.GetValueOrDefault<string?>();
                if (value != null && value != "dmesg") v.AddError($"unknown view '{value}': expected dmesg");
            });
            var cpu = new Option<int?>("--cpu") { Description = "only this CPU's registers, code and backtrace", HelpName = "N" };
            cpu.Validators.Add(v =>
            {
                if (v.GetValueOrDefault<int?>() < 0) v.AddError("--cpu must be 0 or more");
            });
            var json = new Option<bool>("--json") { Description = "the whole report as one JSON document" };
            var kernel = new Option<string?>("--kernel") { Description = "the first kernel's ELF image: build id check and symbols", HelpName = "kernel.elf" };
            var logLines = new Option<int>("--log-lines") { Description = "how many of the last log lines to print", DefaultValueFactory = _ => 50, HelpName = "N" };
            logLines.Validators.Add(v =>
            {
                if (v.GetValueOrDefault<int>() < 0) v.AddError("--log-lines must be 0 or more");
            });
            var noDisasm = new Option<bool>("--no-disasm") { Description = "do not disassemble the code around each RIP" };
            // Named for the verb, so that --help's usage line reads "inspect <vmcore> ..." as build.sh takes it.
            var root = new Command("inspect", "Prints what a vmcore holds: the panic, every CPU's registers, stop state and backtrace, the crash timeline, VMCOREINFO, memory and the kernel log.")
            {
                vmcore, view, kernel, cpu, json, logLines, noDisasm, new HelpOption(),
            };
            root.SetAction(parse =>
            {
                bool dmesg = parse.GetValue(view) == "dmesg";
                if (dmesg && (parse.GetValue(json) || parse.GetValue(cpu) != null))
                {
                    stderr.WriteLine("inspect: dmesg prints the log only: it takes no --json or --cpu (see --help)");
                    return ExitError;
                }
                var options = new InspectOptions(parse.GetValue(logLines), !parse.GetValue(noDisasm), parse.GetValue(cpu), parse.GetValue(json), dmesg);
                return Inspect(parse.GetRequiredValue(vmcore), parse.GetValue(kernel), options, stdout, stderr, terminal);
            });

            // No @response files: a dump path may start with '@'.
            ParseResult result = root.Parse(args, new ParserConfiguration { ResponseFileTokenReplacer = null });
            if (result.Errors.Count > 0)
            {
                stderr.WriteLine($"inspect: {string.Join("; ", result.Errors.Select(e => e.Message))} (see --help)");
                return ExitError;
            }
            return result.Invoke(new InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false });
        }
        catch (Exception e)
        {
            // The readers do not throw; this is the guard for whatever else might.
            stderr.WriteLine($"inspect: internal error: {e.GetType().Name}: {e.Message.ReplaceLineEndings(" ")}");
            return ExitError;
        }
    }

    /// <summary>`inspect --crashlog FILE [--kernel kernel.elf]`: the RAM crashlog out of a raw memory image.</summary>
    static int RunCrashlog(string[] args, TextWriter stdout, TextWriter stderr)
    {
        string? file = null, kernel = null;
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--kernel" && i + 1 < args.Length) kernel = args[++i];
            else if (!args[i].StartsWith("--") && file == null) file = args[i];
            else
            {
                stderr.WriteLine($"inspect: --crashlog takes a memory image and optionally --kernel kernel.elf, not '{args[i]}'");
                return ExitError;
            }
        }
        if (file == null)
        {
            stderr.WriteLine("inspect: --crashlog needs a raw memory image from physical address 0 (QMP pmemsave)");
            return ExitError;
        }
        return CrashlogReport.Run(file, kernel, stdout, stderr);
    }

    static int Inspect(string path, string? kernelPath, InspectOptions options, TextWriter stdout, TextWriter stderr, bool terminal)
    {
        try
        {
            KernelElf? kernel = null;
            if (kernelPath != null)
            {
                using MappedFile k = MappedFile.Open(kernelPath);
                kernel = KernelElf.Read(k.Span, out string why);
                if (kernel == null) return Fail(stderr, kernelPath, why);
            }

            using MappedFile file = MappedFile.Open(path);
            if (file.Length <= MappedFile.MaxSpanLength)
                return InspectBytes(path, file.Span, kernel, kernelPath, options, stdout, stderr, terminal);
            return InspectLarge(path, file, kernel, kernelPath, options, stdout, stderr, terminal);
        }
        catch (DumpFileException e)
        {
            stderr.WriteLine(e.Message);
            return ExitError;
        }
        catch (Exception e)
        {
            return Fail(stderr, path, $"internal error: {e.GetType().Name}: {e.Message.ReplaceLineEndings(" ")}");
        }
    }

    /// <summary>
    /// Inspects a file's bytes (what <c>inspect</c> does once the files are open): the report on
    /// <paramref name="stdout"/> and exit 0, or one line "name: reason" on <paramref name="stderr"/> and exit 2.
    /// </summary>
    public static int InspectBytes(string name, ReadOnlySpan<byte> bytes, KernelElf? kernel, string? kernelPath, int logLines, bool disassemble,
        TextWriter stdout, TextWriter stderr, bool terminal = false)
        => InspectBytes(name, bytes, kernel, kernelPath, new InspectOptions(logLines, disassemble), stdout, stderr, terminal);

    public static int InspectBytes(string name, ReadOnlySpan<byte> bytes, KernelElf? kernel, string? kernelPath, InspectOptions options,
        TextWriter stdout, TextWriter stderr, bool terminal = false)
    {
        try
        {
            string? decodedFrom = null;
            if (bytes.StartsWith("NMIDUMP1"u8))
            {
                // Handed the channel file rather than the vmcore: decode it here, the receiver's way.
                DumpStream.Result check = DumpStream.Decode(bytes, default);
                if (!check.Ok) return Fail(stderr, name, "a dump stream that does not decode: " + DumpReceiver.Describe(check));
                byte[] decoded = new byte[check.Length];
                DumpStream.Result copy = DumpStream.Decode(bytes, decoded);
                if (!copy.Ok) return Fail(stderr, name, "a dump stream that does not decode: " + DumpReceiver.Describe(copy));
                decodedFrom = $"decoded from a dump stream: {DumpReceiver.Describe(check)}";
                bytes = decoded;
            }

            if (Why(bytes) is string reason) return Fail(stderr, name, reason);
            Inspection r = DumpInspector.Inspect(name, bytes, kernel, kernelPath, LogLines(options), options.Disassemble && !options.Dmesg);
            r.DecodedFrom = decodedFrom;
            return Present(name, r, options, stdout, stderr, terminal);
        }
        catch (Exception e)
        {
            return Fail(stderr, name, $"internal error: {e.GetType().Name}: {e.Message.ReplaceLineEndings(" ")}");
        }
    }

    static int LogLines(InspectOptions options) => options.Dmesg ? int.MaxValue : options.LogLines;

    /// <summary>What every inspection ends with: the report, JSON, or the log alone, as the options ask.</summary>
    static int Present(string name, Inspection r, InspectOptions options, TextWriter stdout, TextWriter stderr, bool terminal)
    {
        if (options.Dmesg) return Dmesg(name, r, stdout, stderr);
        if (options.Cpu is int only && !KeepOnly(r, only, out string why)) return Fail(stderr, name, why);
        if (options.Json)
        {
            using var json = new MemoryStream();
            JsonReport.Write(r, json);
            stdout.WriteLine(System.Text.Encoding.UTF8.GetString(json.ToArray()));
            return ExitOk;
        }
        var writer = terminal ? stdout : new TrimmingWriter(stdout);
        Report.Write(r, CreateConsole(writer, terminal), terminal);
        writer.Flush();
        return ExitOk;
    }

    /// <summary>
    /// A vmcore past 2 GiB (a full dump of a big machine) read through its mapping; a dump stream that
    /// large is for the receiver, which reads it chunk by chunk.
    /// </summary>
    static unsafe int InspectLarge(string name, MappedFile file, KernelElf? kernel, string? kernelPath, InspectOptions options,
        TextWriter stdout, TextWriter stderr, bool terminal)
    {
        if (file.Span.StartsWith("NMIDUMP1"u8))
            return Fail(stderr, name, $"a dump stream of {file.Length} bytes: turn it into a vmcore with ./build.sh receive first");
        if (!VmcoreFile.Open(file.Pointer, (ulong)file.Length, out VmcoreFile core, out ElfCoreError error))
            return Fail(stderr, name, DumpInspector.Describe(error));
        Inspection r = DumpInspector.Inspect(name, core, kernel, kernelPath, LogLines(options), options.Disassemble && !options.Dmesg);
        return Present(name, r, options, stdout, stderr, terminal);
    }

    /// <summary>vmcore-dmesg with levels: every record of the first kernel's log, nothing else; warnings to stderr.</summary>
    static int Dmesg(string name, Inspection r, TextWriter stdout, TextWriter stderr)
    {
        if (r.Log.Count == 0)
        {
            string why = r.Warnings.FirstOrDefault(w => w.Contains("log", StringComparison.OrdinalIgnoreCase)) ?? "the log ring holds no record";
            return Fail(stderr, name, "no kernel log: " + why);
        }
        foreach (string line in r.Log) stdout.WriteLine(line);
        foreach (string w in r.Warnings.Where(w => w.Contains("log", StringComparison.OrdinalIgnoreCase))) stderr.WriteLine($"{name}: warning: {w}");
        return ExitOk;
    }

    /// <summary>--cpu N: drops every other CPU from the report; false when the dump does not know CPU N.</summary>
    static bool KeepOnly(Inspection r, int cpu, out string why)
    {
        var known = r.Cpus.Select(c => c.Cpu).Concat(r.MissingCpus.Select(m => m.Cpu)).Distinct().Order().ToList();
        why = $"--cpu {cpu}: the dump knows no CPU {cpu} (it has CPU{(known.Count == 1 ? "" : "s")} {(known.Count == 0 ? "none" : string.Join(",", known))})";
        if (!known.Contains(cpu)) return false;
        r.Cpus.RemoveAll(c => c.Cpu != cpu);
        r.MissingCpus.RemoveAll(m => m.Cpu != cpu);
        r.StopStatuses.RemoveAll(s => s.Cpu != (uint)cpu);
        r.OnlyCpu = cpu;
        return true;
    }

    /// <summary>Why the file is not a vmcore the readers accept, or null if it is one.</summary>
    public static string? Why(ReadOnlySpan<byte> file)
    {
        if (file.Length == 0) return "empty file (0 bytes)";
        // The reader calls anything shorter than an ELF header "not ELF"; if what is there starts the magic, it was cut.
        if (file.Length < Elf.HeaderSize && file.StartsWith("\u007fELF"u8.Slice(0, Math.Min(4, file.Length))))
            return $"truncated: {file.Length} bytes, the ELF header alone needs {Elf.HeaderSize}";
        return VmcoreFile.Open(file, out _, out ElfCoreError error) ? null : DumpInspector.Describe(error);
    }

    static int Fail(TextWriter stderr, string path, string reason)
    {
        stderr.WriteLine($"{path}: {reason}");
        return ExitError;
    }

    /// <summary>Plain text when not a terminal: no ANSI, no colour, ASCII borders, a width that keeps table rows whole.</summary>
    static IAnsiConsole CreateConsole(TextWriter output, bool terminal)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = terminal ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = terminal ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Interactive = terminal ? InteractionSupport.Detect : InteractionSupport.No,
            Out = new AnsiConsoleOutput(output),
        });
        // Redirected, a row must not wrap at the 80 columns Spectre assumes: long symbol names are common.
        if (!terminal) console.Profile.Width = 240;
        return console;
    }

    /// <summary>Drops the spaces Spectre pads table rows with, so redirected output has no trailing blanks.</summary>
    sealed class TrimmingWriter(TextWriter inner) : TextWriter
    {
        readonly System.Text.StringBuilder _line = new();

        public override System.Text.Encoding Encoding => inner.Encoding;

        public override void Write(char value)
        {
            if (value == '\n')
            {
                int end = _line.Length;
                while (end > 0 && _line[end - 1] == ' ') end--;
                inner.WriteLine(_line.ToString(0, end));
                _line.Clear();
            }
            else if (value != '\r')
            {
                _line.Append(value);
            }
        }

        public override void Flush()
        {
            inner.Write(_line.ToString());
            _line.Clear();
            inner.Flush();
        }
    }
}
