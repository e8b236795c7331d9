// Dump filtering as makedumpfile's dump_level (-d) mask does it for ELF output: with bit 16 the
// free pages are left out entirely (no PT_LOAD covers them, so readers find them absent, never
// zero), with bit 1 all-zero pages cost no file bytes (a PT_LOAD's p_memsz runs past its p_filesz
// and ELF readers return zeros there). What the first kernel owns (OwnedRanges.cs) is not free;
// what VMCOREINFO names (the log, kallsyms, the notes, the page tables) is kept whole at every
// level. Bits 2, 4 and 8 (page cache, private cache, user pages) have nothing to match here and
// are accepted and ignored. Pure logic over a PhysicalWindow, so host tests run it on fake memory.
using System;

/// <summary>What one plan keeps and leaves out, in bytes (they add up to RamBytes).</summary>
public struct DumpFilterStats
{
    public int Level;
    /// <summary>RAM the core header described (the crash region excluded).</summary>
    public ulong RamBytes;
    /// <summary>Bytes the file holds (p_filesz of every PT_LOAD).</summary>
    public ulong DataBytes;
    /// <summary>All-zero pages inside PT_LOADs with no file bytes (p_memsz beyond p_filesz).</summary>
    public ulong ZeroBytes;
    /// <summary>Free pages no PT_LOAD covers.</summary>
    public ulong FreeBytes;
    /// <summary>PT_LOADs of the plan.</summary>
    public int Segments;
    /// <summary>Times neighbouring segments were joined because the plan ran out of room.</summary>
    public int Merges;
}

public static unsafe class DumpFilter
{
    /// <summary>makedumpfile's mask bits that mean something here.</summary>
    public const int ZeroPages = 1, FreePages = 16;
    /// <summary>The default level: every mask bit, as kdump's usual makedumpfile -d 31.</summary>
    public const int DefaultLevel = 31;
    public const int MaxLevel = 31;
    const ulong Page = Elf.PageSize;

    /// <summary>The dump-filter note the capture kernel adds to the vmcore's PT_NOTE: owner and type.</summary>
    public const string NoteName = NmidumpNote.Owner;
    public const uint NoteType = NmidumpNote.DumpFilterType;

    /// <summary>
    /// Plans the vmcore's PT_LOADs for <paramref name="level"/> from the core header's RAM
    /// <paramref name="ram"/> (in order). <paramref name="owned"/> is what the first kernel owns (used
    /// with bit 16), <paramref name="keepWhole"/> what VMCOREINFO names; <paramref name="memory"/> is
    /// read to find zero pages (bit 1). Segments go to <paramref name="into"/>: when it fills,
    /// neighbouring contiguous segments are joined (their zero tails become file bytes), so the plan
    /// always fits; false only when nothing is left to join, or memory cannot be read.
    /// </summary>
    public static bool Plan(int level, ReadOnlySpan<LoadSegment> ram, ReadOnlySpan<PhysRange> owned, ReadOnlySpan<PhysRange> keepWhole,
        in PhysicalWindow memory, Span<LoadSegment> into, out int count, out DumpFilterStats stats, out ElfCoreError error)
    {
        var p = new Planner(into, level);
        bool ok = true;
        for (int i = 0; i < ram.Length && ok; i++)
        {
            ulong start = ram[i].PhysAddr, end = ram[i].PhysAddr + ram[i].Size;
            p.Stats.RamBytes += ram[i].Size;
            if ((level & FreePages) == 0)
            {
                ok = p.Piece(start, end, keepWhole, in memory);
                continue;
            }
            // The parts of [start, end) that some owned or named range touches, rounded out to pages.
            for (ulong cursor = start; cursor < end && ok;)
            {
                if (!NextKept(cursor, end, owned, keepWhole, out ulong s, out ulong e)) break;
                ok = p.Piece(s, e, keepWhole, in memory);
                cursor = e;
            }
        }
        p.Stats.FreeBytes = p.Stats.RamBytes - p.Stats.DataBytes - p.Stats.ZeroBytes;
        p.Stats.Segments = p.Count;
        count = p.Count;
        stats = p.Stats;
        error = p.Error;
        return ok;
    }

    /// <summary>
    /// The first stretch of [cursor, end) covered by the union of owned and named ranges (each
    /// rounded out to whole pages), merged with every range that overlaps or touches it.
    /// </summary>
    static bool NextKept(ulong cursor, ulong end, ReadOnlySpan<PhysRange> owned, ReadOnlySpan<PhysRange> keep, out ulong s, out ulong e)
    {
        s = ulong.MaxValue;
        e = 0;
        // The lowest start among ranges still reaching past the cursor.
        for (int k = 0; k < owned.Length + keep.Length; k++)
        {
            PhysRange r = k < owned.Length ? owned[k] : keep[k - owned.Length];
            if (!Rounded(r, out ulong rs, out ulong re) || re <= cursor || rs >= end) continue;
            ulong from = rs > cursor ? rs : cursor;
            if (from < s) { s = from; e = re; }
        }
        if (s == ulong.MaxValue) return false;
        // Grow the stretch while some range overlaps or touches its end (each pass extends it or stops).
        for (bool grew = true; grew;)
        {
            grew = false;
            for (int k = 0; k < owned.Length + keep.Length; k++)
            {
                PhysRange r = k < owned.Length ? owned[k] : keep[k - owned.Length];
                if (!Rounded(r, out ulong rs, out ulong re) || rs > e || re <= e) continue;
                e = re;
                grew = true;
            }
        }
        if (e > end) e = end;
        return true;
    }

    /// <summary>A range rounded out to whole pages; false when it is empty or wraps.</summary>
    static bool Rounded(PhysRange r, out ulong start, out ulong end)
    {
        start = r.Start & ~(Page - 1);
        end = 0;
        if (r.Size == 0 || r.Start > ulong.MaxValue - r.Size - Page) return false;
        end = (r.Start + r.Size + Page - 1) & ~(Page - 1);
        return true;
    }

    /// <summary>True if any byte of [start, end) lies in a named range (such pages are kept as data).</summary>
    static bool Named(ulong start, ulong end, ReadOnlySpan<PhysRange> keep)
    {
        for (int k = 0; k < keep.Length; k++)
            if (keep[k].Overlaps(start, end - start)) return true;
        return false;
    }

    static bool AllZero(byte* p, ulong n)
    {
        ulong words = n / 8;
        ulong* q = (ulong*)p;
        ulong i = 0;
        // Eight words a test: under TCG each loop round costs far more than the loads in it.
        for (; i + 8 <= words; i += 8)
            if ((q[i] | q[i + 1] | q[i + 2] | q[i + 3] | q[i + 4] | q[i + 5] | q[i + 6] | q[i + 7]) != 0) return false;
        for (; i < words; i++)
            if (q[i] != 0) return false;
        for (ulong k = words * 8; k < n; k++)
            if (p[k] != 0) return false;
        return true;
    }

    /// <summary>Builds the segment list: one open segment at a time, closed into the caller's span.</summary>
    ref struct Planner
    {
        readonly Span<LoadSegment> _into;
        readonly int _level;
        public int Count;
        public DumpFilterStats Stats;
        public ElfCoreError Error;
        bool _open;
        ulong _start, _dataEnd, _end;

        public Planner(Span<LoadSegment> into, int level)
        {
            _into = into;
            _level = level;
            Count = 0;
            Stats = default;
            Stats.Level = level;
            Error = ElfCoreError.Ok;
            _open = false;
            _start = _dataEnd = _end = 0;
        }

        /// <summary>Adds the kept stretch [s, e): whole, or page by page when zero pages are holes.</summary>
        public bool Piece(ulong s, ulong e, ReadOnlySpan<PhysRange> keep, in PhysicalWindow memory)
        {
            if ((_level & ZeroPages) == 0)
            {
                Open(s);
                _dataEnd = _end = e;
                return Close();
            }
            for (ulong at = s; at < e;)
            {
                ulong next = (at & ~(Page - 1)) + Page;
                if (next > e || next < at) next = e;
                bool data = Named(at, next, keep);
                if (!data)
                {
                    // Contains, not a null test: the capture kernel's window starts at page 0.
                    if (!memory.Contains(at, next - at))
                    {
                        Error = ElfCoreError.Of(ElfCoreErrorCode.MemoryUnreadable, -1, at, next - at);
                        return false;
                    }
                    data = !AllZero(memory.Base + (at - memory.Start), next - at);
                }
                if (data)
                {
                    // Data after a zero tail: the open segment ends where the zeros do.
                    if (_open && _dataEnd < _end && !Close()) return false;
                    if (!_open) Open(at);
                    _dataEnd = next;
                }
                else if (!_open)
                {
                    Open(at);
                }
                _end = next;
                at = next;
            }
            return !_open || Close();
        }

        void Open(ulong at)
        {
            _open = true;
            _start = _dataEnd = _end = at;
        }

        bool Close()
        {
            _open = false;
            if (_end == _start) return true;
            if (Count == _into.Length && !Compact()) return false;
            _into[Count++] = new LoadSegment(_start, _start, _end - _start, _dataEnd - _start);
            Stats.DataBytes += _dataEnd - _start;
            Stats.ZeroBytes += _end - _dataEnd;
            return true;
        }

        /// <summary>Joins each segment with the next when they touch (one pass); false if none did.</summary>
        bool Compact()
        {
            int w = 0, joined = 0;
            for (int r = 0; r < Count; r++)
            {
                LoadSegment a = _into[r];
                if (r + 1 < Count && a.End == _into[r + 1].PhysAddr)
                {
                    LoadSegment b = _into[r + 1];
                    ulong hole = a.Size - a.FileSize;
                    Stats.ZeroBytes -= hole;
                    Stats.DataBytes += hole;
                    _into[w++] = new LoadSegment(a.PhysAddr, a.VirtAddr, a.Size + b.Size, a.Size + b.FileSize);
                    r++;
                    joined++;
                }
                else _into[w++] = a;
            }
            Count = w;
            Stats.Merges += joined;
            if (joined == 0)
            {
                Error = ElfCoreError.Of(ElfCoreErrorCode.TooManyLoads, -1, (ulong)Count + 1, (ulong)_into.Length);
                return false;
            }
            return true;
        }
    }

    // ---- The dump-filter note ----------------------------------------------------------------------

    /// <summary>
    /// The note's text, KEY=value lines as VMCOREINFO's: DUMP_LEVEL, RAM_BYTES, DATA_BYTES,
    /// ZERO_BYTES, FREE_BYTES, SEGMENTS. Returns the bytes written (0 if it does not fit).
    /// </summary>
    public static int WriteNoteText(Span<byte> dst, in DumpFilterStats s)
    {
        var b = new VmcoreinfoBuilder(dst, 0);
        b.AddUnsigned("DUMP_LEVEL", (ulong)s.Level);
        b.AddUnsigned("RAM_BYTES", s.RamBytes);
        b.AddUnsigned("DATA_BYTES", s.DataBytes);
        b.AddUnsigned("ZERO_BYTES", s.ZeroBytes);
        b.AddUnsigned("FREE_BYTES", s.FreeBytes);
        b.AddUnsigned("SEGMENTS", (ulong)s.Segments);
        return b.Overflowed ? 0 : b.Length;
    }

    /// <summary>Reads the note back out of a vmcore's notes; false if there is none (an unfiltered dump from an older capture kernel).</summary>
    public static bool ReadNote(ReadOnlySpan<byte> notes, out DumpFilterStats s)
    {
        s = default;
        if (!ElfNote.Find(notes, NoteName, NoteType, out ElfNoteEntry note)) return false;
        ReadOnlySpan<byte> t = note.Desc;
        bool ok = Vmcoreinfo.FindUnsigned(t, "DUMP_LEVEL", out ulong level);
        ok &= Vmcoreinfo.FindUnsigned(t, "RAM_BYTES", out s.RamBytes);
        ok &= Vmcoreinfo.FindUnsigned(t, "DATA_BYTES", out s.DataBytes);
        ok &= Vmcoreinfo.FindUnsigned(t, "ZERO_BYTES", out s.ZeroBytes);
        ok &= Vmcoreinfo.FindUnsigned(t, "FREE_BYTES", out s.FreeBytes);
        ok &= Vmcoreinfo.FindUnsigned(t, "SEGMENTS", out ulong segments);
        s.Level = (int)(level & 0xFF);
        s.Segments = (int)(segments & 0x7FFF_FFFF);
        return ok;
    }

    /// <summary>"zero pages as holes, free pages left out" for a level's mask.</summary>
    public static void DescribeLevel(ref LogLine l, int level)
    {
        bool zero = (level & ZeroPages) != 0, free = (level & FreePages) != 0;
        if (!zero && !free) { l.Append("full dump: every page of RAM in the file"); return; }
        if (zero) l.Append("zero pages as holes");
        if (zero && free) l.Append(", ");
        if (free) l.Append("free pages left out");
    }
}
