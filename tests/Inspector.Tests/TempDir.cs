namespace Nmidump.Inspector.Tests;

/// <summary>A fresh directory per test, removed afterwards.</summary>
sealed class TempDir : IDisposable
{
    public string Path { get; }

    /// <param name="inMemory">Under /dev/shm when it exists: files of gigabytes, mostly holes, read as fast as memory.</param>
    public TempDir(bool inMemory = false)
    {
        Path = inMemory && Directory.Exists("/dev/shm")
            ? Directory.CreateDirectory(System.IO.Path.Combine("/dev/shm", $"nmidump-inspector-{Guid.NewGuid():N}")).FullName
            : Directory.CreateTempSubdirectory("nmidump-inspector-").FullName;
    }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public string Write(string name, byte[] bytes)
    {
        string path = File(name);
        System.IO.File.WriteAllBytes(path, bytes);
        return path;
    }

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
    }
}
