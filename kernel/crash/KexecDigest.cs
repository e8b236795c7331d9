// The digests of what the jump executes: SHA-256 over each capture image segment's file-backed bytes,
// and over the hand-over code in its control page and the page tables it switches to, taken at
// load time and checked again on the crash path before the jump, as kexec-tools' purgatory does
// (purgatory/purgatory.c, verify_sha256_digest()). The ELF core header stays outside (Linux leaves
// elfcorehdr out too: it changes at crash time); the capture kernel validates it instead. The crash
// path calls these same functions.
using System;

/// <summary>One range of the region and its SHA-256, taken at load time (the hand-over code, the page tables).</summary>
public unsafe struct KexecRangeDigest
{
    public PhysRange Range;
    fixed byte _digest[Sha256.DigestSize];

    /// <summary>Digests <paramref name="range"/> (inside the region at <paramref name="regionBase"/>); false if it is not inside.</summary>
    public bool Take(ReadOnlySpan<byte> region, ulong regionBase, PhysRange range)
    {
        Range = range;
        fixed (byte* d = _digest)
            return KexecImage.Digest(region, regionBase, new ReadOnlySpan<PhysRange>(&range, 1), new Span<byte>(d, Sha256.DigestSize));
    }

    /// <summary>The range digested again into <paramref name="actual"/>, compared with the load-time digest.</summary>
    public readonly bool Verify(ReadOnlySpan<byte> region, ulong regionBase, Span<byte> actual)
    {
        PhysRange range = Range;
        fixed (byte* d = _digest)
            return KexecImage.Verify(region, regionBase, new ReadOnlySpan<PhysRange>(&range, 1), new ReadOnlySpan<byte>(d, Sha256.DigestSize), actual);
    }

    public readonly void CopyDigest(Span<byte> dst)
    {
        for (int i = 0; i < Sha256.DigestSize && i < dst.Length; i++) dst[i] = _digest[i];
    }
}

public unsafe partial struct KexecImage
{
    // ---- The digest (load time, and again on the crash path) ---------------------------------------

    /// <summary>
    /// SHA-256 over the segments' bytes in order, each segment given as physical [Start, Start + Size)
    /// inside the region at <paramref name="regionBase"/>. False (nothing digested) if a segment is
    /// outside the region or <paramref name="digest"/> is shorter than 32 bytes.
    /// </summary>
    public static bool Digest(ReadOnlySpan<byte> region, ulong regionBase, ReadOnlySpan<PhysRange> segments, Span<byte> digest)
    {
        if (digest.Length < Sha256.DigestSize) return false;
        ulong size = (ulong)region.Length;
        for (int i = 0; i < segments.Length; i++)
        {
            PhysRange s = segments[i];
            if (s.Start < regionBase || s.Start - regionBase > size || s.Size > size - (s.Start - regionBase)) return false;
        }
        Sha256 sha = Sha256.Create();
        for (int i = 0; i < segments.Length; i++)
            sha.Update(region.Slice((int)(segments[i].Start - regionBase), (int)segments[i].Size));
        return sha.Final(digest);
    }

    /// <summary>
    /// Recomputes the digest into <paramref name="actual"/> and compares it with
    /// <paramref name="expected"/>, as purgatory does before jumping. False on a mismatch or when
    /// the segments do not lie inside the region.
    /// </summary>
    public static bool Verify(ReadOnlySpan<byte> region, ulong regionBase, ReadOnlySpan<PhysRange> segments,
                              ReadOnlySpan<byte> expected, Span<byte> actual)
    {
        if (!Digest(region, regionBase, segments, actual)) return false;
        return Sha256.DigestsEqual(expected, actual.Slice(0, Sha256.DigestSize));
    }

    /// <summary>Verify against this image's own segments and load-time digest.</summary>
    public readonly bool Verify(ReadOnlySpan<byte> region, Span<byte> actual)
    {
        if (SegmentCount == 0) return false;
        PhysRange* segments = stackalloc PhysRange[MaxSegments];
        int n = CopyDigestRanges(new Span<PhysRange>(segments, MaxSegments));
        byte* expected = stackalloc byte[Sha256.DigestSize];
        CopyDigest(new Span<byte>(expected, Sha256.DigestSize));
        return Verify(region, Base, new ReadOnlySpan<PhysRange>(segments, n), new ReadOnlySpan<byte>(expected, Sha256.DigestSize), actual);
    }

    /// <summary>Purgatory's complaint, both digests in one line: "kexec: hand-over code digest mismatch: expected X got Y".</summary>
    public static void DescribeMismatch(ref LogLine l, string what, ReadOnlySpan<byte> expected, ReadOnlySpan<byte> actual)
    {
        l.Append("kexec: ");
        l.Append(what);
        l.Append(" digest mismatch: expected ");
        for (int i = 0; i < expected.Length && i < Sha256.DigestSize; i++) l.AppendHex(expected[i], 2);
        l.Append(" got ");
        for (int i = 0; i < actual.Length && i < Sha256.DigestSize; i++) l.AppendHex(actual[i], 2);
    }
}
