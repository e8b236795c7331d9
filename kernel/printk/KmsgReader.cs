// KmsgReader: walks a kmsg ring's records (layout in Kmsg.cs) from the oldest on, trusting nothing:
// the capture kernel and the host inspector read it from a dump.
using System;

/// <summary>
/// Walks the records of a ring from the oldest on. Every length and position is checked before it is
/// used; on the first inconsistency it stops and sets <see cref="Corrupt"/>. Each step moves forward
/// by at least 8 bytes and never past Tail, so a walk ends after at most Capacity / 8 steps.
/// </summary>
public ref struct KmsgReader
{
    private readonly ReadOnlySpan<byte> _data;   // the record area only, already bounds-checked
    private readonly ulong _tail;
    private readonly ulong _nextSeq;
    private ulong _pos;
    private ulong _expectedSeq;
    private bool _haveSeq;
    private bool _corrupt;
    private bool _done;
    private ulong _skip;
    private ulong _seq;
    private ulong _timestampNs;
    private KernLevel _level;
    private int _textOffset;
    private int _textLength;

    internal KmsgReader(ReadOnlySpan<byte> data, ulong head, ulong tail, ulong nextSeq, ulong skip, bool valid)
    {
        _data = data;
        _tail = tail;
        _nextSeq = nextSeq;
        _pos = head;
        _expectedSeq = 0;
        _haveSeq = false;
        _corrupt = !valid;
        _done = !valid;
        _skip = skip;
        _seq = 0;
        _timestampNs = 0;
        _level = KernLevel.Info;
        _textOffset = 0;
        _textLength = 0;
    }

    /// <summary>True if the walk stopped early because the ring was inconsistent (or had no valid header).</summary>
    public readonly bool Corrupt => _corrupt;

    public readonly KmsgRecord Current => new KmsgRecord(_seq, _timestampNs, _level, _data.Slice(_textOffset, _textLength));

    public KmsgReader GetEnumerator() => this;

    public bool MoveNext()
    {
        while (!_done)
        {
            if (!Step()) { _done = true; return false; }
            if (_skip == 0) return true;
            _skip--;
        }
        return false;
    }

    // Decodes the record at _pos into the current fields and moves past it.
    private bool Step()
    {
        uint capacity = (uint)_data.Length;
        while (_pos < _tail)
        {
            int offset = (int)(_pos % capacity);
            uint room = capacity - (uint)offset;
            uint length = Kmsg.ReadU32(_data, offset);
            if (length == 0)
            {
                // The writer found too little room at the end and went on at offset 0.
                if (room > _tail - _pos) return Fail();
                _pos += room;
                continue;
            }
            if (length < Kmsg.RecordHeaderSize || (length & 7) != 0 || length > room || length > _tail - _pos)
                return Fail();
            uint textLength = Kmsg.ReadU16(_data, offset + 4);
            byte level = _data[offset + 6];
            if (textLength > Kmsg.MaxTextLength || Kmsg.RecordSize((int)textLength) != length || level > (byte)KernLevel.Debug)
                return Fail();
            ulong seq = Kmsg.ReadU64(_data, offset + 8);
            if (seq >= _nextSeq || (_haveSeq && seq != _expectedSeq))
                return Fail();
            _seq = seq;
            _timestampNs = Kmsg.ReadU64(_data, offset + 16);
            _level = (KernLevel)level;
            _textOffset = offset + Kmsg.RecordHeaderSize;
            _textLength = (int)textLength;
            _expectedSeq = seq + 1;
            _haveSeq = true;
            _pos += length;
            return true;
        }
        return false;
    }

    private bool Fail()
    {
        _corrupt = true;
        return false;
    }
}

