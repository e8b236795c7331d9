// The capture kernel's export of the vmcore, laid out as Linux's /proc/vmcore (ELF header, one
// merged PT_NOTE, then the first kernel's RAM as PT_LOADs) and framed by DumpStream, on the
// channels dump_channels= names: the shared-memory window (QEMU ivshmem-plain backed by a host
// file, found on PCI bus 0; hundreds of MB/s) and/or debugcon (port 0xE9, about 2 MB/s). The
// default is the window when there is one, else debugcon. Each chunk is copied once, into the window
// or a staging buffer, and checksummed and sent from that copy: a CPU that never answered the
// shootdown may still be writing the first kernel's RAM, and the receiver must get exactly the
// bytes the checksum was taken over.
using System;
using System.Runtime;
using System.Runtime.CompilerServices;

static unsafe class DumpExport
{
    const ushort IvshmemVendor = 0x1AF4, IvshmemDevice = 0x1110;
    const int IvshmemSharedMemoryBar = 2;
    const ushort DebugconPort = 0xE9;
    const int PrefixCapacity = 256 * 1024;
    const ulong ProgressStep = 64UL << 20;

    [MethodImpl(MethodImplOptions.InternalCall), RuntimeImport("*", "copy_qwords")]
    static extern void CopyQwords(byte* dst, byte* src, ulong count);

    struct PrefixBuffer { public fixed byte Bytes[PrefixCapacity]; }
    struct StagingBuffer { public fixed byte Bytes[(int)DumpStream.DefaultChunkSize]; }
    static PrefixBuffer s_prefix;
    static StagingBuffer s_staging;
    static VmcoreLayout s_layout;
    static int s_loadCount;
    static ulong s_sumTicks;

    static byte* Prefix { get { fixed (byte* p = s_prefix.Bytes) return p; } }
    static byte* Staging { get { fixed (byte* p = s_staging.Bytes) return p; } }

    /// <summary>Writes the dump; false when no channel could take it (the reason is logged).</summary>
    public static bool Run()
    {
        ref CoreHeaderInfo info = ref Capture.Info;
        s_loadCount = info.Loads;
        ReadOnlySpan<LoadSegment> loads = Capture.Loads.Slice(0, info.Loads);
        if (!Vmcore.ComputeLayout(info.NotesSize, loads, out s_layout, out ElfCoreError error)
            || !Vmcore.WritePrefix(new Span<byte>(Prefix, PrefixCapacity), in s_layout, Capture.Notes.Slice(0, info.NoteBuffers), loads,
                Paging.IdentityWindow, out error))
        {
            LogLine l = default;
            l.Append("capture: cannot lay out the vmcore: ");
            error.Describe(ref l);
            Log.Err(ref l);
            return false;
        }
        // The dump includes page 0 (the real-mode IVT): map it, readable, for the copy.
        Paging.MapPage(0);

        ulong streamSize = DumpStream.StreamSize(s_layout.FileSize, DumpStream.DefaultChunkSize);
        DumpChannels wanted = (DumpChannels)Params.Current.Choice(BootParam.DumpChannels);
        byte* window = FindWindow(streamSize, ExportChannels.WantsWindow(wanted), out ulong windowSize);
        ExportPlan plan = ExportChannels.Choose(wanted, window != null);
        bool toWindow = plan.ToWindow, toDebugcon = plan.ToDebugcon;
        if (plan.WindowMissing) Log.Emerg("capture: dump_channels=window but no usable window; falling back to debugcon");
        Log.Info($"capture: exporting vmcore: {s_layout.FileSize} bytes ({s_loadCount} PT_LOADs, {info.NotesSize} bytes of notes) to {(toWindow && toDebugcon ? "window and debugcon" : toWindow ? "window" : "debugcon")}");

        ulong t0 = Cpu.Rdtsc();
        Stream(window, toWindow, toDebugcon);
        ulong us = Clock.TicksToNs(Cpu.Rdtsc() - t0, Clock.TscKhz) / 1000;
        ulong mbps = us == 0 ? 0 : streamSize / us;
        Log.Info($"capture: export done: {streamSize} bytes in {us / 1000} ms ({mbps} MB/s, checksums {Clock.TicksToNs(s_sumTicks, Clock.TscKhz) / 1000000} ms)");
        return true;
    }

    /// <summary>The ivshmem BAR mapped, if present, enabled and big enough for the stream.</summary>
    static byte* FindWindow(ulong streamSize, bool wanted, out ulong size)
    {
        size = 0;
        if (!wanted || !Pci.Find(IvshmemVendor, IvshmemDevice, out int dev, out int fn)) return null;
        if (!Pci.MemoryBar(dev, fn, IvshmemSharedMemoryBar, out ulong address, out size))
        {
            Log.Emerg("capture: ivshmem window found but its BAR is not assigned");
            return null;
        }
        if (size < streamSize)
        {
            Log.Emerg($"capture: the window is {size} bytes but the dump stream needs {streamSize}; not using it");
            return null;
        }
        if (!Paging.MapIdentity(address, size, uncached: false))
        {
            Log.Emerg($"capture: cannot map the window at 0x{address:x} ({size} bytes)");
            return null;
        }
        Log.Info($"capture: window at 0x{address:x}, {size >> 20} MiB (ivshmem on PCI 00:{dev:x2}.{fn})");
        return (byte*)address;
    }

    /// <summary>Contiguous bytes of the vmcore file at offset: the prefix buffer, or first-kernel RAM.</summary>
    static byte* Piece(ulong offset, out ulong available)
    {
        if (offset < s_layout.LoadsOffset)
        {
            available = s_layout.LoadsOffset - offset;
            return Prefix + offset;
        }
        ulong start = s_layout.LoadsOffset;
        ReadOnlySpan<LoadSegment> loads = Capture.Loads;
        for (int i = 0; i < s_loadCount; i++)
        {
            if (offset < start + loads[i].Size)
            {
                available = start + loads[i].Size - offset;
                return (byte*)(loads[i].PhysAddr + (offset - start));
            }
            start += loads[i].Size;
        }
        available = 0;
        return null;
    }

    static void Stream(byte* window, bool toWindow, bool toDebugcon)
    {
        ulong length = s_layout.FileSize;
        uint chunkSize = DumpStream.DefaultChunkSize;
        ulong chunks = DumpStream.ChunkCount(length, chunkSize);
        byte* small = stackalloc byte[DumpStream.HeaderSize];
        ulong pos = 0, fold = 0, nextProgress = ProgressStep;

        DumpStream.WriteHeader(new Span<byte>(small, DumpStream.HeaderSize), length, chunkSize);
        Emit(window, ref pos, small, DumpStream.HeaderSize, toWindow, toDebugcon);

        for (ulong c = 0; c < chunks; c++)
        {
            ulong start = c * chunkSize, n = length - start < chunkSize ? length - start : chunkSize;
            // One copy of the chunk (straight into its place in the window when there is one),
            // then the checksum and the send both from that copy, never from live RAM again.
            byte* stage = toWindow ? window + pos + DumpStream.ChunkHeaderSize : Staging;
            for (ulong done = 0; done < n;)
            {
                byte* p = Piece(start + done, out ulong avail);
                ulong take = avail < n - done ? avail : n - done;
                Copy(stage + done, p, take);
                done += take;
            }
            ulong t1 = Cpu.Rdtsc();
            ulong checksum = DumpStream.Checksum(stage, n);
            s_sumTicks += Cpu.Rdtsc() - t1;
            fold = DumpStream.Fold(fold, checksum);
            DumpStream.WriteChunkHeader(new Span<byte>(small, DumpStream.ChunkHeaderSize), (uint)c, (uint)n, checksum);
            Emit(window, ref pos, small, DumpStream.ChunkHeaderSize, toWindow, toDebugcon);
            if (toDebugcon) Cpu.Outsb(DebugconPort, stage, n);
            pos += n;
            if (c == 0 && Params.Current.CaptureNmiTest) Capture.WaitForTestNmis();
            if (start + n >= nextProgress)
            {
                Log.Info($"capture: export: {(start + n) >> 20} of {length >> 20} MiB");
                nextProgress += ProgressStep;
            }
        }
        DumpStream.WriteTrailer(new Span<byte>(small, DumpStream.TrailerSize), chunks, length, fold);
        Emit(window, ref pos, small, DumpStream.TrailerSize, toWindow, toDebugcon);
    }

    static void Emit(byte* window, ref ulong pos, byte* data, ulong n, bool toWindow, bool toDebugcon)
    {
        if (toWindow) Copy(window + pos, data, n);
        if (toDebugcon) Cpu.Outsb(DebugconPort, data, n);
        pos += n;
    }

    static void Copy(byte* dst, byte* src, ulong n)
    {
        ulong q = n / 8;
        if (q > 0) CopyQwords(dst, src, q);
        for (ulong i = q * 8; i < n; i++) dst[i] = src[i];
    }
}
