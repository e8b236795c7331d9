// Kstrtox: the number and truth-value parsers every boot-time parser shares (boot parameters,
// crashkernel=, VMCOREINFO readers): Linux's kstrtobool(), kstrtoll() and memparse() (lib/kstrtox.c,
// lib/cmdline.c). They only read the bytes they are given, so garbage in cannot make them fault.
// One deliberate difference from Linux: a leading 0 is not octal ("010" is ten, as a person means it).
using System;

/// <summary>Why a number could not be read.</summary>
public enum NumberError : byte
{
    None,
    /// <summary>No digit where one was expected (also "0x" with no hex digit after it).</summary>
    NoDigits,
    /// <summary>The digits (with a suffix, its multiplier) do not fit the limit.</summary>
    TooLarge,
}

public static class Kstrtox
{
    /// <summary>kstrtobool()'s words, whole and case-insensitive: 1 y yes on true / 0 n no off false.</summary>
    public static bool ParseBool(ReadOnlySpan<byte> s, out bool value)
    {
        value = false;
        if (Is(s, "1") || Is(s, "y") || Is(s, "yes") || Is(s, "on") || Is(s, "true")) { value = true; return true; }
        return Is(s, "0") || Is(s, "n") || Is(s, "no") || Is(s, "off") || Is(s, "false");
    }

    /// <summary>kstrtoll(): optional sign, then decimal or 0x hex digits and nothing else.</summary>
    public static bool ParseInteger(ReadOnlySpan<byte> s, out long value)
    {
        value = 0;
        int i = 0;
        bool negative = false;
        if (i < s.Length && (s[i] == (byte)'+' || s[i] == (byte)'-'))
        {
            negative = s[i] == (byte)'-';
            i++;
        }
        if (ParseDigits(s, ref i, out ulong magnitude) != NumberError.None || i != s.Length) return false;
        if (magnitude > (negative ? 0x8000000000000000UL : (ulong)long.MaxValue)) return false;
        value = negative ? (long)(0UL - magnitude) : (long)magnitude;
        return true;
    }

    /// <summary>memparse() of a whole value: a number with an optional K/M/G/T/P/E suffix (powers of 1024), at most long.MaxValue.</summary>
    public static bool ParseSize(ReadOnlySpan<byte> s, out long value)
    {
        value = 0;
        int i = 0;
        if (MemParse(s, ref i, out ulong v) != NumberError.None || i != s.Length || v > long.MaxValue) return false;
        value = (long)v;
        return true;
    }

    /// <summary>
    /// memparse() at s[i..]: digits (0x for hex), then an optional K/M/G/T/P/E suffix in either
    /// case; i moves past what was read, also past every digit of a number too large, so a caller
    /// can say where the problem ends. A letter that is no suffix is left for the caller.
    /// </summary>
    public static NumberError MemParse(ReadOnlySpan<byte> s, ref int i, out ulong value)
    {
        NumberError e = ParseDigits(s, ref i, out value);
        if (e != NumberError.None) return e;
        if (i < s.Length)
        {
            int shift = SuffixShift(s[i]);
            if (shift > 0)
            {
                if (value > ulong.MaxValue >> shift) return NumberError.TooLarge;
                value <<= shift;
                i++;
            }
        }
        return NumberError.None;
    }

    /// <summary>Digits at s[i..]: "0x" then hex, or decimal; at least one. i moves past every digit, even on overflow.</summary>
    public static NumberError ParseDigits(ReadOnlySpan<byte> s, ref int i, out ulong value)
    {
        value = 0;
        uint radix = 10;
        if (i + 1 < s.Length && s[i] == (byte)'0' && (s[i + 1] | 0x20) == (byte)'x')
        {
            radix = 16;
            i += 2;
        }
        int first = i;
        bool overflow = false;
        while (i < s.Length)
        {
            int d = DigitValue(s[i]);
            if (d < 0 || d >= (int)radix) break;
            if (value > (ulong.MaxValue - (ulong)d) / radix) overflow = true;
            else value = value * radix + (ulong)d;
            i++;
        }
        if (i == first) return NumberError.NoDigits;
        return overflow ? NumberError.TooLarge : NumberError.None;
    }

    /// <summary>memparse()'s suffixes: the power of two a letter multiplies by, 0 if it is none.</summary>
    public static int SuffixShift(byte c)
    {
        int lower = c | 0x20;
        return lower == 'k' ? 10 : lower == 'm' ? 20 : lower == 'g' ? 30 : lower == 't' ? 40 : lower == 'p' ? 50 : lower == 'e' ? 60 : 0;
    }

    /// <summary>
    /// A size as memparse() would read it back: the largest of E P T G M K that divides it exactly
    /// ("64M", "1536M", "130559K"), else plain bytes.
    /// </summary>
    public static void AppendSize(ref LogLine l, ulong bytes)
    {
        if (bytes == 0) { l.AppendChar('0'); return; }
        for (int shift = 60; shift >= 10; shift -= 10)
        {
            if ((bytes & ((1UL << shift) - 1)) != 0) continue;
            l.AppendDecimal(bytes >> shift);
            l.AppendChar(shift == 60 ? 'E' : shift == 50 ? 'P' : shift == 40 ? 'T' : shift == 30 ? 'G' : shift == 20 ? 'M' : 'K');
            return;
        }
        l.AppendDecimal(bytes);
    }

    static int DigitValue(byte c)
    {
        if (c >= (byte)'0' && c <= (byte)'9') return c - '0';
        int lower = c | 0x20;
        if (lower >= 'a' && lower <= 'f') return lower - 'a' + 10;
        return -1;
    }

    static bool Is(ReadOnlySpan<byte> s, string word)
    {
        if (s.Length != word.Length) return false;
        for (int i = 0; i < s.Length; i++)
        {
            int c = s[i] >= (byte)'A' && s[i] <= (byte)'Z' ? s[i] | 0x20 : s[i];
            if (c != word[i]) return false;
        }
        return true;
    }
}
