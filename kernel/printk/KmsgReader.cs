// KmsgReader: walks a kmsg ring's records (layout in Kmsg.cs) from the oldest on, trusting nothing:
// the capture kernel and the host inspector read it from a dump, and the kernel itself may read it
// while other CPUs write. Like Linux's readers, it believes a record only when its header names the
// position and the sequence number the walk expects there.
using System;

/// <summary>
/// Walks the records of a ring from the oldest on, in sequence order. Every length and position is
/// checked before it is used. A record that was claimed but never finished (its writer stopped) is
/// skipped and counted in <see cref="Unfinished"/>; bytes that parse as nothing at all are skipped up
/// to the next record that names itself, and set <see cref="Corrupt"/>. Each step moves forward by at
/// least 16 bytes and never past Head, so a walk ends after at most Capacity / 16 steps.
/// </summary>
public ref struct KmsgReader
{
    private readonly ReadOnlySpan<byte> _data;   // the record area only, already bounds-checked
    private readonly ulong _head;
    private ulong _pos;                          // Seq << 24 | Unit the walk expects next
    private ulong _fromSeq;
    private bool _corrupt;
    private bool _done;
    private readonly bool _stopAtUnfinished;
    private ulong _unfinished;
    private ulong _skip;
    private ulong _seq;
    private ulong _timestampNs;
    private KernLevel _level;
    private int _cpu;
    private int _textOffset;
    private int _textLength;

    internal KmsgReader(ReadOnlySpan<byte> data, ulong tail, ulong head, ulong fromSeq, ulong skip, bool valid, bool stopAtUnfinished = false)
    {
        _data = data;
        _stopAtUnfinished = stopAtUnfinished;
        _head = head;
        _pos = tail;
        _fromSeq = fromSeq;
        _corrupt = !valid;
        _done = !valid;
        _unfinished = 0;
        _skip = skip;
        _seq = 0;
        _timestampNs = 0;
        _level = KernLevel.Info;
        _cpu = 0;
        _textOffset = 0;
        _textLength = 0;
    }

    /// <summary>True if some bytes between Tail and Head were not records (or the ring had no valid header).</summary>
    public readonly bool Corrupt => _corrupt;

    /// <summary>Records walked past so far that were claimed but never committed (a writer stopped, or still writing).</summary>
    public readonly ulong Unfinished => _unfinished;

    /// <summary>Where the walk is: after the current record (Seq << 24 | Unit), or at the unfinished record it stopped at.</summary>
    public readonly ulong Position => _pos;

    public readonly KmsgRecord Current => new KmsgRecord(_seq, _timestampNs, _level, _cpu, _data.Slice(_textOffset, _textLength));

    public KmsgReader GetEnumerator() => this;

    public bool MoveNext()
    {
        while (!_done)
        {
            if (!Step()) { _done = true; return false; }
            if (_seq < _fromSeq) continue;
            if (_skip == 0) return true;
            _skip--;
        }
        return false;
    }

    // Decodes the committed record at or after _pos into the current fields and moves past it.
    private bool Step()
    {
        uint capacity = (uint)_data.Length;
        while (_pos != _head)
        {
            uint before = Kmsg.Distance(_pos, _head);
            int offset = (int)Kmsg.OffsetOf(_pos, capacity);
            uint room = capacity - (uint)offset;
            ulong id = Kmsg.ReadU64(_data, offset);
            if (id != _pos)
            {
                // Claimed but not written yet (or never: the writer stopped between its claim and
                // its first store), or damage: resume at the next header that names itself.
                if (StopHere()) return false;
                Resync(Kmsg.SeqOf(_pos), false);
                continue;
            }
            uint length = Kmsg.ReadU32(_data, offset + 8), state = Kmsg.ReadU32(_data, offset + 12);
            if (state == Kmsg.StateFiller && length == room && room <= before)
            {
                _pos = Kmsg.Pack(Kmsg.SeqOf(_pos), Kmsg.UnitOf(_pos) + room / Kmsg.Granule);
                continue;
            }
            if ((state != Kmsg.StateCommitted && state != Kmsg.StateReserved) || !Kmsg.ValidLength(length, room, before))
            {
                Resync(Kmsg.SeqOf(_pos), true);
                continue;
            }
            ulong next = Kmsg.Pack(Kmsg.SeqOf(_pos) + 1, Kmsg.UnitOf(_pos) + length / Kmsg.Granule);
            if (state == Kmsg.StateReserved)
            {
                if (StopHere()) return false;
                _unfinished++;
                _pos = next;
                continue;
            }
            uint textLength = Kmsg.ReadU16(_data, offset + 24);
            byte level = _data[offset + 26];
            if (textLength > Kmsg.MaxTextLength || Kmsg.RecordSize((int)textLength) != length || level > (byte)KernLevel.Debug)
            {
                Resync(Kmsg.SeqOf(_pos), true);
                continue;
            }
            _seq = Kmsg.SeqOf(_pos);
            _timestampNs = Kmsg.ReadU64(_data, offset + 16);
            _level = (KernLevel)level;
            _cpu = (int)Kmsg.ReadU16(_data, offset + 28);
            _textOffset = offset + Kmsg.RecordHeaderSize;
            _textLength = (int)textLength;
            _pos = next;
            return true;
        }
        return false;
    }

    // A reader that prints in order (the console) waits for a record still being written rather
    // than pass it: its writer prints it once it is committed. Older records do not hold it up.
    private readonly bool StopHere() => _stopAtUnfinished && Kmsg.SeqOf(_pos) >= _fromSeq;

    // Moves _pos to the next header that names itself (or to Head). The records jumped over were
    // claimed and never finished, unless the header here named itself and did not parse: damage.
    private unsafe void Resync(ulong seq, bool damaged)
    {
        ulong next;
        fixed (byte* d = _data) next = Kmsg.NextNamedRecord(d, (uint)_data.Length, _pos, _head);
        if (damaged) _corrupt = true;
        else _unfinished += Kmsg.SeqOf(next) > seq ? Kmsg.SeqOf(next) - seq : 1;
        _pos = next;
    }
}

public static unsafe partial class Kmsg
{
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
        header.Tail = ReadU64(area, 24);
        header.Head = ReadU64(area, 16);
        header.Dropped = ReadU64(area, 32);
        header.Lost = ReadU64(area, 40);
        header.MaxText = ReadU32(area, 48);
        header.RecordHeader = ReadU32(area, 52);
        header.Reserved = ReadU64(area, 56);
        if (header.Magic != Magic || header.Version != Version) return false;
        if (header.DataOffset < HeaderSize || header.DataOffset % Granule != 0) return false;
        uint capacity = header.Capacity;
        if (capacity < MinCapacity || capacity > MaxCapacity || (capacity & (capacity - 1)) != 0) return false;
        if ((ulong)header.DataOffset + capacity > (ulong)area.Length) return false;
        uint used = Distance(header.Tail, header.Head);
        if (used > capacity || SeqOf(header.Head) < SeqOf(header.Tail)) return false;
        // Every record takes at least a header's worth of the space between them.
        if (SeqOf(header.Head) - SeqOf(header.Tail) > used / RecordHeaderSize) return false;
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
    public static KmsgReader Read(ReadOnlySpan<byte> area) => ReadSkipping(area, 0, 0);

    /// <summary>The records numbered <paramref name="seq"/> and later (the panic's own lines, say).</summary>
    public static KmsgReader ReadFrom(ReadOnlySpan<byte> area, ulong seq) => ReadSkipping(area, seq, 0);

    /// <summary>
    /// The committed records from <paramref name="position"/> (a <see cref="KmsgReader.Position"/>) on,
    /// stopping at the first one still being written, for a reader that must print every record in
    /// order (the console). A position the ring has moved past starts the walk at the oldest record.
    /// With <paramref name="passUnfinished"/> (a panic, once every other CPU is stopped) unfinished
    /// records are passed instead.
    /// </summary>
    public static KmsgReader ReadCommittedFrom(ReadOnlySpan<byte> area, ulong position, bool passUnfinished)
    {
        if (!ReadHeader(area, out KmsgHeader header))
            return new KmsgReader(default, 0, 0, 0, 0, false);
        ulong start = header.Tail;
        if (SeqOf(position) >= SeqOf(header.Tail) && SeqOf(position) <= SeqOf(header.Head)
            && Distance(header.Tail, position) <= Distance(header.Tail, header.Head))
            start = position;
        return new KmsgReader(area.Slice((int)header.DataOffset, (int)header.Capacity), start, header.Head,
                              SeqOf(position), 0, true, stopAtUnfinished: !passUnfinished);
    }

    /// <summary>The newest <paramref name="count"/> records, oldest of them first.</summary>
    public static KmsgReader ReadLast(ReadOnlySpan<byte> area, int count)
    {
        ulong total = Count(area);
        ulong wanted = count < 0 ? 0 : (ulong)count;
        return ReadSkipping(area, 0, total > wanted ? total - wanted : 0);
    }

    /// <summary>Number of records a reader would return.</summary>
    public static ulong Count(ReadOnlySpan<byte> area)
    {
        ulong n = 0;
        KmsgReader reader = Read(area);
        while (reader.MoveNext()) n++;
        return n;
    }

    private static KmsgReader ReadSkipping(ReadOnlySpan<byte> area, ulong fromSeq, ulong skip)
    {
        if (!ReadHeader(area, out KmsgHeader header))
            return new KmsgReader(default, 0, 0, 0, 0, false);
        return new KmsgReader(area.Slice((int)header.DataOffset, (int)header.Capacity), header.Tail, header.Head, fromSeq, skip, true);
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
