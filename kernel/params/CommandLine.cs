// CommandLine: splits the boot command line as Linux's next_arg()/parse_args() do (lib/cmdline.c,
// kernel/params.c): name or name=value, double quotes around a value or a whole parameter, "--"
// ends the kernel's part. It only slices the text, so garbage in cannot make it fault.
using System;

/// <summary>One parameter: the name and value as given (quotes removed the way Linux removes them).</summary>
public readonly ref struct CommandLineParam
{
    public readonly ReadOnlySpan<byte> Name;
    public readonly ReadOnlySpan<byte> Value;
    /// <summary>True if an '=' was given, even with nothing after it ("name=").</summary>
    public readonly bool HasValue;

    public CommandLineParam(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value, bool hasValue)
    {
        Name = name;
        Value = value;
        HasValue = hasValue;
    }
}

/// <summary>
/// Iterates over the parameters of a command line. The text ends at its first NUL, as the C string
/// the boot loader handed over would; nothing is copied or written.
/// </summary>
public ref struct CommandLine
{
    private readonly ReadOnlySpan<byte> _text;
    private int _pos;
    private int _initArgsOffset;
    private bool _stopped;

    public CommandLine(ReadOnlySpan<byte> text)
    {
        int n = 0;
        while (n < text.Length && text[n] != 0) n++;
        _text = text.Slice(0, n);
        _pos = 0;
        _initArgsOffset = -1;
        _stopped = false;
    }

    /// <summary>
    /// Offset in the text of what follows "--" (Linux hands that to init), or -1 if there was no "--"
    /// among the parameters read so far.
    /// </summary>
    public readonly int InitArgsOffset => _initArgsOffset;

    /// <summary>Reads the next parameter; false at the end of the text or at "--".</summary>
    public bool Next(out CommandLineParam param)
    {
        param = default;
        if (_stopped) return false;
        _pos = SkipSpaces(_text, _pos);
        if (_pos >= _text.Length) { _stopped = true; return false; }

        // next_arg(): a leading quote opens a quoted parameter; quotes toggle "inside" so that
        // spaces between them do not end the parameter. The first '=' splits name from value,
        // except at the very first character (Linux uses 0 as "no '=' seen").
        int start = _pos;
        bool inQuote = false, quoted = false;
        if (_text[start] == (byte)'"')
        {
            start++;
            inQuote = true;
            quoted = true;
        }
        int equals = -1;
        int end = start;
        for (; end < _text.Length; end++)
        {
            byte c = _text[end];
            if (IsSpace(c) && !inQuote) break;
            if (equals < 0 && c == (byte)'=' && end > start) equals = end;
            if (c == (byte)'"') inQuote = !inQuote;
        }

        // Linux cuts a closing quote off whatever string it ends: the value, or the whole
        // parameter when it was quoted as a whole ("name=a b"), so both forms give name, a b.
        bool closingQuote = end > start && _text[end - 1] == (byte)'"';
        ReadOnlySpan<byte> name, value = default;
        bool hasValue = equals >= 0;
        if (!hasValue)
        {
            int nameEnd = quoted && closingQuote ? end - 1 : end;
            name = _text.Slice(start, nameEnd - start);
        }
        else
        {
            name = _text.Slice(start, equals - start);
            int valueStart = equals + 1, valueEnd = end;
            if (valueStart < end && _text[valueStart] == (byte)'"')
            {
                valueStart++;
                if (closingQuote) valueEnd = end - 1;
            }
            if (quoted && closingQuote && valueEnd > end - 1) valueEnd = end - 1;
            if (valueEnd < valueStart) valueEnd = valueStart;
            value = _text.Slice(valueStart, valueEnd - valueStart);
        }

        _pos = end < _text.Length ? end + 1 : end;

        // parse_args(): a bare "--" ends the kernel's parameters; the rest belongs to init.
        if (!hasValue && name.Length == 2 && name[0] == (byte)'-' && name[1] == (byte)'-')
        {
            _stopped = true;
            _initArgsOffset = SkipSpaces(_text, _pos);
            return false;
        }
        param = new CommandLineParam(name, value, hasValue);
        return true;
    }

    /// <summary>
    /// Linux's parameq(): names match if they are equal with '-' and '_' taken as the same
    /// character, so nr-cpus= is nr_cpus=.
    /// </summary>
    public static bool NameEquals(ReadOnlySpan<byte> given, ReadOnlySpan<byte> name)
    {
        if (given.Length != name.Length) return false;
        for (int i = 0; i < given.Length; i++)
        {
            int a = given[i] == (byte)'-' ? '_' : given[i];
            int b = name[i] == (byte)'-' ? '_' : name[i];
            if (a != b) return false;
        }
        return true;
    }

    /// <summary>
    /// The text after its first word. Multiboot loaders (GRUB, QEMU -kernel) put the kernel's own
    /// path first, where Linux's boot protocol has only parameters; the caller decides to drop it.
    /// </summary>
    public static ReadOnlySpan<byte> SkipFirstWord(ReadOnlySpan<byte> text)
    {
        int i = SkipSpaces(text, 0);
        while (i < text.Length && text[i] != 0 && !IsSpace(text[i])) i++;
        return text.Slice(SkipSpaces(text, i));
    }

    // isspace() in Linux's ctype: space, \t, \n, \v, \f, \r.
    public static bool IsSpace(byte c) => c == (byte)' ' || (c >= 0x09 && c <= 0x0D);

    private static int SkipSpaces(ReadOnlySpan<byte> text, int i)
    {
        while (i < text.Length && IsSpace(text[i])) i++;
        return i;
    }
}
