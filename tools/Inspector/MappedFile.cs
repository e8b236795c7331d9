// A file's bytes as one read-only span, mapped rather than read, so a 1 GiB dump costs no copy.
// The kernel's readers (VmcoreFile, DumpStream.Decode) take spans with int offsets: a file, or the
// part of it that is asked for, must stay below 2 GiB.
using System.IO.MemoryMappedFiles;

namespace Nmidump.Inspector;

/// <summary>The first <see cref="Length"/> bytes of a file, mapped read-only.</summary>
public sealed unsafe class MappedFile : IDisposable
{
    /// <summary>The most a span can describe (Array.MaxLength would do too; int.MaxValue is the reader's limit).</summary>
    public const long MaxLength = int.MaxValue;

    readonly MemoryMappedFile? _map;
    readonly MemoryMappedViewAccessor? _view;
    readonly byte* _pointer;

    /// <summary>The file's size on disk, which may exceed what was mapped.</summary>
    public long FileLength { get; }
    /// <summary>Bytes mapped: the span's length.</summary>
    public int Length { get; }

    MappedFile(long fileLength, int length, MemoryMappedFile? map, MemoryMappedViewAccessor? view, byte* pointer)
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
    /// be opened or is too large for a span; other I/O failures are turned into the same.
    /// </summary>
    public static MappedFile Open(string path, long limit = MaxLength)
    {
        if (Directory.Exists(path)) throw new DumpFileException(path, "is a directory, not a file");
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            long fileLength = stream.Length;
            long length = Math.Min(fileLength, limit);
            if (length > MaxLength)
                throw new DumpFileException(path, $"{fileLength} bytes: larger than the {MaxLength} bytes (2 GiB) the readers handle");
            // An empty mapping is not allowed; nothing needs mapping then.
            if (length == 0) return new MappedFile(fileLength, 0, null, null, null);
            var map = MemoryMappedFile.CreateFromFile(stream, null, 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: false);
            var view = map.CreateViewAccessor(0, length, MemoryMappedFileAccess.Read);
            byte* p = null;
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
            return new MappedFile(fileLength, (int)length, map, view, p + view.PointerOffset);
        }
        catch (DumpFileException) { throw; }
        catch (Exception e) { throw DumpFileException.From(path, e); }
    }

    /// <summary>The mapped bytes; valid until <see cref="Dispose"/>.</summary>
    public ReadOnlySpan<byte> Span => _pointer == null ? default : new ReadOnlySpan<byte>(_pointer, Length);

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
