// The kernel and capture images one torture boots, copied once at its start: the judge compares
// the dump with the kernel that ran, so the two must be the same file even if out/ is rebuilt.
namespace Nmidump.Build;

/// <summary>A private copy of out/kernel.elf and out/capture.elf for one torture, removed when it ends.</summary>
public sealed class TortureImages : IDisposable
{
    public string Kernel { get; }
    public string Capture { get; }
    readonly string dir;

    TortureImages(string dir)
    {
        this.dir = dir;
        Kernel = Path.Combine(dir, "kernel.elf");
        Capture = Path.Combine(dir, "capture.elf");
    }

    public static TortureImages Snapshot(string dir)
    {
        Directory.CreateDirectory(dir);
        var images = new TortureImages(dir);
        File.Copy(Paths.KernelElf, images.Kernel, overwrite: true);
        File.Copy(Paths.CaptureElf, images.Capture, overwrite: true);
        return images;
    }

    public void Dispose()
    {
        if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
    }
}
