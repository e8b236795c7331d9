// BootParamsReport: what the parser has to tell the console once it is up, kept as data (no
// callbacks): one line for all unknown names, as init/main.c's print_unknown_bootoptions(), and
// one line per malformed value.
using System;

/// <summary>
/// What the parser has to tell the console, kept as data (no callbacks): one line for all unknown
/// names, one line per malformed value (the first <see cref="MaxMalformedLines"/>).
/// </summary>
public unsafe struct BootParamsReport
{
    public const int MaxMalformedLines = 8;
    // Room for the names so that the prefix and the closing ", ignored" always fit in a LogLine.
    private const int UnknownNamesCapacity = LogLine.Capacity - 56;

    /// <summary>Unknown parameters seen (all of them, even those cut from the line).</summary>
    public int UnknownCount;
    /// <summary>Malformed values seen (all of them, even those beyond MaxMalformedLines).</summary>
    public int MalformedCount;
    /// <summary>Offset in the command line of what follows "--", or -1.</summary>
    public int InitArgsOffset;

    private int _unknownLength;
    private bool _unknownCut;
    private fixed byte _unknown[UnknownNamesCapacity];
    private fixed int _malformedLength[MaxMalformedLines];
    private fixed byte _malformed[MaxMalformedLines * LogLine.Capacity];

    /// <summary>Malformed lines kept, at most MaxMalformedLines.</summary>
    public readonly int MalformedLineCount => MalformedCount < MaxMalformedLines ? MalformedCount : MaxMalformedLines;

    /// <summary>Unknown kernel command line parameters "foo bar", ignored (only if UnknownCount > 0).</summary>
    public readonly LogLine UnknownLine()
    {
        LogLine line = new LogLine(0, 0);
        line.Append("Unknown kernel command line parameters \"");
        int n = _unknownLength < UnknownNamesCapacity ? _unknownLength : UnknownNamesCapacity;
        for (int i = 0; i < n; i++) line.AppendChar((char)_unknown[i]);
        line.Append("\", ignored");
        return line;
    }

    /// <summary>The index-th "Malformed boot parameter ..." line (empty if out of range).</summary>
    public readonly LogLine MalformedLine(int index)
    {
        LogLine line = new LogLine(0, 0);
        if (index < 0 || index >= MalformedLineCount) return line;
        int n = _malformedLength[index];
        if (n < 0 || n > LogLine.Capacity) n = 0;
        for (int i = 0; i < n; i++) line.AppendChar((char)_malformed[index * LogLine.Capacity + i]);
        return line;
    }

    /// <summary>Linux lists an unknown parameter as given: the bare name, or name=value.</summary>
    internal void AddUnknown(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value, bool hasValue)
    {
        UnknownCount++;
        if (_unknownCut) return;
        int separator = _unknownLength > 0 ? 1 : 0;
        int length = name.Length + (hasValue ? 1 + value.Length : 0);
        // Keep 4 bytes for " ..." so a cut list still says it was cut.
        if (_unknownLength + separator + length <= UnknownNamesCapacity - 4)
        {
            if (separator != 0) _unknown[_unknownLength++] = (byte)' ';
            for (int i = 0; i < name.Length; i++) _unknown[_unknownLength++] = name[i];
            if (hasValue)
            {
                _unknown[_unknownLength++] = (byte)'=';
                for (int i = 0; i < value.Length; i++) _unknown[_unknownLength++] = value[i];
            }
            return;
        }
        _unknownCut = true;
        if (separator != 0) _unknown[_unknownLength++] = (byte)' ';
        for (int i = 0; i < 3; i++) _unknown[_unknownLength++] = (byte)'.';
    }

    internal void AddMalformed(ReadOnlySpan<byte> line)
    {
        if (MalformedCount < MaxMalformedLines)
        {
            int n = line.Length < LogLine.Capacity ? line.Length : LogLine.Capacity;
            for (int i = 0; i < n; i++) _malformed[MalformedCount * LogLine.Capacity + i] = line[i];
            _malformedLength[MalformedCount] = n;
        }
        MalformedCount++;
    }
}

