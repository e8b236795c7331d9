// The kernel build: C# -> IL (dotnet build of kernel/Kernel.csproj against kernel/runtime),
// IL -> object (ilc from the pinned ILCompiler package), boot/*.asm -> objects (nasm), then a
// two-pass link with linker.ld: the first pass yields the function addresses, which are written
// into a kallsyms table and linked into the second; .kallsyms sits after code and data, so the
// second pass moves no function and the table stays true (checked after linking).
using System.Diagnostics;
using System.Text.Json;

namespace Nmidump.Build;

public static class KernelBuild
{
    static readonly string[] LdFlags = ["-n", "-nostdlib", "-static", "-z", "max-page-size=0x1000", "-z", "noexecstack",
        "--no-warn-rwx-segments", "--orphan-handling=error", "--build-id=sha1"];

    public static string Build(bool verbose = false)
    {
        Prerequisites.Ensure(Prerequisites.Need.Build);
        var sw = Stopwatch.StartNew();
        Directory.CreateDirectory(Paths.Obj);

        var (kernelDll, runtimeDll, ilc) = CompileCSharp();
        string managedObj = Path.Combine(Paths.Obj, "managed.o");
        if (Paths.Stale(managedObj, [kernelDll, runtimeDll, ilc]))
        {
            Step($"ilc    {Path.GetFileName(kernelDll)} {Path.GetFileName(runtimeDll)}");
            ProcessRunner.Check(ilc, [kernelDll, runtimeDll, "--systemmodule:Runtime", "--targetos:linux", "--targetarch:x64",
                "--nativelib", "-O", "--map:" + Path.Combine(Paths.Obj, "managed.map.xml"), "-o", managedObj]);
        }

        var asmObjs = new List<string>();
        foreach (var asm in Directory.GetFiles(Path.Combine(Paths.Root, "boot"), "*.asm").Order())
        {
            string obj = Path.Combine(Paths.Obj, Path.GetFileNameWithoutExtension(asm) + ".o");
            var includes = Directory.GetFiles(Path.Combine(Paths.Root, "boot"), "*.inc");
            if (Paths.Stale(obj, includes.Append(asm)))
            {
                Step($"nasm   boot/{Path.GetFileName(asm)}");
                ProcessRunner.Check("nasm", ["-f", "elf64", "-I", Path.Combine(Paths.Root, "boot") + "/", "-o", obj, asm]);
            }
            asmObjs.Add(obj);
        }

        string linkerScript = Path.Combine(Paths.Root, "linker.ld");
        var objects = asmObjs.Append(managedObj).ToList();
        string elf = Paths.KernelElf;
        if (Paths.Stale(elf, objects.Append(linkerScript)))
        {
            Step("ld     out/kernel.elf (pass 1: addresses)");
            string emptyTable = WriteKallsymsObject("kallsyms.pass1", KallsymsWriter.Build([]));
            string pass1 = Path.Combine(Paths.Obj, "kernel.pass1.elf");
            Link(linkerScript, objects.Append(emptyTable), pass1);
            var functions = TextSymbols(pass1);

            Step($"ld     out/kernel.elf (pass 2: {functions.Count} symbols embedded)");
            string table = WriteKallsymsObject("kallsyms", KallsymsWriter.Build(functions.Select(f => (f.Address, f.Size, f.Name))));
            Link(linkerScript, objects.Append(table), elf + ".tmp");
            var after = TextSymbols(elf + ".tmp");
            if (!after.Select(s => (s.Name, s.Address)).SequenceEqual(functions.Select(s => (s.Name, s.Address))))
                throw new BuildException("kallsyms: function addresses moved between the two link passes; check that .kallsyms follows all code in linker.ld");
            File.Move(elf + ".tmp", elf, overwrite: true);
        }
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

    static void Link(string script, IEnumerable<string> objects, string output)
        => ProcessRunner.Check("ld", LdFlags.Concat(["-T", script, "-o", output]).Concat(objects));

    static string WriteKallsymsObject(string name, byte[] table)
    {
        string bin = Path.Combine(Paths.Obj, name + ".bin");
        string asm = Path.Combine(Paths.Obj, name + ".asm");
        string obj = Path.Combine(Paths.Obj, name + ".o");
        File.WriteAllBytes(bin, table);
        File.WriteAllText(asm, $"section .kallsyms progbits alloc noexec nowrite align=16\n    incbin \"{bin}\"\nsection .note.GNU-stack noalloc noexec nowrite progbits\n");
        ProcessRunner.Check("nasm", ["-f", "elf64", "-o", obj, asm]);
        return obj;
    }

    /// <summary>The symbols inside [__text_start, __text_end): what an oops may need to name.</summary>
    static List<ElfSymbols.Symbol> TextSymbols(string elf)
    {
        var all = ElfSymbols.Read(elf);
        ulong lo = all.First(s => s.Name == "__text_start").Address;
        ulong hi = all.First(s => s.Name == "__text_end").Address;
        // NASM's local labels (cpu_idle.again) would split their function in two: leave them out.
        return all.Where(s => s.Address >= lo && s.Address < hi && !s.Name.StartsWith("__text_") && !s.Name.StartsWith("_lsda") && !s.Name.Contains('.'))
                  .OrderBy(s => s.Address).ThenBy(s => s.Name, StringComparer.Ordinal).ToList();
    }

    static void Step(string what) => Console.WriteLine($"  {what}");
}
