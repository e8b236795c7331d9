// Where things are: the repository root (found from this tool's location or the working
// directory) and the output folders under out/.
namespace Nmidump.Build;

public static class Paths
{
    public static string Root { get; } = FindRoot();
    public static string Out => Path.Combine(Root, "out");
    public static string Obj => Path.Combine(Out, "kbuild");
    public static string KernelElf => Path.Combine(Out, "kernel.elf");
    public static string CaptureElf => Path.Combine(Out, "capture.elf");

    static string FindRoot()
    {
        foreach (var start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir != null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "linker.ld")) && Directory.Exists(Path.Combine(dir.FullName, "boot")))
                    return dir.FullName;
        }
        throw new BuildException("cannot find the repository root (a folder with linker.ld and boot/)");
    }

    /// <summary>True when the output is missing or older than any input.</summary>
    public static bool Stale(string output, IEnumerable<string> inputs)
    {
        if (!File.Exists(output)) return true;
        var t = File.GetLastWriteTimeUtc(output);
        return inputs.Any(i => File.GetLastWriteTimeUtc(i) > t);
    }

    public static string Relative(string path) => Path.GetRelativePath(Environment.CurrentDirectory, path);
}
