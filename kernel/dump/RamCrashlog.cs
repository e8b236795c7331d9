// The RAM crashlog, after Fuchsia's ram_crashlog: a compact record of a crash that the panicking
// CPU leaves in a reserved piece of RAM, for the next boot to find when no dump came out (panic=N
// rebooted, a watchdog reset the machine, the capture kernel failed). RAM keeps its contents across
// a warm reset, not across a power cycle. A record is believed only when its CRCs hold; anything
// else is reported as damaged. Pure logic: the kernel writes and reads it, the inspector reads it
// out of a raw memory image (found by its magic on a page boundary).
//
//   area (Size bytes, page aligned)
//     0    header slot 0 (64 bytes)       the two slots are written in turn, so one of them is
//     64   header slot 1 (64 bytes)       always whole; the valid one with the higher generation wins
//     4096 payload
//   header slot
//     0  "NMIDCLOG"   8  u32 version    12 u32 generation   16 u32 payload length   20 u32 payload CRC-32
//     24 u32 flags (bit 0: reported by a later boot)         32 u64 the area's physical address
//     60 u32 CRC-32 of bytes 0..59
//   payload
//     0  u64 crash time (Unix seconds)   8 u64 uptime (ns)   16 u32 crashing CPU
//     20 u16 reason length   22 u16 build-id length   24 u16 CPU entries   26 u16 0   28 u32 log length
//     32 reason, build id (hex text), padding to 8, CPU entries (32 bytes each), the log's tail (text lines)
//   CPU entry
//     0 u32 cpu   4 u32 APIC id   8 u32 stop state (CpuStopState)   12 u32 waited ms   16 u64 RIP   24 u64 RSP
//     (RIP and RSP are 0 for a CPU that saved no registers)
using System;

/// <summary>One CPU as the crash left it.</summary>
public struct CrashlogCpu
{
    public uint Cpu, ApicId;
    public CpuStopState State;
    public uint WaitedMs;
    public ulong Rip, Rsp;
}

/// <summary>What reading the area found.</summary>
public enum CrashlogStatus
{
    /// <summary>No header with the magic: never written (or lost with the power).</summary>
    None,
    /// <summary>Both CRCs hold.</summary>
    Valid,
    /// <summary>A header with the magic, but a CRC fails or a length is impossible: reported, never believed.</summary>
    Damaged,
}

/// <summary>Why a record with the magic is not believed.</summary>
public enum CrashlogProblem { None, HeaderCrc, PayloadCrc, PayloadLength }

/// <summary>A record read back. The spans point into the area.</summary>
public ref struct CrashlogRecord
{
    public uint Generation, Flags;
    public ulong AreaAddress;
    public ulong CrashTime, UptimeNs;
    public uint CrashCpu;
    public ReadOnlySpan<byte> Reason, BuildId, Log;
    public int CpuCount;
    public ReadOnlySpan<byte> Cpus;
    /// <summary>Why a record is damaged (RamCrashlog.Describe names it).</summary>
    public CrashlogProblem Problem;
    public uint ExpectedCrc, ActualCrc;

    public readonly bool Reported => (Flags & RamCrashlog.FlagReported) != 0;

    public readonly CrashlogCpu Cpu(int i)
    {
        ReadOnlySpan<byte> e = Cpus.Slice(i * RamCrashlog.CpuEntrySize, RamCrashlog.CpuEntrySize);
        return new CrashlogCpu
        {
            Cpu = LittleEndian.U32(e, 0), ApicId = LittleEndian.U32(e, 4), State = (CpuStopState)LittleEndian.U32(e, 8),
            WaitedMs = LittleEndian.U32(e, 12), Rip = LittleEndian.U64(e, 16), Rsp = LittleEndian.U64(e, 24),
        };
    }
}

/// <summary>Fills the payload of a new record, then commits it into the next header slot.</summary>
public ref struct CrashlogWriter
{
    readonly Span<byte> _area;
    readonly int _cpusAt, _cpuCapacity;
    int _cpus;

    /// <summary>The fixed part; CPU entries (at most cpuCapacity) and the log's tail follow.</summary>
    public CrashlogWriter(Span<byte> area, ulong crashTime, ulong uptimeNs, uint crashCpu, scoped ReadOnlySpan<byte> reason,
        scoped ReadOnlySpan<byte> buildId, int cpuCapacity)
    {
        _area = area;
        _cpus = 0;
        Span<byte> p = area.Slice(RamCrashlog.PayloadOffset);
        int reasonLength = reason.Length < RamCrashlog.MaxReason ? reason.Length : RamCrashlog.MaxReason;
        int idLength = buildId.Length < RamCrashlog.MaxBuildId ? buildId.Length : RamCrashlog.MaxBuildId;
        LittleEndian.Put64(p, 0, crashTime);
        LittleEndian.Put64(p, 8, uptimeNs);
        LittleEndian.Put32(p, 16, crashCpu);
        LittleEndian.Put16(p, 20, (ushort)reasonLength);
        LittleEndian.Put16(p, 22, (ushort)idLength);
        LittleEndian.Put32(p, 24, 0);
        LittleEndian.Put32(p, 28, 0);
        reason.Slice(0, reasonLength).CopyTo(p.Slice(RamCrashlog.FixedSize));
        buildId.Slice(0, idLength).CopyTo(p.Slice(RamCrashlog.FixedSize + reasonLength));
        _cpusAt = (RamCrashlog.FixedSize + reasonLength + idLength + 7) & ~7;
        int room = (p.Length - _cpusAt) / RamCrashlog.CpuEntrySize;
        _cpuCapacity = cpuCapacity < room ? cpuCapacity : room;
    }

    public void AddCpu(in CrashlogCpu c)
    {
        if (_cpus >= _cpuCapacity) return;
        Span<byte> e = _area.Slice(RamCrashlog.PayloadOffset + _cpusAt + _cpus * RamCrashlog.CpuEntrySize, RamCrashlog.CpuEntrySize);
        LittleEndian.Put32(e, 0, c.Cpu);
        LittleEndian.Put32(e, 4, c.ApicId);
        LittleEndian.Put32(e, 8, (uint)c.State);
        LittleEndian.Put32(e, 12, c.WaitedMs);
        LittleEndian.Put64(e, 16, c.Rip);
        LittleEndian.Put64(e, 24, c.Rsp);
        _cpus++;
    }

    /// <summary>Where the log's tail goes (after the CPU entries written so far: add every CPU first).</summary>
    public readonly Span<byte> LogSpace => _area.Slice(RamCrashlog.PayloadOffset + LogAt);

    readonly int LogAt => _cpusAt + _cpus * RamCrashlog.CpuEntrySize;

    /// <summary>
    /// Seals the record: payload CRC, then the header in the slot the current record does not use,
    /// one generation on, so a crash while writing leaves the older header whole.
    /// </summary>
    public readonly void Commit(int logLength, ulong areaAddress)
    {
        Span<byte> p = _area.Slice(RamCrashlog.PayloadOffset);
        if (logLength < 0) logLength = 0;
        if (logLength > p.Length - LogAt) logLength = p.Length - LogAt;
        LittleEndian.Put16(p, 24, (ushort)_cpus);
        LittleEndian.Put32(p, 28, (uint)logLength);
        int length = LogAt + logLength;
        RamCrashlog.WriteHeader(_area, RamCrashlog.NextGeneration(_area), (uint)length, Crc32.Compute(p.Slice(0, length)), 0, areaAddress);
    }
}

public static class RamCrashlog
{
    /// <summary>The area: a page of headers and 28 KiB of record.</summary>
    public const int Size = 32 * 1024;
    public const int PayloadOffset = 4096, HeaderSlotSize = 64, FixedSize = 32, CpuEntrySize = 32;
    public const int MaxReason = 255, MaxBuildId = 64;
    public const uint Version = 1, FlagReported = 1;
    static ReadOnlySpan<byte> Magic => "NMIDCLOG"u8;

    /// <summary>Whether a page begins with a header slot's magic (the inspector's search through a memory image).</summary>
    public static bool LooksLikeArea(ReadOnlySpan<byte> page) => page.Length >= Size && (HasMagic(page, 0) || HasMagic(page, HeaderSlotSize));

    static bool HasMagic(ReadOnlySpan<byte> area, int slot) => Bytes.StartsWith(area.Slice(slot), Magic);

    /// <summary>The header slot that is whole and newest: its index, or -1 (damaged tells whether any slot had the magic).</summary>
    static int ActiveSlot(ReadOnlySpan<byte> area, out bool anyMagic, out uint generation)
    {
        int best = -1;
        generation = 0;
        anyMagic = false;
        for (int slot = 0; slot < 2; slot++)
        {
            int at = slot * HeaderSlotSize;
            if (!HasMagic(area, at)) continue;
            anyMagic = true;
            ReadOnlySpan<byte> h = area.Slice(at, HeaderSlotSize);
            if (LittleEndian.U32(h, 8) != Version || LittleEndian.U32(h, 60) != Crc32.Compute(h.Slice(0, 60))) continue;
            uint g = LittleEndian.U32(h, 12);
            // Generations only grow; "newer" by wrapping difference, as sequence numbers compare.
            if (best < 0 || (int)(g - generation) > 0) { best = slot; generation = g; }
        }
        return best;
    }

    /// <summary>The generation the next header gets (1 for a fresh area).</summary>
    public static uint NextGeneration(ReadOnlySpan<byte> area) => ActiveSlot(area, out _, out uint g) < 0 ? 1 : g + 1;

    /// <summary>A header into the slot that is not the active one.</summary>
    public static void WriteHeader(Span<byte> area, uint generation, uint payloadLength, uint payloadCrc, uint flags, ulong areaAddress)
    {
        int active = ActiveSlot(area, out _, out _);
        Span<byte> h = area.Slice((active == 0 ? 1 : 0) * HeaderSlotSize, HeaderSlotSize);
        // The magic last: a slot caught half-written has either no magic or a CRC that fails.
        h.Slice(0, 8).Clear();
        LittleEndian.Put32(h, 8, Version);
        LittleEndian.Put32(h, 12, generation);
        LittleEndian.Put32(h, 16, payloadLength);
        LittleEndian.Put32(h, 20, payloadCrc);
        LittleEndian.Put32(h, 24, flags);
        LittleEndian.Put32(h, 28, 0);
        LittleEndian.Put64(h, 32, areaAddress);
        h.Slice(40, 20).Clear();
        Magic.CopyTo(h);
        LittleEndian.Put32(h, 60, Crc32.Compute(h.Slice(0, 60)));
    }

    /// <summary>Reads the area's record: none, valid (every field filled) or damaged (Problem and the CRCs say why).</summary>
    public static CrashlogStatus Read(ReadOnlySpan<byte> area, out CrashlogRecord r)
    {
        r = default;
        if (area.Length < Size) return CrashlogStatus.None;
        int slot = ActiveSlot(area, out bool anyMagic, out uint generation);
        if (slot < 0)
        {
            if (!anyMagic) return CrashlogStatus.None;
            ReadOnlySpan<byte> h0 = area.Slice(HasMagic(area, 0) ? 0 : HeaderSlotSize, HeaderSlotSize);
            r.Problem = CrashlogProblem.HeaderCrc;
            r.ExpectedCrc = LittleEndian.U32(h0, 60);
            r.ActualCrc = Crc32.Compute(h0.Slice(0, 60));
            return CrashlogStatus.Damaged;
        }
        ReadOnlySpan<byte> h = area.Slice(slot * HeaderSlotSize, HeaderSlotSize);
        r.Generation = generation;
        r.Flags = LittleEndian.U32(h, 24);
        r.AreaAddress = LittleEndian.U64(h, 32);
        uint length = LittleEndian.U32(h, 16);
        ReadOnlySpan<byte> p = area.Slice(PayloadOffset);
        if (length < FixedSize || length > (uint)p.Length)
        {
            r.Problem = CrashlogProblem.PayloadLength;
            return CrashlogStatus.Damaged;
        }
        p = p.Slice(0, (int)length);
        r.ExpectedCrc = LittleEndian.U32(h, 20);
        r.ActualCrc = Crc32.Compute(p);
        if (r.ExpectedCrc != r.ActualCrc)
        {
            r.Problem = CrashlogProblem.PayloadCrc;
            return CrashlogStatus.Damaged;
        }
        r.CrashTime = LittleEndian.U64(p, 0);
        r.UptimeNs = LittleEndian.U64(p, 8);
        r.CrashCpu = LittleEndian.U32(p, 16);
        int reasonLength = LittleEndian.U16(p, 20), idLength = LittleEndian.U16(p, 22), cpus = LittleEndian.U16(p, 24);
        uint logLength = LittleEndian.U32(p, 28);
        int cpusAt = (FixedSize + reasonLength + idLength + 7) & ~7;
        if ((ulong)cpusAt + (ulong)cpus * CpuEntrySize + logLength != length)
        {
            r.Problem = CrashlogProblem.PayloadLength;
            return CrashlogStatus.Damaged;
        }
        r.Reason = p.Slice(FixedSize, reasonLength);
        r.BuildId = p.Slice(FixedSize + reasonLength, idLength);
        r.CpuCount = cpus;
        r.Cpus = p.Slice(cpusAt, cpus * CpuEntrySize);
        r.Log = p.Slice(cpusAt + cpus * CpuEntrySize, (int)logLength);
        return CrashlogStatus.Valid;
    }

    /// <summary>"payload CRC 0x1234abcd, the header says 0x5678ef01": what is wrong with a damaged record.</summary>
    public static void Describe(ref LogLine l, in CrashlogRecord r)
    {
        switch (r.Problem)
        {
            case CrashlogProblem.HeaderCrc:
            case CrashlogProblem.PayloadCrc:
                l.Append(r.Problem == CrashlogProblem.HeaderCrc ? "header CRC 0x" : "payload CRC 0x");
                l.AppendHex(r.ActualCrc, 8);
                l.Append(", the header says 0x");
                l.AppendHex(r.ExpectedCrc, 8);
                break;
            case CrashlogProblem.PayloadLength:
                l.Append("payload length out of bounds");
                break;
            default:
                l.Append("no problem");
                break;
        }
    }

    /// <summary>A later boot reported the record: the same payload under a new header with the flag set.</summary>
    public static bool MarkReported(Span<byte> area)
    {
        if (Read(area, out CrashlogRecord r) != CrashlogStatus.Valid) return false;
        int slot = ActiveSlot(area, out _, out _);
        ReadOnlySpan<byte> h = area.Slice(slot * HeaderSlotSize, HeaderSlotSize);
        WriteHeader(area, r.Generation + 1, LittleEndian.U32(h, 16), LittleEndian.U32(h, 20), r.Flags | FlagReported, r.AreaAddress);
        return true;
    }
}
