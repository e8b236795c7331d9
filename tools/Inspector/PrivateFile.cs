// Files that hold guest memory (the vmcore, the shared-memory window, the debugcon stream and the
// vmcore decoded from it) are the guest's RAM: owner-only (0600) from the moment they exist, whatever
// the umask, and created before QEMU opens them, so no other user ever gets a window to read them.
namespace Nmidump.Inspector;

public static class PrivateFile
{
    public const UnixFileMode Mode = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>
    /// Creates <paramref name="path"/> (replacing any older file) owner-only and <paramref name="length"/>
    /// bytes long (sparse), and returns it open for writing. The mode is set again after creation: a
    /// umask can only take bits away from what open(2) asks for, e.g. the owner's write bit.
    /// </summary>
    public static FileStream Create(string path, long length = 0)
    {
        File.Delete(path);
        var options = new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.ReadWrite,
            Share = FileShare.ReadWrite | FileShare.Delete,
        };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = Mode;
        var f = new FileStream(path, options);
        try
        {
            if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(f.SafeFileHandle, Mode);
            if (length > 0) f.SetLength(length);
            return f;
        }
        catch
        {
            f.Dispose();
            throw;
        }
    }

    /// <summary>Creates the file (see <see cref="Create"/>) and closes it: an empty or sparse file for QEMU to open.</summary>
    public static void Prepare(string path, long length = 0)
    {
        using var f = Create(path, length);
    }

    /// <summary>
    /// Writes every page of the first <paramref name="bytes"/> of a file once (with zeros), so the
    /// memory behind them exists before anyone needs it fast: a tmpfs page is found and cleared at
    /// its first write, and on a virtual machine whose RAM is backed lazily that first write is what
    /// costs (a 3 GiB full dump's copy ran at 1.1 GB/s into touched pages, 0.25 GB/s into fresh ones).
    /// </summary>
    public static unsafe void Populate(string path, long bytes)
    {
        if (bytes <= 0) return;
        using var map = System.IO.MemoryMappedFiles.MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0,
            System.IO.MemoryMappedFiles.MemoryMappedFileAccess.ReadWrite);
        using var view = map.CreateViewAccessor(0, bytes, System.IO.MemoryMappedFiles.MemoryMappedFileAccess.ReadWrite);
        byte* p = null;
        view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
        try
        {
            byte* start = p + view.PointerOffset;
            for (long at = 0; at < bytes; at += 4096) Volatile.Write(ref start[at], (byte)0);
        }
        finally
        {
            view.SafeMemoryMappedViewHandle.ReleasePointer();
        }
    }
}
