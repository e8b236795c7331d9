// Kmsg: the kernel log ring, safe for any number of writers in any context (an NMI that lands inside
// another printk on the same CPU included) with no lock at all: space and sequence numbers are
// claimed together by one compare-exchange, so a writer stopped for good (the crash NMI) leaves one
// unfinished record behind and blocks no one. The ideas are Linux's lockless printk_ringbuffer
// (kernel/printk/printk_ringbuffer.c: reserve/commit with cmpxchg, records that name themselves,
// readers that check every sequence number); the layout is this kernel's own, one ring, no
// descriptor array. The reader (KmsgReader.cs) trusts nothing: it reads rings out of dumps.
using System;
using System.Runtime.InteropServices;
using System.Threading;

// Memory layout of the ring area (little-endian, x86-64 being the only writer):
//
//   offset  size  KmsgHeader
//        0     4  Magic         'KMSG' = 0x47534D4B
//        4     4  Version       3 (2 had one writer at a time and a lock; 1 had no levels)
//        8     4  DataOffset    where the record area starts, from the header (64)
//       12     4  Capacity      size of the record area: a power of two, 128 .. 2^27 bytes
//       16     8  Head          where the next record goes: Seq << 24 | Unit (below)
//       24     8  Tail          the oldest record still kept, same form
//       32     8  Dropped       records pushed out to make room for newer ones
//       40     8  Lost          records never stored: the oldest record was still being written
//       48     4  MaxText       1024, the longest text a record holds
//       52     4  RecordHeader  32, the size of a record header
//       56     8  Reserved      0
//
// A position is counted in 16-byte units from the ring's start, modulo 2^24 (Unit); its byte
// offset in the record area is Unit * 16 % Capacity. Head and Tail pack a sequence number (40 bits)
// with a Unit: one compare-exchange of Head claims the space and the number together, so records lie
// in the area in sequence order. Always: Tail's Unit is at most Capacity bytes behind Head's.
//
// A record starts at a multiple of 16 and never wraps around the end of the area:
//        0     8  Id            Seq << 24 | Unit of this very record: a header that does not name
//                               its own position and number is stale (an older lap) or unwritten
//        8     4  Length        whole record, header, text and padding, a multiple of 16
//       12     4  State         1 reserved (text being written), 2 committed, 3 filler
//       16     8  TimestampNs   nanoseconds since boot
//       24     2  TextLength    at most 1024; Length == align16(32 + TextLength)
//       26     1  Level         Linux's KERN_EMERG (0) .. KERN_DEBUG (7): kept, never printed
//       27     1  Reserved      0
//       28     2  Cpu           the CPU that wrote it (Linux's caller_id)
//       30     2  Reserved      0
//       32        text (ASCII, no terminator), zero padding up to Length
// A filler (16 bytes: Id, Length, State) fills the end of the area when the next record does not
// fit there; its Id carries the sequence number of the record that follows it at offset 0.
//
// Writing one record: claim [Head, Head + size) by compare-exchange, pushing Tail past the oldest
// records first if the ring is full (a committed record is dropped, a reserved one stops the push:
// its writer still owns those bytes, so the new record is counted lost instead); then Length, State
// = reserved and the meta data, then the Id (release); then the text and State = committed (release).

/// <summary>The ring's header, exactly as it lies in memory at the start of the ring area.</summary>
[StructLayout(LayoutKind.Explicit, Size = 64)]
public struct KmsgHeader
{
    [FieldOffset(0)] public uint Magic;
    [FieldOffset(4)] public uint Version;
    [FieldOffset(8)] public uint DataOffset;
    [FieldOffset(12)] public uint Capacity;
    [FieldOffset(16)] public ulong Head;
    [FieldOffset(24)] public ulong Tail;
    [FieldOffset(32)] public ulong Dropped;
    [FieldOffset(40)] public ulong Lost;
    [FieldOffset(48)] public uint MaxText;
    [FieldOffset(52)] public uint RecordHeader;
    [FieldOffset(56)] public ulong Reserved;

    /// <summary>The sequence number the next record gets.</summary>
    public readonly ulong NextSeq => Kmsg.SeqOf(Head);
    /// <summary>The sequence number of the oldest record kept (or NextSeq when there is none).</summary>
    public readonly ulong FirstSeq => Kmsg.SeqOf(Tail);
}

/// <summary>Linux's log levels (include/linux/kern_levels.h): the lower, the more urgent.</summary>
public enum KernLevel : byte
{
    Emerg = 0,
    Alert = 1,
    Crit = 2,
    Err = 3,
    Warning = 4,
    Notice = 5,
    Info = 6,
    Debug = 7,
}

/// <summary>One record as the reader returns it; Text points into the ring area.</summary>
public readonly ref struct KmsgRecord
{
    public readonly ulong Seq;
    public readonly ulong TimestampNs;
    public readonly KernLevel Level;
    public readonly int Cpu;
    public readonly ReadOnlySpan<byte> Text;

    public KmsgRecord(ulong seq, ulong timestampNs, KernLevel level, int cpu, ReadOnlySpan<byte> text)
    {
        Seq = seq;
        TimestampNs = timestampNs;
        Level = level;
        Cpu = cpu;
        Text = text;
    }
}

/// <summary>A record claimed by <see cref="Kmsg.Reserve"/> and not yet committed: where it is and its number.</summary>
public readonly struct KmsgReservation
{
    public readonly int Offset;        // of the record header, from the start of the record area
    public readonly int TextLength;
    public readonly ulong Seq;

    public KmsgReservation(int offset, int textLength, ulong seq)
    {
        Offset = offset;
        TextLength = textLength;
        Seq = seq;
    }
}

/// <summary>Why <see cref="Kmsg.Reserve"/> claimed nothing.</summary>
public enum KmsgReserveStatus
{
    Reserved,
    /// <summary>The area holds no initialised ring.</summary>
    NoRing,
    /// <summary>The ring is full up to a record its writer has not finished: nothing may be pushed out.</summary>
    Busy,
}

/// <summary>The log ring: the writer (Init, Reserve, Commit, Append) for the kernel; the reader is in KmsgReader.cs.</summary>
public static unsafe partial class Kmsg
{
    public const uint Magic = 0x47534D4B;        // "KMSG" in memory order
    public const uint Version = 3;
    public const int HeaderSize = 64;
    public const int RecordHeaderSize = 32;
    public const int FillerSize = 16;
    /// <summary>Records start at, and are sized in, multiples of this (a filler always fits the rest of the area).</summary>
    public const int Granule = 16;
    /// <summary>Longest text a record keeps; longer text is cut (Linux's PRINTKRB_RECORD_MAX is 1024 too).</summary>
    public const int MaxTextLength = 1024;
    /// <summary>Smallest record area Init accepts.</summary>
    public const int MinCapacity = 128;
    /// <summary>Largest record area: half the 2^24-unit position space, so distances are never ambiguous.</summary>
    public const int MaxCapacity = 1 << 27;
    /// <summary>Returned by Append when nothing was stored.</summary>
    public const ulong NoSeq = 0xFFFFFFFFFFFFFFFFUL;

    public const uint StateReserved = 1, StateCommitted = 2, StateFiller = 3;

    const int UnitBits = 24;
    const uint UnitMask = (1u << UnitBits) - 1;

    public static ulong SeqOf(ulong word) => word >> UnitBits;
    public static uint UnitOf(ulong word) => (uint)word & UnitMask;
    public static ulong Pack(ulong seq, uint unit) => seq << UnitBits | (unit & UnitMask);
    /// <summary>Bytes from <paramref name="from"/>'s position to <paramref name="to"/>'s.</summary>
    public static uint Distance(ulong from, ulong to) => ((UnitOf(to) - UnitOf(from)) & UnitMask) * Granule;
    internal static uint OffsetOf(ulong word, uint capacity) => UnitOf(word) * Granule & (capacity - 1);
    internal static uint RecordSize(int textLength) => (uint)(RecordHeaderSize + textLength + Granule - 1) & ~(uint)(Granule - 1);

    // ---- Writer -------------------------------------------------------------------------------

    /// <summary>
    /// Makes <paramref name="area"/> an empty ring: the largest power-of-two record area that fits
    /// behind the header. The area must be 8-byte aligned, so that every Id, Head and Tail is one
    /// atomic 8-byte access. The record area is filled with 0xFF: no stale byte can then pass for
    /// the header of the record a writer is about to claim.
    /// </summary>
    public static bool Init(Span<byte> area)
    {
        if (area.Length < HeaderSize + MinCapacity) return false;
        uint capacity = MaxCapacity;
        while (capacity > (uint)(area.Length - HeaderSize)) capacity >>= 1;
        fixed (byte* p = area)
        {
            if (((ulong)p & 7) != 0) return false;
            KmsgHeader* h = (KmsgHeader*)p;
            h->Magic = 0;                       // invalid while the rest is being set up
            h->Version = Version;
            h->DataOffset = HeaderSize;
            h->Capacity = capacity;
            for (uint i = 0; i < capacity; i++) p[HeaderSize + i] = 0xFF;
            Volatile.Write(ref h->Head, 0);
            Volatile.Write(ref h->Tail, 0);
            h->Dropped = 0;
            h->Lost = 0;
            h->MaxText = MaxTextLength;
            h->RecordHeader = RecordHeaderSize;
            h->Reserved = 0;
            Volatile.Write(ref h->Magic, Magic);   // valid only once the rest is set up
        }
        return true;
    }

    /// <summary>
    /// Stores one record and returns its sequence number, or <see cref="NoSeq"/> (counted in Lost)
    /// when the ring is full up to an unfinished record, or when the area holds no ring. Text longer
    /// than <see cref="MaxTextLength"/>, or than half the ring, is cut. Safe against every other
    /// writer, on any CPU, in any context.
    /// </summary>
    public static ulong Append(Span<byte> area, ulong timestampNs, ReadOnlySpan<byte> text, KernLevel level = KernLevel.Info, int cpu = 0)
    {
        KmsgReserveStatus status = Reserve(area, text.Length, timestampNs, level, cpu, false, out KmsgReservation r);
        if (status == KmsgReserveStatus.Busy) CountLost(area);
        if (status != KmsgReserveStatus.Reserved) return NoSeq;
        Commit(area, in r, text);
        return r.Seq;
    }

    /// <summary>
    /// Claims room for a record of <paramref name="textLength"/> bytes (cut as Append cuts) and
    /// writes its header; the text follows with <see cref="Commit"/>. Busy is not counted: a caller
    /// that may wait retries, and calls <see cref="CountLost"/> when it gives up.
    /// <paramref name="passUnfinished"/> lets the push of Tail go past records whose writers never
    /// finished (they are counted lost): only for a panic, once every other CPU is stopped for good.
    /// </summary>
    public static KmsgReserveStatus Reserve(Span<byte> area, int textLength, ulong timestampNs, KernLevel level, int cpu,
                                            bool passUnfinished, out KmsgReservation reservation)
    {
        reservation = default;
        fixed (byte* p = area)
        {
            if (!Usable(p, area.Length, out uint capacity)) return KmsgReserveStatus.NoRing;
            KmsgHeader* h = (KmsgHeader*)p;
            byte* data = p + HeaderSize;
            if (textLength < 0) textLength = 0;
            if (textLength > MaxTextLength) textLength = MaxTextLength;
            if (textLength > (int)capacity / 2 - RecordHeaderSize) textLength = (int)capacity / 2 - RecordHeaderSize;
            uint size = RecordSize(textLength);

            while (true)
            {
                // Tail first: it only moves forward, so the room seen below is never more than there is.
                ulong tail = Volatile.Read(ref h->Tail);
                ulong head = Volatile.Read(ref h->Head);
                uint used = Distance(tail, head);
                if (used > capacity || SeqOf(head) < SeqOf(tail))
                {
                    // Impossible unless Tail moved meanwhile, or our own memory was scribbled over:
                    // then start over empty rather than trust either end.
                    if (Volatile.Read(ref h->Tail) == tail) Interlocked.CompareExchange(ref h->Tail, head, tail);
                    continue;
                }
                uint offset = OffsetOf(head, capacity), room = capacity - offset;
                uint need = room < size ? room + size : size;      // a filler, then the record at offset 0
                if (used + need > capacity)
                {
                    if (!PushTail(h, data, capacity, tail, head, passUnfinished)) return KmsgReserveStatus.Busy;
                    continue;
                }
                ulong seq = SeqOf(head);
                uint unit = UnitOf(head);
                if (Interlocked.CompareExchange(ref h->Head, Pack(seq + 1, unit + need / Granule), head) != head) continue;

                // [offset, offset + need) is ours: every record that lay there is behind Tail.
                if (room < size)
                {
                    byte* f = data + offset;
                    *(uint*)(f + 8) = room;
                    *(uint*)(f + 12) = StateFiller;
                    Volatile.Write(ref *(ulong*)f, Pack(seq, unit));
                    unit += room / Granule;
                    offset = 0;
                }
                byte* r = data + offset;
                *(uint*)(r + 8) = size;
                *(uint*)(r + 12) = StateReserved;
                *(ulong*)(r + 16) = timestampNs;
                *(ushort*)(r + 24) = (ushort)textLength;
                r[26] = (byte)level <= (byte)KernLevel.Debug ? (byte)level : (byte)KernLevel.Debug;
                r[27] = 0;
                *(ushort*)(r + 28) = (ushort)cpu;
                *(ushort*)(r + 30) = 0;
                Volatile.Write(ref *(ulong*)r, Pack(seq, unit));     // publish: the header names itself
                reservation = new KmsgReservation((int)offset, textLength, seq);
                return KmsgReserveStatus.Reserved;
            }
        }
    }

    /// <summary>Writes the reserved record's text (cut to what was reserved) and marks it committed.</summary>
    public static void Commit(Span<byte> area, in KmsgReservation reservation, ReadOnlySpan<byte> text)
    {
        fixed (byte* p = area)
        {
            if (!Usable(p, area.Length, out uint capacity) || (uint)reservation.Offset > capacity - RecordHeaderSize) return;
            byte* r = p + HeaderSize + reservation.Offset;
            int n = reservation.TextLength, size = (int)RecordSize(n);
            for (int i = 0; i < n && i < text.Length; i++) r[RecordHeaderSize + i] = text[i];
            for (int i = RecordHeaderSize + (n < text.Length ? n : text.Length); i < size; i++) r[i] = 0;
            Volatile.Write(ref *(uint*)(r + 12), StateCommitted);
        }
    }

    /// <summary>A record the caller gave up storing (Reserve stayed Busy).</summary>
    public static void CountLost(Span<byte> area)
    {
        fixed (byte* p = area)
            if (Usable(p, area.Length, out _)) Interlocked.Increment(ref *(long*)&((KmsgHeader*)p)->Lost);
    }

    /// <summary>The sequence number the next record will get (NoSeq without a ring).</summary>
    public static ulong NextSeq(ReadOnlySpan<byte> area)
    {
        fixed (byte* p = area)
            return Usable(p, area.Length, out _) ? SeqOf(Volatile.Read(ref ((KmsgHeader*)p)->Head)) : NoSeq;
    }

    /// <summary>Records between Tail and Head (unfinished ones included), without a walk.</summary>
    public static ulong Pending(ReadOnlySpan<byte> area)
    {
        fixed (byte* p = area)
        {
            if (!Usable(p, area.Length, out _)) return 0;
            KmsgHeader* h = (KmsgHeader*)p;
            ulong tail = Volatile.Read(ref h->Tail), head = Volatile.Read(ref h->Head);
            return SeqOf(head) >= SeqOf(tail) ? SeqOf(head) - SeqOf(tail) : 0;
        }
    }

    // The header as the writer needs it: ours, and describing a record area inside this area.
    static bool Usable(byte* p, int length, out uint capacity)
    {
        capacity = 0;
        if (length < HeaderSize + MinCapacity || ((ulong)p & 7) != 0) return false;
        KmsgHeader* h = (KmsgHeader*)p;
        if (Volatile.Read(ref h->Magic) != Magic || h->Version != Version || h->DataOffset != HeaderSize) return false;
        capacity = h->Capacity;
        return capacity >= MinCapacity && capacity <= MaxCapacity && (capacity & (capacity - 1)) == 0
            && capacity <= (uint)(length - HeaderSize);
    }

    // Moves Tail past the oldest record, or learns that it may not. True when Tail moved (by this
    // CPU or another) and the caller should look again; false when the oldest record is unfinished.
    static bool PushTail(KmsgHeader* h, byte* data, uint capacity, ulong tail, ulong head, bool passUnfinished)
    {
        uint offset = OffsetOf(tail, capacity), room = capacity - offset, used = Distance(tail, head);
        byte* r = data + offset;
        ulong next;
        bool dropped = false, lost = false;
        if (Volatile.Read(ref *(ulong*)r) == tail)
        {
            uint length = *(uint*)(r + 8), state = *(uint*)(r + 12);
            if (state == StateFiller && length == room)
                next = Pack(SeqOf(tail), UnitOf(tail) + room / Granule);
            else if ((state == StateCommitted || state == StateReserved) && ValidLength(length, room, used))
            {
                if (state == StateReserved && !passUnfinished) return false;
                next = Pack(SeqOf(tail) + 1, UnitOf(tail) + length / Granule);
                dropped = state == StateCommitted;
                lost = !dropped;
            }
            else
            {
                // The header names itself but does not parse: our memory was scribbled over.
                next = head;
                dropped = true;
            }
        }
        else
        {
            // Claimed, but its header is not written yet: the writer is between its claim and
            // its first store, or was stopped there for good.
            if (!passUnfinished) return false;
            next = NextNamedRecord(data, capacity, tail, head);
            lost = true;
        }
        if (Interlocked.CompareExchange(ref h->Tail, next, tail) == tail)
        {
            long n = (long)(SeqOf(next) - SeqOf(tail));
            if (dropped) Interlocked.Add(ref *(long*)&h->Dropped, n);
            if (lost) Interlocked.Add(ref *(long*)&h->Lost, n);
        }
        return true;
    }

    internal static bool ValidLength(uint length, uint room, uint before)
        => length >= RecordHeaderSize && length % Granule == 0 && length <= room && length <= before;

    /// <summary>
    /// The first position after <paramref name="from"/> and before <paramref name="head"/> whose
    /// header names itself with a sequence number in range, as a Head/Tail word; head if none does.
    /// Stale headers name older laps and text bytes name nothing, so this finds the next record.
    /// </summary>
    internal static ulong NextNamedRecord(byte* data, uint capacity, ulong from, ulong head)
    {
        ulong seq = SeqOf(from), last = SeqOf(head);
        uint steps = Distance(from, head) / Granule;
        for (uint k = 1; k < steps; k++)
        {
            uint unit = UnitOf(from) + k;
            uint offset = unit * Granule & (capacity - 1);
            ulong id = Volatile.Read(ref *(ulong*)(data + offset));
            ulong s = SeqOf(id);
            if (UnitOf(id) != (unit & UnitMask) || s < seq || s >= last) continue;
            uint state = *(uint*)(data + offset + 12);
            if (state == StateReserved || state == StateCommitted || state == StateFiller) return id;
        }
        return head;
    }
}
