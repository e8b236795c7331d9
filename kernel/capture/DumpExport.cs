// The capture kernel's export of the vmcore, laid out as Linux's /proc/vmcore (ELF header, one
// merged PT_NOTE, then the first kernel's RAM as PT_LOADs) after makedumpfile-style filtering
// (dump_level=, DumpFilter.cs), and framed by DumpStream, on the channels dump_channels= names: the
// shared-memory window (QEMU ivshmem-plain backed by a host file, found on PCI bus 0; hundreds of
// MB/s) and/or debugcon (port 0xE9, about 2 MB/s), or COM2 (a real machine's way out: 115200
// baud, 11.5 KB/s). The default is the window when there is one, else debugcon. RAM above 4 GiB is mapped here (Paging.MapRam) before anything reads it. Each
// chunk is copied once, into the window or a staging buffer, checksummed in the same pass over the
// very words it stores, and sent from that copy: a CPU that never answered the shootdown may still
// be writing the first kernel's RAM, and the receiver must get exactly the bytes the checksum was
// taken over.
using System;
using System.Runtime;
using System.Runtime.CompilerServices;

static unsafe class DumpExport
{
    const ushort IvshmemVendor = 0x1AF4, IvshmemDevice = 0x1110;
    const int IvshmemSharedMemoryBar = 2;
    const ushort DebugconPort = 0xE9;
    /// <summary>PT_LOADs a plan may have; DumpFilter joins neighbours past it.</summary>
    const int MaxSegments = 8192;
    /// <summary>Headers, notes (255 CPUs' and VMCOREINFO) and MaxSegments program headers.</summary>
    const int PrefixCapacity = 1 << 20;
    const int MaxOwned = OwnedMemory.Capacity, MaxNamed = 32;
    const ulong ProgressStep = 64UL << 20;

    struct PrefixBuffer { public fixed byte Bytes[PrefixCapacity]; }
    struct SegmentList { public fixed byte Bytes[MaxSegments * 32]; }
    struct StagingBuffer { public fixed byte Bytes[(int)DumpStream.DefaultChunkSize]; }
    struct NoteBuffer { public fixed byte Bytes[256]; }
    static PrefixBuffer s_prefix;
    static SegmentList s_segments;
    static StagingBuffer s_staging;
    static NoteBuffer s_filterNote;
    static VmcoreLayout s_layout;
    static int s_segmentCount;
    static ulong s_sumTicks;

    static byte* Prefix { get { fixed (byte* p = s_prefix.Bytes) return p; } }
    static byte* Staging { get { fixed (byte* p = s_staging.Bytes) return p; } }
    static Span<LoadSegment> Segments { get { fixed (byte* p = s_segments.Bytes) return new Span<LoadSegment>(p, MaxSegments); } }

    /// <summary>Writes the dump; false when it cannot be planned or no channel could take it (the reason is logged).</summary>
    public static bool Run(ReadOnlySpan<byte> vmcoreinfo)
    {
        ref CoreHeaderInfo info = ref Capture.Info;
        ulong t0 = Cpu.Rdtsc();
        if (!Plan(vmcoreinfo, Capture.Loads.Slice(0, info.Loads), out DumpFilterStats stats)) return false;
        Span<LoadSegment> segments = Segments.Slice(0, s_segmentCount);
        int noteSize = FilterNote(in stats);
        ReadOnlySpan<byte> filterNote;
        fixed (byte* n = s_filterNote.Bytes) filterNote = new ReadOnlySpan<byte>(n, noteSize);
        if (!Vmcore.ComputeLayout(info.NotesSize + (ulong)noteSize, segments, out s_layout, out ElfCoreError error)
            || !Vmcore.WritePrefix(new Span<byte>(Prefix, PrefixCapacity), in s_layout, Capture.Notes.Slice(0, info.NoteBuffers), filterNote,
                segments, Paging.IdentityWindow, out error))
        {
            LogLine l = default;
            l.Append("capture: cannot lay out the vmcore: ");
            error.Describe(ref l);
            Log.Err(ref l);
            return false;
        }
        ReportPlan(in stats, Clock.TicksToNs(Cpu.Rdtsc() - t0, Clock.TscKhz) / 1000);

        ulong streamSize = DumpStream.StreamSize(s_layout.FileSize, DumpStream.DefaultChunkSize);
        DumpChannels wanted = (DumpChannels)Params.Current.Choice(BootParam.DumpChannels);
        byte* window = FindWindow(streamSize, ExportChannels.WantsWindow(wanted));
        ByteChannel bytes = default;
        bool serial = wanted == DumpChannels.Serial && bytes.OpenSerial(vmcoreinfo);
        ExportPlan plan = ExportChannels.Choose(wanted, window != null, serial);
        bool toWindow = plan.ToWindow;
        if (plan.ToDebugcon) bytes.OpenDebugcon();
        if (plan.WindowMissing) Log.Emerg("capture: dump_channels=window but no usable window; falling back to debugcon");
        if (plan.SerialMissing)
        {
            // Not a failure: the report above is on the console, and a machine without COM2 has no other way out.
            Log.Emerg("capture: dump_channels=serial but the firmware lists no COM2 (BIOS data area 0x402); no vmcore exported");
            return true;
        }
        Log.Info($"capture: exporting vmcore: {s_layout.FileSize} bytes ({s_segmentCount} PT_LOADs, {info.NotesSize + (ulong)noteSize} bytes of notes) to {(toWindow && bytes.On ? "window and " : toWindow ? "window" : "")}{(bytes.On ? bytes.Name : "")}");

        ulong t1 = Cpu.Rdtsc();
        Stream(window, toWindow, in bytes);
        ulong us = Clock.TicksToNs(Cpu.Rdtsc() - t1, Clock.TscKhz) / 1000;
        // KB/s below 10 MB/s: a serial port's 11 KB/s reads as 0 MB/s otherwise.
        ulong kbps = us == 0 ? 0 : streamSize * 1000 / us;
        Log.Info($"capture: export done: {streamSize} bytes in {us / 1000} ms ({(kbps >= 10_000 ? kbps / 1000 : kbps)} {(kbps >= 10_000 ? "MB/s" : "KB/s")}, copy and checksums {Clock.TicksToNs(s_sumTicks, Clock.TscKhz) / 1000000} ms)");
        return true;
    }

    /// <summary>
    /// The PT_LOADs: the core header's RAM, mapped (a range the page-table pool cannot map is left
    /// out and named), then filtered by dump_level= with the first kernel's owned ranges and the
    /// ranges VMCOREINFO names.
    /// </summary>
    static bool Plan(ReadOnlySpan<byte> vmcoreinfo, ReadOnlySpan<LoadSegment> ram, out DumpFilterStats stats)
    {
        stats = default;
        LoadSegment* mapped = stackalloc LoadSegment[Capture.MaxLoads];
        int n = 0;
        for (int i = 0; i < ram.Length && n < Capture.MaxLoads; i++)
        {
            if (Paging.MapRam(ram[i].PhysAddr, ram[i].Size)) mapped[n++] = ram[i];
            else Log.Emerg($"capture: cannot map RAM [mem 0x{ram[i].PhysAddr:x}-0x{ram[i].End - 1:x}]: the page-table pool is used up; it is left out of the dump");
        }
        // The dump includes page 0 (the real-mode IVT) when it is kept: map it, readable, for the copy.
        Paging.MapPage(0);
        PhysicalWindow memory = PhysicalWindow.Identity(0, Paging.IdentityWindow.Start + Paging.IdentityWindow.Length);

        int level = Params.Current.DumpLevel;
        PhysRange* owned = stackalloc PhysRange[MaxOwned];
        int ownedCount = 0;
        if ((level & DumpFilter.FreePages) != 0 && !ReadOwnedRanges(vmcoreinfo, new Span<PhysRange>(owned, MaxOwned), out ownedCount))
            level &= ~DumpFilter.FreePages;
        PhysRange* named = stackalloc PhysRange[MaxNamed];
        int namedCount = Vmcoreinfo.NamedRanges(vmcoreinfo, new Span<PhysRange>(named, MaxNamed));

        if (!DumpFilter.Plan(level, new ReadOnlySpan<LoadSegment>(mapped, n), new ReadOnlySpan<PhysRange>(owned, ownedCount),
                new ReadOnlySpan<PhysRange>(named, namedCount), in memory, Segments, out s_segmentCount, out stats, out ElfCoreError error))
        {
            LogLine l = default;
            l.Append("capture: cannot plan the dump at dump_level ");
            l.AppendDecimal(level);
            l.Append(": ");
            error.Describe(ref l);
            Log.Err(ref l);
            return false;
        }
        return true;
    }

    /// <summary>The first kernel's owned-ranges table through VMCOREINFO; false (free pages then kept) when it is missing or damaged.</summary>
    static bool ReadOwnedRanges(ReadOnlySpan<byte> vmcoreinfo, Span<PhysRange> into, out int count)
    {
        count = 0;
        if (!Vmcoreinfo.FindSymbol(vmcoreinfo, "owned_ranges", out ulong at) || !Vmcoreinfo.FindSize(vmcoreinfo, "owned_ranges", out ulong size))
        {
            Log.Emerg("capture: VMCOREINFO names no owned_ranges table: free pages cannot be told apart, so they are kept");
            return false;
        }
        byte* p = size <= 1 << 20 ? Paging.IdentityWindow.Map(at, size) : null;
        OwnedRanges.Problem problem = p == null ? OwnedRanges.Problem.TooShort
            : OwnedRanges.Read(new ReadOnlySpan<byte>(p, (int)size), into, out count);
        if (problem == OwnedRanges.Problem.None) return true;
        LogLine l = default;
        l.Append("capture: the owned_ranges table at 0x");
        l.AppendHex(at, 0);
        l.Append(p == null ? " is outside the first kernel's memory" : " has ");
        if (p != null) l.Append(OwnedRanges.Describe(problem));
        l.Append(": free pages cannot be told apart, so they are kept");
        Log.Emerg(ref l);
        count = 0;
        return false;
    }

    /// <summary>The NMIDUMP dump-filter note (its level and what was left out), for the inspector; returns its size.</summary>
    static int FilterNote(in DumpFilterStats stats)
    {
        byte* text = stackalloc byte[192];
        int length = DumpFilter.WriteNoteText(new Span<byte>(text, 192), in stats);
        fixed (byte* n = s_filterNote.Bytes)
            return ElfNote.Write(new Span<byte>(n, 256), DumpFilter.NoteName, DumpFilter.NoteType, new ReadOnlySpan<byte>(text, length));
    }

    static void ReportPlan(in DumpFilterStats s, ulong us)
    {
        LogLine l = default;
        l.Append("capture: dump_level ");
        l.AppendDecimal(s.Level);
        l.Append(" (");
        DumpFilter.DescribeLevel(ref l, s.Level);
        l.Append("): RAM ");
        l.AppendDecimal(s.RamBytes >> 20);
        l.Append(" MiB, file ");
        l.AppendDecimal(s.DataBytes >> 10);
        l.Append(" KiB, zero pages ");
        l.AppendDecimal(s.ZeroBytes >> 10);
        l.Append(" KiB, free left out ");
        l.AppendDecimal(s.FreeBytes >> 20);
        l.Append(" MiB; ");
        l.AppendDecimal(s.Segments);
        l.Append(" PT_LOADs, planned in ");
        l.AppendDecimal(us);
        l.Append(" us");
        Log.Info(ref l);
    }

    /// <summary>The ivshmem BAR, its first streamSize bytes mapped, if present, enabled and big enough for the stream.</summary>
    static byte* FindWindow(ulong streamSize, bool wanted)
    {
        if (!wanted || !Pci.Find(IvshmemVendor, IvshmemDevice, out int dev, out int fn)) return null;
        if (!Pci.MemoryBar(dev, fn, IvshmemSharedMemoryBar, out ulong address, out ulong size))
        {
            Log.Emerg("capture: ivshmem window found but its BAR is not assigned");
            return null;
        }
        if (size < streamSize)
        {
            Log.Emerg($"capture: the window is {size} bytes but the dump stream needs {streamSize}; not using it");
            return null;
        }
        // Only the part the stream uses: a 64 GiB window would otherwise take 64 page directories.
        if (!Paging.MapIdentity(address, streamSize, uncached: false))
        {
            Log.Emerg($"capture: cannot map the window at 0x{address:x} ({streamSize} bytes): the page-table pool is used up");
            return null;
        }
        Log.Info($"capture: window at 0x{address:x}, {size >> 20} MiB (ivshmem on PCI 00:{dev:x2}.{fn})");
        return (byte*)address;
    }

    /// <summary>Contiguous bytes of the vmcore file at offset: the prefix buffer, or first-kernel RAM (a PT_LOAD's file part).</summary>
    static byte* Piece(ulong offset, out ulong available)
    {
        if (offset < s_layout.LoadsOffset)
        {
            available = s_layout.LoadsOffset - offset;
            return Prefix + offset;
        }
        ulong start = s_layout.LoadsOffset;
        ReadOnlySpan<LoadSegment> loads = Segments;
        for (int i = 0; i < s_segmentCount; i++)
        {
            if (offset < start + loads[i].FileSize)
            {
                available = start + loads[i].FileSize - offset;
                return (byte*)(loads[i].PhysAddr + (offset - start));
            }
            start += loads[i].FileSize;
        }
        available = 0;
        return null;
    }

    /// <summary>
    /// The stream. Each chunk is copied once, into the window (or the chunk buffer for debugcon
    /// alone), and checksummed in the same pass; its header follows the payload in the window, so a
    /// host following the window never takes a chunk before its bytes are there.
    /// </summary>
    const ulong SendPiece = 4096;

    static void Stream(byte* window, bool toWindow, in ByteChannel bytes)
    {
        ulong length = s_layout.FileSize;
        uint chunkSize = DumpStream.DefaultChunkSize;
        ulong chunks = DumpStream.ChunkCount(length, chunkSize);
        byte* small = stackalloc byte[DumpStream.HeaderSize];
        ulong pos = 0, fold = 0, nextProgress = ProgressStep;

        DumpStream.WriteHeader(new Span<byte>(small, DumpStream.HeaderSize), length, chunkSize);
        Publish(window, pos, small, DumpStream.HeaderSize, toWindow, in bytes);
        pos += DumpStream.HeaderSize;

        for (ulong c = 0; c < chunks; c++)
        {
            ulong start = c * chunkSize, n = length - start < chunkSize ? length - start : chunkSize;
            // One copy of the chunk (straight into its place in the window when there is one), the
            // checksum taken over the words as they are stored, the send from that copy: never
            // from live RAM again.
            byte* stage = toWindow ? window + pos + DumpStream.ChunkHeaderSize : Staging;
            ulong t1 = Cpu.Rdtsc();
            DumpStream.ChecksumState sum = DumpStream.ChecksumState.Start();
            for (ulong done = 0; done < n;)
            {
                byte* p = Piece(start + done, out ulong avail);
                ulong take = avail < n - done ? avail : n - done;
                sum.AddCopy(stage + done, p, take);
                done += take;
            }
            ulong checksum = sum.Finish();
            s_sumTicks += Cpu.Rdtsc() - t1;
            fold = DumpStream.Fold(fold, checksum);
            DumpStream.WriteChunkHeader(new Span<byte>(small, DumpStream.ChunkHeaderSize), (uint)c, (uint)n, checksum);
            Publish(window, pos, small, DumpStream.ChunkHeaderSize, toWindow, in bytes);
            // In pieces, so a slow channel (115200 baud: 11 KB/s) still lets the watchdog be petted in time.
            for (ulong sent = 0; sent < n; sent += SendPiece)
            {
                bytes.Send(stage + sent, n - sent < SendPiece ? n - sent : SendPiece);
                CaptureBmc.Tick();
            }
            pos += DumpStream.ChunkHeaderSize + n;
            if (c == 0 && Params.Current.CaptureNmiTest) Capture.WaitForTestNmis();
            if (start + n >= nextProgress)
            {
                Log.Info($"capture: export: {(start + n) >> 20} of {length >> 20} MiB");
                nextProgress += ProgressStep;
            }
        }
        DumpStream.WriteTrailer(new Span<byte>(small, DumpStream.TrailerSize), chunks, length, fold);
        Publish(window, pos, small, DumpStream.TrailerSize, toWindow, in bytes);
    }

    /// <summary>
    /// A header, chunk header or trailer: into the window with its first word (the magic) stored
    /// last, so a reader that sees the magic sees the rest; to debugcon in order.
    /// </summary>
    static void Publish(byte* window, ulong pos, byte* data, int n, bool toWindow, in ByteChannel bytes)
    {
        if (toWindow)
        {
            byte* dst = window + pos;
            for (int i = 8; i < n; i++) dst[i] = data[i];
            System.Threading.Volatile.Write(ref *(ulong*)dst, *(ulong*)data);
        }
        bytes.Send(data, (ulong)n);
    }

    /// <summary>The byte-at-a-time channel, if any: debugcon, or a UART (COM2) programmed for 115200 baud.</summary>
    struct ByteChannel
    {
        public bool On, Uart, Fifo;
        public ushort Port;

        public readonly string Name => Uart ? "COM2 (115200 baud)" : "debugcon";

        public void OpenDebugcon()
        {
            On = true;
            Port = DebugconPort;
        }

        /// <summary>COM2 as the first kernel found it in the BIOS data area (VMCOREINFO COM2_PORT), programmed; false when there is none.</summary>
        public bool OpenSerial(ReadOnlySpan<byte> vmcoreinfo)
        {
            if (!Vmcoreinfo.FindHex(vmcoreinfo, "COM2_PORT", out ulong port) || port == 0 || port > 0xFFF8) return false;
            if (!Serial.InitPort((ushort)port, out Fifo))
            {
                Log.Emerg($"capture: COM2 at 0x{port:x} does not answer (its line status reads 0xff)");
                return false;
            }
            On = Uart = true;
            Port = (ushort)port;
            Log.Info($"capture: COM2 at 0x{port:x}, 115200 baud 8N1{(Fifo ? ", 16-byte FIFO" : ", no FIFO")}");
            return true;
        }

        public readonly void Send(byte* data, ulong n)
        {
            if (!On) return;
            if (Uart) Serial.WriteRaw(Port, Fifo, data, n);
            else Cpu.Outsb(Port, data, n);
        }
    }
}
