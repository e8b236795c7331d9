// Fake physical memory for the ACPI parser: an anonymous mapping standing for the physical range
// [Start, End), with an inaccessible guard page on each side. A read one byte outside the window
// faults the test host, so "never reads outside the window" is checked, not assumed. Pages are
// only committed when written, so a window as large as QEMU's 64 MiB of RAM costs a few pages.
using System.Runtime.InteropServices;

namespace Kernel.Tests;

sealed unsafe class AcpiMemory : IDisposable
{
    const int ProtNone = 0, ProtRead = 1, ProtWrite = 2, MapPrivate = 0x02, MapAnonymous = 0x20;
    const ulong Page = 4096;

    [DllImport("libc.so.6", SetLastError = true)] static extern nint mmap(nint addr, nuint length, int prot, int flags, int fd, nint offset);
    [DllImport("libc.so.6", SetLastError = true)] static extern int mprotect(nint addr, nuint length, int prot);
    [DllImport("libc.so.6", SetLastError = true)] static extern int munmap(nint addr, nuint length);

    readonly nint _region;
    readonly nuint _regionLength;
    readonly byte* _base;

    public ulong Start { get; }
    public ulong End { get; }

    /// <summary>[start, end), both page-aligned, so that both ends of the window touch a guard page.</summary>
    public AcpiMemory(ulong start, ulong end)
    {
        if (start % Page != 0 || end % Page != 0 || end <= start) throw new ArgumentException("page-aligned, non-empty range expected");
        Start = start;
        End = end;
        _regionLength = (nuint)(end - start + 2 * Page);
        _region = mmap(0, _regionLength, ProtNone, MapPrivate | MapAnonymous, -1, 0);
        if (_region == -1) throw new InvalidOperationException($"mmap failed: errno {Marshal.GetLastPInvokeError()}");
        _base = (byte*)_region + Page;
        if (mprotect((nint)_base, (nuint)(end - start), ProtRead | ProtWrite) != 0)
            throw new InvalidOperationException($"mprotect failed: errno {Marshal.GetLastPInvokeError()}");
    }

    public PhysicalWindow Window => new PhysicalWindow(_base, Start, End - Start);

    /// <summary>A window onto part of this memory, [start, end).</summary>
    public PhysicalWindow Subwindow(ulong start, ulong end)
    {
        if (start < Start || end > End || end < start) throw new ArgumentOutOfRangeException(nameof(start));
        return new PhysicalWindow(_base + (start - Start), start, end - start);
    }

    /// <summary>The bytes at physical [pa, pa + length), writable.</summary>
    public Span<byte> At(ulong pa, int length)
    {
        if (pa < Start || pa + (ulong)length > End) throw new ArgumentOutOfRangeException(nameof(pa), $"0x{pa:x} + {length} outside the fake memory");
        return new Span<byte>(_base + (pa - Start), length);
    }

    public void Write(ulong pa, ReadOnlySpan<byte> data) => data.CopyTo(At(pa, data.Length));

    public void Dispose() => munmap(_region, _regionLength);
}
