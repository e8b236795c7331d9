// The host end of the dump transfer: a channel file (the ivshmem window's backing file, or the
// debugcon log) holds a DumpStream (kernel/dump/DumpStream.cs) from its first byte on; the receiver
// checks it with the kernel's own decoder and only then writes the vmcore, so a transfer that was
// cut or damaged is named and never taken for a dump.
using System.IO.MemoryMappedFiles;

namespace Nmidump.Inspector;

/// <summary>What became of one channel file.</summary>
/// <param name="Ok">True if the stream was whole and the vmcore was written.</param>
/// <param name="Size">The vmcore's size in bytes (0 on failure).</param>
/// <param name="Message">One line: "channel: ok: N bytes in M chunks", or "channel: reason".</param>
/// <param name="Problem">The decoder's verdict; None when the failure was not the stream's (I/O, size).</param>
public sealed record ReceiveResult(bool Ok, long Size, string Message, DumpStream.Problem Problem);

public static unsafe class DumpReceiver
{
    /// <summary>
    /// Decodes <paramref name="streamFile"/> into <paramref name="vmcoreOut"/>: written to a temporary
    /// file beside it and renamed into place only when every chunk and the trailer checked out.
    /// On any failure nothing is left at <paramref name="vmcoreOut"/>: an older file there is
    /// removed, because a vmcore from an earlier run must not pass for this run's.
    /// </summary>
    public static ReceiveResult Receive(string streamFile, string vmcoreOut)
    {
        if (string.Equals(Path.GetFullPath(streamFile), Path.GetFullPath(vmcoreOut), StringComparison.Ordinal))
            return new ReceiveResult(false, 0, $"{streamFile}: the vmcore would overwrite the channel file it comes from", DumpStream.Problem.None);
        string temp = TempName(vmcoreOut);
        try
        {
            ReceiveResult r = Decode(streamFile, vmcoreOut, temp);
            if (!r.Ok)
            {
                Delete(temp);
                Delete(vmcoreOut);
            }
            return r;
        }
        catch (Exception e)
        {
            // The readers do not throw; files can (full disk, permissions): one line, no partial file.
            Delete(temp);
            Delete(vmcoreOut);
            string message = e is DumpFileException d ? d.Message : $"{streamFile}: {e.GetType().Name}: {e.Message.ReplaceLineEndings(" ")}";
            return new ReceiveResult(false, 0, message, DumpStream.Problem.None);
        }
    }

    /// <summary>The same, in the shape of a bool-returning call: the vmcore's size, or -1 with the reason in <paramref name="message"/>.</summary>
    public static long Receive(string streamFile, string vmcoreOut, out string message)
    {
        ReceiveResult r = Receive(streamFile, vmcoreOut);
        message = r.Message;
        return r.Ok ? r.Size : -1;
    }

    static ReceiveResult Decode(string streamFile, string vmcoreOut, string temp)
    {
        // Only the stream is mapped, not the window around it: the header says how long it is.
        long want = StreamLength(streamFile, out string? tooLarge);
        if (tooLarge != null) return new ReceiveResult(false, 0, $"{streamFile}: {tooLarge}", DumpStream.Problem.None);
        using MappedFile input = MappedFile.Open(streamFile, want);

        // A first pass checks without writing, so a damaged stream leaves no file of its claimed size behind.
        DumpStream.Result check = DumpStream.Decode(input.Span, default);
        if (!check.Ok) return Failed(streamFile, check);

        long length = (long)check.Length;
        if (length == 0)
        {
            File.WriteAllBytes(temp, []);
        }
        else
        {
            // The vmcore goes straight into a mapping of its file: no second copy in memory.
            using (var map = MemoryMappedFile.CreateFromFile(temp, FileMode.Create, null, length, MemoryMappedFileAccess.ReadWrite))
            using (var view = map.CreateViewAccessor(0, length, MemoryMappedFileAccess.ReadWrite))
            {
                byte* p = null;
                view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
                try
                {
                    DumpStream.Result copy = DumpStream.Decode(input.Span, new Span<byte>(p + view.PointerOffset, (int)length));
                    if (!copy.Ok) return Failed(streamFile, copy);   // the file changed under us
                }
                finally
                {
                    view.SafeMemoryMappedViewHandle.ReleasePointer();
                }
                // No msync: other processes read the page cache; durability across a host crash is not the point.
            }
        }
        File.Move(temp, vmcoreOut, overwrite: true);
        return new ReceiveResult(true, length, $"{streamFile}: {Describe(check)}", DumpStream.Problem.None);
    }

    /// <summary>
    /// How many bytes of the file the stream can occupy: its header's StreamSize, or the whole file
    /// when the header does not parse (the decoder then names what is wrong from the first bytes).
    /// </summary>
    static long StreamLength(string path, out string? tooLarge)
    {
        tooLarge = null;
        if (Directory.Exists(path)) throw new DumpFileException(path, "is a directory, not a file");
        Span<byte> header = stackalloc byte[DumpStream.HeaderSize];
        long fileLength;
        int got;
        try
        {
            using var f = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            fileLength = f.Length;
            got = f.ReadAtLeast(header, header.Length, throwOnEndOfStream: false);
        }
        catch (Exception e) when (e is not DumpFileException)
        {
            throw DumpFileException.From(path, e);
        }
        // Only a genuine header (its CRC holds) sets the extent; for anything else the first bytes
        // are enough for the decoder to name what is wrong.
        if (got < DumpStream.HeaderSize || !header.StartsWith("NMIDUMP1"u8)
            || Crc32.Compute(header.Slice(0, 40)) != LittleEndian.U32(header, 40))
            return Math.Min(fileLength, DumpStream.HeaderSize);
        uint chunkSize = LittleEndian.U32(header, 12);
        ulong length = LittleEndian.U64(header, 16);
        if (chunkSize == 0) return Math.Min(fileLength, DumpStream.HeaderSize);
        if (length > (ulong)MappedFile.MaxLength || DumpStream.StreamSize(length, chunkSize) > (ulong)MappedFile.MaxLength)
        {
            tooLarge = $"the stream carries a vmcore of {length} bytes: larger than the 2 GiB the decoder handles";
            return 0;
        }
        return Math.Min(fileLength, (long)DumpStream.StreamSize(length, chunkSize));
    }

    static ReceiveResult Failed(string streamFile, DumpStream.Result r)
        => new(false, 0, $"{streamFile}: {Describe(r)}", r.Problem);

    /// <summary>The decoder's own words for a result.</summary>
    public static string Describe(DumpStream.Result r)
    {
        var l = new LogLine(0, 0);
        r.Describe(ref l);
        return System.Text.Encoding.ASCII.GetString(l.AsSpan());
    }

    /// <summary>
    /// True if the two files hold the same bytes (the both-channels check: what came through the
    /// window and through debugcon must be one vmcore). <paramref name="message"/> names the first
    /// difference, or says "identical (N bytes)".
    /// </summary>
    public static bool CompareFiles(string a, string b, out string message)
    {
        try
        {
            using var fa = new FileStream(a, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1 << 16);
            using var fb = new FileStream(b, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1 << 16);
            if (fa.Length != fb.Length)
            {
                message = $"{a} has {fa.Length} bytes, {b} has {fb.Length}";
                return false;
            }
            byte[] ba = new byte[1 << 20], bb = new byte[1 << 20];
            long offset = 0;
            while (true)
            {
                int na = fa.ReadAtLeast(ba, ba.Length, throwOnEndOfStream: false);
                int nb = fb.ReadAtLeast(bb, na, throwOnEndOfStream: false);
                if (na == 0) break;
                int same = ba.AsSpan(0, na).CommonPrefixLength(bb.AsSpan(0, Math.Min(na, nb)));
                if (same < na)
                {
                    message = same < nb
                        ? $"{a} and {b} differ at byte {offset + same} (0x{offset + same:x}): 0x{ba[same]:x2} vs 0x{bb[same]:x2}"
                        : $"{b} ended at byte {offset + nb} while being read";
                    return false;
                }
                offset += na;
            }
            message = $"identical ({offset} bytes)";
            return true;
        }
        catch (Exception e)
        {
            string which = File.Exists(a) ? b : a;
            message = DumpFileException.From(which, e).Message;
            return false;
        }
    }

    static string TempName(string path)
    {
        string dir = Path.GetDirectoryName(Path.GetFullPath(path)) ?? ".";
        return Path.Combine(dir, $".{Path.GetFileName(path)}.{Environment.ProcessId}.partial");
    }

    static void Delete(string path)
    {
        try { File.Delete(path); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
