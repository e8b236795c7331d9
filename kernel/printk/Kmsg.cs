// Kmsg: the kernel log ring. Every line keeps a sequence number and a nanosecond timestamp, the oldest
// go when it is full, and the reader trusts nothing (the capture kernel and the host inspector read
// it from a dump). Mirrors Linux's printk log_buf, its zero-length wrap record and dmesg's prefix.
using System;
using System.Runtime.InteropServices;
using System.Threading;

// Memory layout of the ring area (all little-endian, x86-64 being the only writer):
//
//   offset  size  KmsgHeader
//        0     4  Magic         'KMSG' = 0x47534D4B
//        4     4  Version       2 (1 had no levels: a 4-byte TextLength)
//        8     4  DataOffset    where the record area starts, from the header (64)
//       12     4  Capacity      size of the record area in bytes, a multiple of 8
//       16     8  Head          logical position of the oldest record
//       24     8  Tail          logical position the next record is written at
//       32     8  NextSeq       sequence number the next record gets (the first is 0)
//       40     8  Dropped       records dropped to make room
//       48     4  MaxText       1024, the longest text a record holds
//       52     4  RecordHeader  24, the size of a record header
//       56     8  Reserved      0
//
// Logical positions only grow; a position's byte offset in the record area is position % Capacity.
// Always: Head and Tail are multiples of 8, Head <= Tail, Tail - Head <= Capacity.
//
// A record starts at a multiple of 8 and never wraps around the end of the area:
//        0     4  Length        whole record with this header and padding, a multiple of 8;
//                               0 marks a wrap: the rest of the area is unused, go on at offset 0
//        4     2  TextLength    at most 1024; Length == align8(24 + TextLength)
//        6     1  Level         Linux's KERN_EMERG (0) .. KERN_DEBUG (7): kept, never printed
//        7     1  Reserved      0
//        8     8  Seq           one more than the previous record's
//       16     8  TimestampNs   nanoseconds since boot
//       24        text (ASCII, no terminator), zero padding up to Length

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
    [FieldOffset(32)] public ulong NextSeq;
    [FieldOffset(40)] public ulong Dropped;
    [FieldOffset(48)] public uint MaxText;
    [FieldOffset(52)] public uint RecordHeader;
    [FieldOffset(56)] public ulong Reserved;
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
    public readonly ReadOnlySpan<byte> Text;

    public KmsgRecord(ulong seq, ulong timestampNs, KernLevel level, ReadOnlySpan<byte> text)
    {
        Seq = seq;
        TimestampNs = timestampNs;
        Level = level;
        Text = text;
    }
}

/// <summary>The log ring: the writer (Init, Append) for the kernel, the reader for everyone.</summary>
public static unsafe class Kmsg
{
    public const uint Magic = 0x47534D4B;        // "KMSG" in memory order
    public const uint Version = 2;
    public const int HeaderSize = 64;
    public const int RecordHeaderSize = 24;
    /// <summary>Longest text a record keeps; longer text is cut (Linux's PRINTKRB_RECORD_MAX is 1024 too).</summary>
    public const int MaxTextLength = 1024;
    /// <summary>Smallest record area Init accepts: room for one record with 8 bytes of text.</summary>
    public const int MinCapacity = 32;
    /// <summary>Returned by Append when the area holds no initialised ring.</summary>
    public const ulong NoSeq = 0xFFFFFFFFFFFFFFFFUL;

    internal static uint RecordSize(int textLength) => (uint)(RecordHeaderSize + textLength + 7) & ~7u;

    // ---- Writer -------------------------------------------------------------------------------

    /// <summary>
    /// Makes <paramref name="area"/> an empty ring: header first, records after it. The area must be
    /// 8-byte aligned so that Head and Tail are each stored by one instruction, and a dump taken
    /// while a CPU was stopped mid-Append never holds a torn position. Head and Tail are written
    /// with Volatile.Write so the compiler cannot move them across the record stores they order.
    /// </summary>
    public static bool Init(Span<byte> area)
    {
        if (area.Length < HeaderSize + MinCapacity) return false;
        fixed (byte* p = area)
        {
            if (((ulong)p & 7) != 0) return false;
            KmsgHeader* h = (KmsgHeader*)p;
            h->Magic = 0;                       // invalid while the rest is being set up
            h->Version = Version;
            h->DataOffset = HeaderSize;
            h->Capacity = (uint)(area.Length - HeaderSize) & ~7u;
            Volatile.Write(ref h->Head, 0);
            Volatile.Write(ref h->Tail, 0);
            h->NextSeq = 0;
            h->Dropped = 0;
            h->MaxText = MaxTextLength;
            h->RecordHeader = RecordHeaderSize;
            h->Reserved = 0;
            Volatile.Write(ref h->Magic, Magic);   // valid only once the rest is set up
        }
        return true;
    }

    /// <summary>
    /// Appends one record, dropping the oldest ones until it fits, and returns its sequence number
    /// (<see cref="NoSeq"/> if the area was never initialised). Text longer than
    /// <see cref="MaxTextLength"/>, or than the ring can hold, is cut. Not reentrant: the caller
    /// serialises writers.
    /// </summary>
    public static ulong Append(Span<byte> area, ulong timestampNs, ReadOnlySpan<byte> text, KernLevel level = KernLevel.Info)
    {
        if (area.Length < HeaderSize + MinCapacity) return NoSeq;
        fixed (byte* p = area)
        {
            KmsgHeader* h = (KmsgHeader*)p;
            if (h->Magic != Magic || h->Version != Version || h->DataOffset != HeaderSize) return NoSeq;
            uint capacity = h->Capacity;
            if (capacity < MinCapacity || (capacity & 7) != 0 || capacity > (uint)(area.Length - HeaderSize))
                return NoSeq;
            byte* data = p + HeaderSize;

            // A scribbled header must not make us loop or write out of bounds: start over empty.
            ulong head = h->Head, tail = h->Tail;
            if (((head | tail) & 7) != 0 || head > tail || tail - head > capacity)
            {
                Volatile.Write(ref h->Head, tail & ~7UL);
                Volatile.Write(ref h->Tail, tail & ~7UL);
                head = tail = tail & ~7UL;
            }

            int textLength = text.Length;
            if (textLength > MaxTextLength) textLength = MaxTextLength;
            if (textLength > (int)capacity - RecordHeaderSize) textLength = (int)capacity - RecordHeaderSize;
            uint size = RecordSize(textLength);

            uint offset = (uint)(tail % capacity);
            uint room = capacity - offset;
            if (room < size && head == tail)
            {
                head = tail = RestartAtZero(h, data, offset, room, tail);
                offset = 0;
                room = capacity;
            }
            ulong needed = room < size ? room + size : size;

            // Drop first, write after: Head moves past the old records before their bytes are
            // reused, so [Head, Tail) is whole at every instant, even if this CPU is stopped by an
            // NMI half way and the ring is read from the dump.
            while (capacity - (tail - head) < needed)
            {
                head = DropOldest(h, data, capacity, head, tail);
                if (head == tail && room < size)
                {
                    // Emptied: rather than a wrap record plus the record, which may not both fit.
                    head = tail = RestartAtZero(h, data, offset, room, tail);
                    offset = 0;
                    room = capacity;
                    needed = size;
                }
            }

            if (room < size)
            {
                *(uint*)(data + offset) = 0;     // wrap marker
                tail += room;
                offset = 0;
            }

            ulong seq = h->NextSeq;
            byte* r = data + offset;
            *(uint*)r = size;
            *(ushort*)(r + 4) = (ushort)textLength;
            r[6] = (byte)level <= (byte)KernLevel.Debug ? (byte)level : (byte)KernLevel.Debug;
            r[7] = 0;
            *(ulong*)(r + 8) = seq;
            *(ulong*)(r + 16) = timestampNs;
            for (int i = 0; i < textLength; i++) r[RecordHeaderSize + i] = text[i];
            for (int i = RecordHeaderSize + textLength; i < (int)size; i++) r[i] = 0;

            // Publish: the record is complete before Tail covers it.
            h->NextSeq = seq + 1;
            Volatile.Write(ref h->Tail, tail + size);
            return seq;
        }
    }

    // An empty ring whose record does not fit before the end: both ends move to offset 0. The unused
    // end is marked first and Tail moves before Head, so at every instant Head <= Tail and
    // [Head, Tail) holds nothing but that wrap marker.
    private static ulong RestartAtZero(KmsgHeader* h, byte* data, uint offset, uint room, ulong tail)
    {
        *(uint*)(data + offset) = 0;
        tail += room;
        Volatile.Write(ref h->Tail, tail);
        Volatile.Write(ref h->Head, tail);
        return tail;
    }

    // Moves Head past the oldest record (or wrap marker) and returns the new Head. A record that
    // does not parse means our own memory was scribbled: everything is dropped rather than trusted.
    private static ulong DropOldest(KmsgHeader* h, byte* data, uint capacity, ulong head, ulong tail)
    {
        uint offset = (uint)(head % capacity);
        uint room = capacity - offset;
        uint length = *(uint*)(data + offset);
        ulong next;
        if (length == 0)
        {
            next = room <= tail - head ? head + room : tail;
        }
        else if (length >= RecordHeaderSize && (length & 7) == 0 && length <= room && length <= tail - head)
        {
            next = head + length;
            h->Dropped = h->Dropped + 1;
        }
        else
        {
            next = tail;
            h->Dropped = h->Dropped + 1;
        }
        Volatile.Write(ref h->Head, next);
        return next;
    }

    // ---- Reader (never trusts the area) -------------------------------------------------------

    /// <summary>
    /// Reads and checks the header: magic, version, record area inside <paramref name="area"/>, and
    /// the Head/Tail invariants. False means there is no usable ring here.
    /// </summary>
    public static bool ReadHeader(ReadOnlySpan<byte> area, out KmsgHeader header)
    {
        header = default;
        if (area.Length < HeaderSize) return false;
        header.Magic = ReadU32(area, 0);
        header.Version = ReadU32(area, 4);
        header.DataOffset = ReadU32(area, 8);
        header.Capacity = ReadU32(area, 12);
        header.Head = ReadU64(area, 16);
        header.Tail = ReadU64(area, 24);
        header.NextSeq = ReadU64(area, 32);
        header.Dropped = ReadU64(area, 40);
        header.MaxText = ReadU32(area, 48);
        header.RecordHeader = ReadU32(area, 52);
        header.Reserved = ReadU64(area, 56);
        if (header.Magic != Magic || header.Version != Version) return false;
        if (header.DataOffset < HeaderSize || (header.DataOffset & 7) != 0) return false;
        if (header.Capacity < MinCapacity || (header.Capacity & 7) != 0) return false;
        if ((ulong)header.DataOffset + header.Capacity > (ulong)area.Length) return false;
        if (((header.Head | header.Tail) & 7) != 0 || header.Head > header.Tail) return false;
        if (header.Tail - header.Head > header.Capacity) return false;
        return true;
    }

    /// <summary>
    /// How many bytes the ring occupies according to the first 64 bytes of it (0 if they are not a
    /// ring header), so a dump reader knows how much to fetch before calling the others.
    /// </summary>
    public static ulong AreaSize(ReadOnlySpan<byte> headerBytes)
    {
        if (headerBytes.Length < HeaderSize || ReadU32(headerBytes, 0) != Magic) return 0;
        return (ulong)ReadU32(headerBytes, 8) + ReadU32(headerBytes, 12);
    }

    /// <summary>All records from the oldest on.</summary>
    public static KmsgReader Read(ReadOnlySpan<byte> area) => ReadSkipping(area, 0);

    /// <summary>The newest <paramref name="count"/> records, oldest of them first.</summary>
    public static KmsgReader ReadLast(ReadOnlySpan<byte> area, int count)
    {
        ulong total = Count(area);
        ulong wanted = count < 0 ? 0 : (ulong)count;
        return ReadSkipping(area, total > wanted ? total - wanted : 0);
    }

    /// <summary>Number of records a reader would return before finishing or hitting corruption.</summary>
    public static ulong Count(ReadOnlySpan<byte> area)
    {
        ulong n = 0;
        KmsgReader reader = Read(area);
        while (reader.MoveNext()) n++;
        return n;
    }

    private static KmsgReader ReadSkipping(ReadOnlySpan<byte> area, ulong skip)
    {
        if (!ReadHeader(area, out KmsgHeader header))
            return new KmsgReader(default, 0, 0, 0, 0, false);
        return new KmsgReader(area.Slice((int)header.DataOffset, (int)header.Capacity),
                              header.Head, header.Tail, header.NextSeq, skip, true);
    }

    // ---- Formatting -----------------------------------------------------------------------------

    /// <summary>Appends Linux's dmesg prefix, "[%5lu.%06lu] ": seconds right-aligned in 5 columns, microseconds.</summary>
    public static void AppendPrefix(ref LogLine line, ulong timestampNs)
    {
        ulong seconds = timestampNs / 1000000000UL;
        ulong micros = timestampNs % 1000000000UL / 1000UL;
        line.AppendChar('[');
        line.AppendFormatted(seconds, 5);
        line.AppendChar('.');
        line.AppendFormatted(micros, "d6");
        line.Append("] ");
    }

    /// <summary>
    /// Writes "[    0.001234] text" into <paramref name="destination"/> (cut to fit) and returns the
    /// bytes written. Text from a dump is untrusted, so anything not printable ASCII becomes '?'.
    /// </summary>
    public static int FormatRecord(ulong timestampNs, ReadOnlySpan<byte> text, Span<byte> destination)
    {
        LogLine prefix = new LogLine(0, 0);
        AppendPrefix(ref prefix, timestampNs);
        ReadOnlySpan<byte> p = prefix.AsSpan();
        int n = 0;
        for (int i = 0; i < p.Length && n < destination.Length; i++) destination[n++] = p[i];
        for (int i = 0; i < text.Length && n < destination.Length; i++)
        {
            byte b = text[i];
            destination[n++] = b >= 0x20 && b <= 0x7E ? b : (byte)'?';
        }
        return n;
    }

    // ---- Little-endian access with bounds checks (a failed check is a kernel bug, not a fault) --

    internal static uint ReadU16(ReadOnlySpan<byte> s, int offset) => (uint)s[offset] | (uint)s[offset + 1] << 8;

    internal static uint ReadU32(ReadOnlySpan<byte> s, int offset)
        => (uint)s[offset] | (uint)s[offset + 1] << 8 | (uint)s[offset + 2] << 16 | (uint)s[offset + 3] << 24;

    internal static ulong ReadU64(ReadOnlySpan<byte> s, int offset)
        => ReadU32(s, offset) | (ulong)ReadU32(s, offset + 4) << 32;
}
