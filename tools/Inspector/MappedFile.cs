// A file's bytes mapped read-only rather than read, so a 1 GiB dump costs no copy. Any size maps
// (a 64 GiB full dump): Pointer and Length cover it all; Span is the first 2 GiB, which is what the
// span readers (KernelElf, a small vmcore) take, while VmcoreFile reads a larger one through the pointer.
using System.IO.MemoryMappedFiles;

namespace Nmidump.Inspector;

/// <summary>The first <see cref="Length"/> bytes of a file, mapped read-only.</summary>
public sealed unsafe class MappedFile : IDisposable
{
    /// <summary>The most a span can describe: <see cref="Span"/> stops there.</summary>
    public const long MaxSpanLength = int.MaxValue;

    readonly MemoryMappedFile? _map;
    readonly MemoryMappedViewAccessor? _view;
    readonly byte* _pointer;

    /// <summary>The file's size on disk, which may exceed what was mapped.</summary>
    public long FileLength { get; }
    /// <summary>Bytes mapped.</summary>
    public long Length { get; }

    /// <summary>The first mapped byte (null for an empty file); valid until <see cref="Dispose"/>.</summary>
    public byte* Pointer => _pointer;

    MappedFile(long fileLength, long length, MemoryMappedFile? map, MemoryMappedViewAccessor? view, byte* pointer)
    {
        FileLength = fileLength;
        Length = length;
        _map = map;
        _view = view;
        _pointer = pointer;
    }

    /// <summary>
    /// Maps the first <paramref name="limit"/> bytes of <paramref name="path"/> (the whole file when it
    /// is smaller). Throws <see cref="DumpFileException"/> with a one-line reason when the file cannot
    /// be opened; other I/O failures are turned into the same.
    /// </summary>
    public static MappedFile Open(string path, long limit = long.MaxValue)
    {
        if (Directory.Exists(path)) throw new DumpFileException(path, "is a directory, not a file");
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            long fileLength = stream.Length;
            long length = Math.Min(fileLength, limit);
            // An empty mapping is not allowed; nothing needs mapping then.
            if (length == 0) return new MappedFile(fileLength, 0, null, null, null);
            var map = MemoryMappedFile.CreateFromFile(stream, null, 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: false);
            var view = map.CreateViewAccessor(0, length, MemoryMappedFileAccess.Read);
            byte* p = null;
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
            return new MappedFile(fileLength, length, map, view, p + view.PointerOffset);
        }
        catch (DumpFileException) { throw; }
        catch (Exception e) { throw DumpFileException.From(path, e); }
    }

    /// <summary>The mapped bytes, at most the first 2 GiB of them; valid until <see cref="Dispose"/>.</summary>
    public ReadOnlySpan<byte> Span => _pointer == null ? default : new ReadOnlySpan<byte>(_pointer, (int)Math.Min(Length, MaxSpanLength));

    public void Dispose()
    {
        if (_view != null)
        {
            _view.SafeMemoryMappedViewHandle.ReleasePointer();
            _view.Dispose();
        }
        _map?.Dispose();
    }
}

/// <summary>A file that cannot be used, with the one line that says why ("path: reason").</summary>
public sealed class DumpFileException(string path, string reason) : Exception($"{path}: {reason}")
{
    public string Path { get; } = path;
    public string Reason { get; } = reason;

    /// <summary>Names the common I/O failures in words rather than as an exception dump.</summary>
    public static DumpFileException From(string path, Exception e) => new(path, e switch
    {
        FileNotFoundException or DirectoryNotFoundException => "no such file",
        UnauthorizedAccessException => "permission denied",
        PathTooLongException => "path too long",
        IOException io => OneLine(io.Message),
        ArgumentException a => "invalid path: " + OneLine(a.Message),
        _ => $"cannot read: {e.GetType().Name}: {OneLine(e.Message)}",
    });

    static string OneLine(string s) => s.ReplaceLineEndings(" ").Trim();
}
