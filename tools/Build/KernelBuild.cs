// The kernel build: C# -> IL (dotnet build of kernel/Kernel.csproj against kernel/runtime, with
// portable PDBs), IL -> object (ilc from the pinned ILCompiler package, -g: DWARF with file:line
// from the PDBs), boot/*.asm -> objects (nasm) and boot/*.s -> objects (GNU as: the code that
// carries DWARF CFI), all with debug information, then a two-pass link with linker.ld: the first
// pass yields the function addresses, which are written into a kallsyms table and linked into the
// second; .kallsyms sits after code and data, so the second pass moves no function and the table
// stays true (checked after linking). The DWARF sections are not loaded: the booted image is the
// same size with or without them.
using System.Diagnostics;
using System.Text.Json;
using Nmidump.Inspector;

namespace Nmidump.Build;

public static class KernelBuild
{
    // The assemblers run in the checkout's root and get paths relative to it, as the C# compiler's
    // PathMap gives (kernel/Kernel.csproj): the DWARF and the file symbols in out/kernel.elf name
    // "boot/cpu.s", never the build machine's folders.
    static string[] NasmFlags => ["-f", "elf64", "-g", "-F", "dwarf", "-I", "boot/"];
    static string[] AsFlags => ["--64", "-g", "--gdwarf-4", "--debug-prefix-map", Paths.Root + "=."];

    /// <summary>A path as the assemblers get it: relative to the checkout's root.</summary>
    static string Rel(string path) => Path.GetRelativePath(Paths.Root, path);

    static readonly string[] LdFlags = ["-n", "-nostdlib", "-static", "-z", "max-page-size=0x1000", "-z", "noexecstack",
        "--no-warn-rwx-segments", "--orphan-handling=error", "--build-id=sha1"];

    public static string Build(bool verbose = false)
    {
        Prerequisites.Ensure(Prerequisites.Need.Build);
        var sw = Stopwatch.StartNew();
        Directory.CreateDirectory(Paths.Obj);

        var (kernelDll, runtimeDll, ilc) = CompileCSharp();
        string managedObj = Path.Combine(Paths.Obj, "managed.o");
        Compile(managedObj, [kernelDll, runtimeDll, ilc], $"ilc    {Path.GetFileName(kernelDll)} {Path.GetFileName(runtimeDll)}", ilc,
            [kernelDll, runtimeDll, "--systemmodule:Runtime", "--targetos:linux", "--targetarch:x64",
             "--nativelib", "-O", "-g", "--map:" + Path.Combine(Paths.Obj, "managed.map.xml"), "-o", managedObj]);

        string bootDir = Path.Combine(Paths.Root, "boot");
        var includes = Directory.GetFiles(bootDir, "*.inc");
        var asmObjs = new List<string>();
        foreach (var asm in Directory.GetFiles(bootDir, "*.asm"))
        {
            string obj = Path.Combine(Paths.Obj, Path.GetFileNameWithoutExtension(asm) + ".o");
            Compile(obj, includes.Append(asm), $"nasm   boot/{Path.GetFileName(asm)}", "nasm", [.. NasmFlags, "-o", obj, Rel(asm)]);
            RelativeCompDir(obj, bootDir);
            asmObjs.Add(obj);
        }
        // GNU as for what must carry DWARF CFI (.cfi_*), which NASM cannot emit. DWARF 4 line
        // tables, the version ilc writes and the inspector's reader takes.
        foreach (var src in Directory.GetFiles(bootDir, "*.s"))
        {
            string obj = Path.Combine(Paths.Obj, Path.GetFileNameWithoutExtension(src) + ".o");
            Compile(obj, [src], $"as     boot/{Path.GetFileName(src)}", "as", [.. AsFlags, "-o", obj, Rel(src)]);
            asmObjs.Add(obj);
        }
        asmObjs.Sort(StringComparer.Ordinal);   // link order by file name, whichever assembler made the object

        // The layout again for the capture image, which needs one CPU's stacks, not 64.
        string layoutAsm = Path.Combine(bootDir, "layout.asm");
        string captureLayout = Path.Combine(Paths.Obj, "layout-capture.o");
        Compile(captureLayout, includes.Append(layoutAsm), "nasm   boot/layout.asm (capture image)", "nasm",
            [.. NasmFlags, "-DCAPTURE_IMAGE", "-o", captureLayout, Rel(layoutAsm)]);
        RelativeCompDir(captureLayout, bootDir);

        // boot/multiboot.asm is the first kernel's entry, boot/capture_entry.asm the capture image's.
        string Boot(string name) => Path.Combine(Paths.Obj, name + ".o");
        var common = asmObjs.Where(o => o != Boot("multiboot") && o != Boot("capture_entry") && o != Boot("layout")).Append(managedObj).ToList();
        LinkImage(Paths.KernelElf, Path.Combine(Paths.Root, "linker.ld"), common.Prepend(Boot("layout")).Prepend(Boot("multiboot")).ToList(), []);
        LinkImage(Paths.CaptureElf, Path.Combine(Paths.Root, "capture.ld"), common.Prepend(captureLayout).Prepend(Boot("capture_entry")).ToList(),
            ["-pie", "--no-dynamic-linker", "-z", "norelro", "-z", "notext"]);
        string elf = Paths.KernelElf;
        if (verbose || sw.ElapsedMilliseconds > 1000)
            Console.WriteLine($"build: out/kernel.elf ready ({new FileInfo(elf).Length / 1024} KiB file) in {sw.Elapsed.TotalSeconds:F1} s");
        return elf;
    }

    static (string KernelDll, string RuntimeDll, string Ilc) CompileCSharp()
    {
        string project = Path.Combine(Paths.Root, "kernel", "Kernel.csproj");
        var r = ProcessRunner.Run("dotnet", ["build", project, "-c", "Release", "-nologo", "-v:q", "-t:Build",
            "-getProperty:TargetPath", "-getProperty:IlcPath"]);
        int brace = r.StdOut.IndexOf('{');
        if (r.ExitCode != 0 || brace < 0)
            throw new BuildException($"dotnet build kernel/Kernel.csproj failed:\n{r.StdOut}{r.StdErr}".TrimEnd());
        using var doc = JsonDocument.Parse(r.StdOut[brace..]);
        var props = doc.RootElement.GetProperty("Properties");
        string dll = props.GetProperty("TargetPath").GetString()!;
        string ilc = props.GetProperty("IlcPath").GetString() ?? "";
        if (!File.Exists(ilc)) ilc = LocateIlc();
        string runtime = Path.Combine(Path.GetDirectoryName(dll)!, "Runtime.dll");
        return (dll, runtime, ilc);
    }

    /// <summary>The ilc binary inside the NuGet global packages folder, for the version pinned in Directory.Build.props.</summary>
    static string LocateIlc()
    {
        string props = File.ReadAllText(Path.Combine(Paths.Root, "Directory.Build.props"));
        var m = System.Text.RegularExpressions.Regex.Match(props, @"<IlcVersion>([^<]+)</IlcVersion>");
        string version = m.Success ? m.Groups[1].Value : throw new BuildException("IlcVersion is not set in Directory.Build.props");
        string packages = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
            ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        string ilc = Path.Combine(packages, "runtime.linux-x64.microsoft.dotnet.ilcompiler", version, "tools", "ilc");
        if (!File.Exists(ilc))
            throw new BuildException($"ilc {version} not found at {ilc}: the restore of runtime.linux-x64.Microsoft.DotNet.ILCompiler failed (is NuGet reachable?)");
        return ilc;
    }

    /// <summary>Two-pass link with an embedded kallsyms table; skipped when the output is newer than its inputs.</summary>
    static void LinkImage(string output, string script, List<string> objects, string[] extraFlags)
    {
        if (!Paths.Stale(output, objects.Append(script))) return;
        string name = Path.GetFileNameWithoutExtension(output);
        Step($"ld     out/{name}.elf (pass 1: addresses)");
        string emptyTable = WriteKallsymsObject(name + ".kallsyms.pass1", KallsymsWriter.Build([]));
        string pass1 = Path.Combine(Paths.Obj, name + ".pass1.elf");
        Link(script, objects.Append(emptyTable), pass1, extraFlags);
        var functions = TextSymbols(pass1);

        Step($"ld     out/{name}.elf (pass 2: {functions.Count} symbols embedded)");
        string table = WriteKallsymsObject(name + ".kallsyms", KallsymsWriter.Build(functions.Select(f => (f.Address, f.Size, f.Name))));
        Link(script, objects.Append(table), output + ".tmp", extraFlags);
        var after = TextSymbols(output + ".tmp");
        if (!after.Select(s => (s.Name, s.Address)).SequenceEqual(functions.Select(s => (s.Name, s.Address))))
            throw new BuildException($"kallsyms: function addresses moved between the two link passes of {name}.elf; check that .kallsyms follows all code in {Path.GetFileName(script)}");
        File.Move(output + ".tmp", output, overwrite: true);
    }

    /// <summary>
    /// Runs one compile step unless its output is newer than every input and was made by the same
    /// command: a "NAME.o.cmd" file beside the object keeps the command, so a changed flag (such as
    /// -g) rebuilds objects that the timestamps alone would keep.
    /// </summary>
    static void Compile(string output, IEnumerable<string> inputs, string step, string tool, string[] args)
    {
        string stamp = output + ".cmd";
        string command = string.Join('\n', args.Prepend(tool));
        if (!Paths.Stale(output, inputs) && File.Exists(stamp) && File.ReadAllText(stamp) == command) return;
        Step(step);
        ProcessRunner.Check(tool, args, Paths.Root);
        File.WriteAllText(stamp, command);
    }

    /// <summary>
    /// NASM (2.16) writes the real path of the source's folder as the unit's DW_AT_comp_dir and,
    /// unlike GNU as (--debug-prefix-map) and the C# compiler (PathMap), cannot be told otherwise.
    /// Its one copy in the object, "/real/path/boot/" and a NUL, is overwritten in place with "."
    /// and slashes, the same length (a DW_FORM_string: nothing after it moves), which names the
    /// checkout's root: the unit's relative "boot/x.asm" then resolves from there like the rest.
    /// </summary>
    static void RelativeCompDir(string obj, string sourceDir)
    {
        string real = ProcessRunner.Check("realpath", [sourceDir]).Trim();
        byte[] dir = System.Text.Encoding.UTF8.GetBytes(real.TrimEnd('/') + "/\0");
        byte[] bytes = File.ReadAllBytes(obj);
        int at = bytes.AsSpan().IndexOf(dir);
        if (at < 0) return;                                  // already done, or this nasm wrote none
        if (bytes.AsSpan(at + 1).IndexOf(dir) >= 0)
            throw new BuildException($"{Rel(obj)}: the source folder's path appears twice; expected one DW_AT_comp_dir");
        bytes[at] = (byte)'.';
        for (int i = 1; i < dir.Length - 1; i++) bytes[at + i] = (byte)'/';
        File.WriteAllBytes(obj, bytes);
    }

    static void Link(string script, IEnumerable<string> objects, string output, string[] extraFlags)
        => ProcessRunner.Check("ld", LdFlags.Concat(extraFlags).Concat(["-T", script, "-o", output]).Concat(objects));

    static string WriteKallsymsObject(string name, byte[] table)
    {
        string bin = Path.Combine(Paths.Obj, name + ".bin");
        string asm = Path.Combine(Paths.Obj, name + ".asm");
        string obj = Path.Combine(Paths.Obj, name + ".o");
        File.WriteAllBytes(bin, table);
        File.WriteAllText(asm, $"section .kallsyms progbits alloc noexec nowrite align=16\n    incbin \"{bin}\"\nsection .note.GNU-stack noalloc noexec nowrite progbits\n");
        ProcessRunner.Check("nasm", ["-f", "elf64", "-o", obj, Rel(asm)], Paths.Root);
        return obj;
    }

    /// <summary>The code symbols an oops may need to name: the same selection the inspector makes from --kernel.</summary>
    static List<(ulong Address, ulong Size, string Name)> TextSymbols(string elf)
    {
        var symbols = KernelElf.CodeSymbols(File.ReadAllBytes(elf), out string reason)
            ?? throw new BuildException($"{Paths.Relative(elf)}: {reason}");
        return symbols.OrderBy(s => s.Address).ThenBy(s => s.Name, StringComparer.Ordinal).ToList();
    }

    static void Step(string what) => Console.WriteLine($"  {what}");
}
