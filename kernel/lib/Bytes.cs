// Byte-string helpers the kernel's own core library lacks (it has no MemoryExtensions), shared by
// the kernel and the host projects so that each comparison or checksum is written once. Internal:
// a host tool that compiles these files and references another that does (Fuzz and the inspector)
// must not see two of it.
using System;

static unsafe class Bytes
{
    /// <summary>Same length and the same bytes.</summary>
    public static bool Equal(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b)
    {
        if (a.Length != b.Length) return false;
        for (int i = 0; i < a.Length; i++)
            if (a[i] != b[i]) return false;
        return true;
    }

    /// <summary>Whether <paramref name="s"/> begins with <paramref name="prefix"/>.</summary>
    public static bool StartsWith(ReadOnlySpan<byte> s, ReadOnlySpan<byte> prefix)
        => s.Length >= prefix.Length && Equal(s.Slice(0, prefix.Length), prefix);

    /// <summary>The 8-bit sum of <paramref name="length"/> bytes (ACPI's and SMBIOS's checksum: a whole table sums to 0).</summary>
    public static byte Sum(byte* p, uint length)
    {
        byte sum = 0;
        for (uint i = 0; i < length; i++) sum += p[i];
        return sum;
    }
}
