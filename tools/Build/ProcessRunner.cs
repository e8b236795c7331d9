// Runs the external tools of the build (dotnet, ilc, nasm, ld) and turns a failure into a
// BuildException that carries the command and its output, so the user sees what broke.
using System.Diagnostics;
using System.Text;

namespace Nmidump.Build;

public sealed class BuildException(string message) : Exception(message);

public static class ProcessRunner
{
    public sealed record Result(int ExitCode, string StdOut, string StdErr);

    public static Result Run(string file, IEnumerable<string> args, string? workDir = null, bool echo = false)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = workDir ?? Environment.CurrentDirectory,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        Process p;
        try
        {
            p = Process.Start(psi) ?? throw new BuildException($"could not start {file}");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new BuildException($"could not start {file}: {e.Message}");
        }
        p.StandardInput.Close();
        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        p.OutputDataReceived += (_, e) => { if (e.Data == null) return; lock (stdout) stdout.AppendLine(e.Data); if (echo) Console.WriteLine(e.Data); };
        p.ErrorDataReceived += (_, e) => { if (e.Data == null) return; lock (stderr) stderr.AppendLine(e.Data); if (echo) Console.Error.WriteLine(e.Data); };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        p.WaitForExit();
        return new Result(p.ExitCode, stdout.ToString(), stderr.ToString());
    }

    /// <summary>Runs a tool and throws with its command line and output when it fails.</summary>
    public static string Check(string file, IEnumerable<string> args, string? workDir = null)
    {
        var list = args.ToList();
        var r = Run(file, list, workDir);
        if (r.ExitCode != 0)
            throw new BuildException($"{file} {string.Join(' ', list)} failed with status {r.ExitCode}:\n{r.StdOut}{r.StdErr}".TrimEnd());
        return r.StdOut;
    }

    public static bool OnPath(string tool) => FindOnPath(tool) != null;

    public static string? FindOnPath(string tool)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator))
        {
            if (dir.Length == 0) continue;
            var candidate = Path.Combine(dir, tool);
            if (File.Exists(candidate)) return candidate;
        }
        return null;
    }
}
