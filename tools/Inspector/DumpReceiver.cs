// The host end of the dump transfer: a channel file (the ivshmem window's backing file, or the
// debugcon log) holds a DumpStream (kernel/dump/DumpStream.cs) from its first byte on; the receiver
// checks it chunk by chunk with the kernel's own decoder and only then puts the vmcore in place, so a
// transfer that was cut or damaged is named and never taken for a dump. Chunks are read one at a
// time (pread into one buffer: holes of a sparse file then cost no page of memory), so a stream of
// any size (a 64 GiB full dump) is received; all-zero chunks are not written (the vmcore file is
// sparse there). Follow does the same while the guest is still
// writing the window: a chunk is taken the moment its header's magic appears (the capture kernel
// writes the payload first and the magic last), so the vmcore is verified when the guest finishes.

namespace Nmidump.Inspector;

/// <summary>What became of one channel file.</summary>
/// <param name="Ok">True if the stream was whole and the vmcore was written.</param>
/// <param name="Size">The vmcore's size in bytes (0 on failure).</param>
/// <param name="Message">One line: "channel: ok: N bytes in M chunks", or "channel: reason".</param>
/// <param name="Problem">The decoder's verdict; None when the failure was not the stream's (I/O, size).</param>
public sealed record ReceiveResult(bool Ok, long Size, string Message, DumpStream.Problem Problem);

/// <summary>Called after each verified chunk: vmcore bytes verified so far, and the vmcore's length.</summary>
public delegate void ReceiveProgress(ulong done, ulong total);

public static class DumpReceiver
{
    /// <summary>
    /// Decodes <paramref name="streamFile"/> into <paramref name="vmcoreOut"/>: written to a temporary
    /// owner-only file beside it and renamed into place only when every chunk and the trailer checked
    /// out. On any failure nothing is left at <paramref name="vmcoreOut"/>: an older file there is
    /// removed, because a vmcore from an earlier run must not pass for this run's.
    /// </summary>
    public static ReceiveResult Receive(string streamFile, string vmcoreOut, ReceiveProgress? progress = null)
        => Run(streamFile, vmcoreOut, progress, null, default);

    /// <summary>The same, in the shape of a bool-returning call: the vmcore's size, or -1 with the reason in <paramref name="message"/>.</summary>
    public static long Receive(string streamFile, string vmcoreOut, out string message)
    {
        ReceiveResult r = Receive(streamFile, vmcoreOut);
        message = r.Message;
        return r.Ok ? r.Size : -1;
    }

    /// <summary>
    /// Receives from a window file that the guest is still writing: each piece is waited for until
    /// its magic appears, while <paramref name="writerAlive"/> says the writer (QEMU) still runs;
    /// once it has exited, what the file holds is final and a missing piece is reported as the
    /// stream's problem (truncated, no trailer), as <see cref="Receive(string, string, ReceiveProgress?)"/> would.
    /// </summary>
    public static ReceiveResult Follow(string windowFile, string vmcoreOut, Func<bool> writerAlive, ReceiveProgress? progress = null,
        CancellationToken cancel = default)
        => Run(windowFile, vmcoreOut, progress, writerAlive, cancel);

    static ReceiveResult Run(string streamFile, string vmcoreOut, ReceiveProgress? progress, Func<bool>? writerAlive, CancellationToken cancel)
    {
        if (string.Equals(Path.GetFullPath(streamFile), Path.GetFullPath(vmcoreOut), StringComparison.Ordinal))
            return new ReceiveResult(false, 0, $"{streamFile}: the vmcore would overwrite the channel file it comes from", DumpStream.Problem.None);
        string temp = TempName(vmcoreOut);
        try
        {
            ReceiveResult r;
            using (var input = OpenChannel(streamFile))
                r = Decode(streamFile, new Pieces(input, writerAlive, cancel), temp, progress);
            if (r.Ok) File.Move(temp, vmcoreOut, overwrite: true);
            else
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

    static ReceiveResult Decode(string streamFile, Pieces input, string temp, ReceiveProgress? progress)
    {
        DumpStream.Reader r = default;
        if (!r.ReadHeader(input.Get(0, DumpStream.HeaderSize))) return Failed(streamFile, r.Result);
        ulong length = r.Result.Length;
        if (length > long.MaxValue) return new ReceiveResult(false, 0, $"{streamFile}: the header claims a vmcore of {length} bytes", DumpStream.Problem.None);
        // Sized up front and written only where a chunk holds a non-zero byte: zero chunks stay holes.
        using (FileStream output = PrivateFile.Create(temp, (long)length))
        {
            while (!r.ChunksDone)
            {
                ulong at = r.Done;
                if (!r.ReadChunk(input.Get(r.Position, r.NextChunkBytes), out ReadOnlySpan<byte> payload)) return Failed(streamFile, r.Result);
                if (payload.IndexOfAnyExcept((byte)0) >= 0) RandomAccess.Write(output.SafeFileHandle, payload, (long)at);
                progress?.Invoke(r.Done, length);
            }
            if (!r.ReadTrailer(input.Get(r.Position, DumpStream.TrailerSize))) return Failed(streamFile, r.Result);
            // No fsync: other processes read the page cache; durability across a host crash is not the point.
        }
        return new ReceiveResult(true, (long)length, $"{streamFile}: {Describe(r.Result)}", DumpStream.Problem.None);
    }

    static FileStream OpenChannel(string path)
    {
        if (Directory.Exists(path)) throw new DumpFileException(path, "is a directory, not a file");
        try
        {
            return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1, FileOptions.RandomAccess);
        }
        catch (Exception e)
        {
            throw DumpFileException.From(path, e);
        }
    }

    /// <summary>
    /// Pieces of the channel file by stream offset, read into one reused buffer. Following a live
    /// window, a piece is waited for until its first word (the magic, stored last by the guest) is
    /// there or the writer has gone; a finished file is read as it is.
    /// </summary>
    sealed class Pieces(FileStream file, Func<bool>? writerAlive, CancellationToken cancel)
    {
        byte[] _buffer = new byte[DumpStream.DefaultChunkSize + DumpStream.ChunkHeaderSize];

        public ReadOnlySpan<byte> Get(ulong at, int count)
        {
            if (writerAlive != null) WaitFor(at);
            if (_buffer.Length < count) _buffer = new byte[count];
            int n = 0;
            while (n < count)
            {
                int got = RandomAccess.Read(file.SafeFileHandle, _buffer.AsSpan(n, count - n), (long)at + n);
                if (got == 0) break;
                n += got;
            }
            return _buffer.AsSpan(0, n);
        }

        void WaitFor(ulong at)
        {
            Span<byte> word = stackalloc byte[8];
            var spin = new SpinWait();
            while (!cancel.IsCancellationRequested)
            {
                if (RandomAccess.Read(file.SafeFileHandle, word, (long)at) == 8 && BitConverter.ToUInt64(word) != 0) return;
                // QEMU gone: its writes to the shared file are all in the page cache; one last look decides.
                if (!writerAlive!()) return;
                if (spin.Count < 10) spin.SpinOnce(sleep1Threshold: -1);
                else Thread.Sleep(1);
            }
        }
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
