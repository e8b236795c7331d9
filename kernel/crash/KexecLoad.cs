// kexec_load for the capture image, at boot (kernel/kexec.c, kexec-tools): reserve crashkernel=,
// load and relocate the module into the region, take its digest, and prepare what the crash path
// needs (VMCOREINFO, the ELF core header, the hand-over code and page tables, their digests), so
// that the crash path itself (CrashKexec.cs) only fills in, checks and jumps.
using System;

/// <summary>kexec_corrupt_test=: what a test corrupts after the digests are taken; same order as the table's words.</summary>
enum KexecCorruptTarget
{
    None = -1,
    Image,
    HandOver,
    PageTables,
    ElfCoreHeader,
}

static unsafe partial class Kexec
{
    const int MaxRam = 64;

    static bool s_imageArmed;
    static int s_reportedNoImage;
    static KexecImage s_image;
    static KexecRangeDigest s_handOver, s_pageTables;
    static ulong s_coreHeader, s_cr3;

    public static bool ImageArmed => s_imageArmed;

    static Span<byte> Region => new Span<byte>((void*)s_image.Base, (int)s_image.RegionSize);

    /// <summary>
    /// At boot: reserve crashkernel=, load the capture module into the region, relocate
    /// it, take its digest, and prepare what the crash path needs (VMCOREINFO, the ELF core header,
    /// the hand-over page tables), so that the crash path itself only fills in and jumps.
    /// </summary>
    public static void LoadAtBoot(ref Multiboot.Info info, ref Multiboot.Tables tables)
    {
        ReadOnlySpan<byte> crashkernel = Params.Current.Crashkernel;
        RejectCaptureParameters();
        if (info.ModuleCount == 0)
        {
            Log.Info("kexec: no capture image, kdump disabled");
            return;
        }
        if (crashkernel.IsEmpty)
        {
            Log.Info("kexec: capture image present but no crashkernel= reservation; kdump disabled");
            return;
        }
        ref KernelLayout k = ref KernelLayout.Get;
        if (!CrashKernel.Setup(crashkernel, ref info, ref tables, k.ImageStart, k.ImageEnd, out CrashKernelReservation r))
        {
            LogLine e = default;
            r.Describe(ref e, crashkernel);
            Log.Err(ref e);
            return;
        }
        LogLine ok = default;
        r.Describe(ref ok, crashkernel);
        Log.Info(ref ok);
        OwnedMemory.Claim(r.Start, r.Size, "crashkernel region");

        Multiboot.Module* module = Multiboot.ModuleAt(ref tables, 0);
        var elf = new ReadOnlySpan<byte>((void*)module->Start, (int)(module->End - module->Start));
        var region = new Span<byte>((void*)r.Start, (int)r.Size);
        if (!KexecImage.Load(elf, region, r.Start, MachineKexec.TailSize, out s_image))
        {
            LogLine e = default;
            s_image.Error.Describe(ref e);
            Log.Err(ref e);
            return;
        }

        // What the capture kernel will need: VMCOREINFO, the notes, RAM less the region, the header.
        PhysRange* ram = stackalloc PhysRange[MaxRam];
        int ramCount = UsableRam(ref info, ref tables, ram);
        ReadOnlySpan<byte> captureArgs = Multiboot.KernelArguments(new ReadOnlySpan<byte>(module->String, module->StringLength), info.PathFirst);
        VmcoreinfoNote.Build(new ReadOnlySpan<PhysRange>(ram, ramCount), captureArgs);
        if (!WriteCoreHeader(r.Start, r.Size, new ReadOnlySpan<PhysRange>(ram, ramCount))) return;
        if (!MachineKexec.Prepare(r.Start, r.Size, out s_cr3, out PhysRange handOver, out PhysRange pageTables)
            || !s_handOver.Take(region, r.Start, handOver) || !s_pageTables.Take(region, r.Start, pageTables))
        {
            Log.Emerg("kexec: the hand-over code does not fit its control page, or the crash region spans more than its map covers (3 GiB); kdump disabled");
            return;
        }
        CorruptForTest((KexecCorruptTarget)Params.Current.Choice(BootParam.KexecCorruptTest));
        ProtectRegion(r.Start, r.Size);
        s_imageArmed = true;
        LogLine armed = default;
        armed.Append("kdump: capture image armed (crashkernel ");
        Kstrtox.AppendSize(ref armed, r.Size);
        armed.Append(" at 0x");
        armed.AppendHex(r.Start, 0);
        armed.Append(", sha256 ");
        AppendDigest(ref armed);
        armed.Append(")");
        Log.Info(ref armed);
    }

    /// <summary>dump_level= is the capture kernel's (makedumpfile's -d): on this command line it means nothing, so say where it goes.</summary>
    static void RejectCaptureParameters()
    {
        if (!Params.Current.WasGiven(BootParam.DumpLevel)) return;
        int level = Params.Current.DumpLevel;
        Log.Err($"dump_level={level} ignored: it is a capture kernel parameter; put it on the capture image's module line (-initrd \"capture.elf dump_level={level}\", or ./build.sh run --dump-level {level})");
    }


    /// <summary>
    /// kexec_corrupt_test=: damage, after the digests were taken, one of the things the crash path
    /// relies on. The digested ones must be caught before the jump; the core header, which no
    /// digest covers, by the capture kernel's own check.
    /// </summary>
    static void CorruptForTest(KexecCorruptTarget target)
    {
        switch (target)
        {
            case KexecCorruptTarget.Image:
                PhysRange* ranges = stackalloc PhysRange[KexecImage.MaxSegments];
                s_image.CopyDigestRanges(new Span<PhysRange>(ranges, KexecImage.MaxSegments));
                FlipMiddleByte(ranges[0]);
                Log.Warn("kexec: kexec_corrupt_test: flipped one byte of the loaded capture image");
                break;
            case KexecCorruptTarget.HandOver:
                FlipMiddleByte(s_handOver.Range);
                Log.Warn("kexec: kexec_corrupt_test=handover: flipped one byte of the hand-over code");
                break;
            case KexecCorruptTarget.PageTables:
                FlipMiddleByte(s_pageTables.Range);
                Log.Warn("kexec: kexec_corrupt_test=pagetable: flipped one byte of the page tables");
                break;
            case KexecCorruptTarget.ElfCoreHeader:
                *(ushort*)(s_coreHeader + Elf.EPhnum) = 0;
                Log.Warn("kexec: kexec_corrupt_test=elfcorehdr: zeroed the ELF core header's e_phnum");
                break;
        }
    }

    /// <summary>
    /// arch_kexec_protect_crashkres(): from here on nothing of the first kernel may write the region
    /// (a stray write would fail the digest and cost the dump); a write faults, and the oops that
    /// follows still has an intact image to jump to. machine_kexec maps it back for the jump.
    /// </summary>
    static void ProtectRegion(ulong start, ulong size)
    {
        if (!Paging.SetWritable(start, size, writable: false))
        {
            Log.Warn($"kexec: cannot map the crash region [mem 0x{start:x}-0x{start + size - 1:x}] read-only; it stays writable");
            return;
        }
        int answered = TlbFlush.AllCpus(out int others);
        if (answered < others) Log.Warn($"kexec: {others - answered} of {others} CPUs did not flush their TLBs; they may still write the crash region");
        s_protected = new PhysRange(start, size);
        Log.Info($"kexec: crash region [mem 0x{start:x}-0x{start + size - 1:x}] mapped read-only");
    }

    static PhysRange s_protected;

    /// <summary>The crash region while it is mapped read-only (empty otherwise): a test writes into it (crashtest=WRITE_CRASHKERNEL).</summary>
    public static PhysRange ProtectedRegion => s_protected;

    static void FlipMiddleByte(PhysRange r) => ((byte*)r.Start)[r.Size / 2] ^= 0xFF;

    static void AppendDigest(ref LogLine l)
    {
        byte* d = stackalloc byte[Sha256.DigestSize];
        s_image.CopyDigest(new Span<byte>(d, Sha256.DigestSize));
        for (int i = 0; i < Sha256.DigestSize; i++) l.AppendHex(d[i], 2);
    }

    /// <summary>The usable RAM of the map, with the crash region cut out (it is not part of the dump).</summary>
    static int UsableRam(ref Multiboot.Info info, ref Multiboot.Tables tables, PhysRange* into)
    {
        int n = 0;
        for (int i = 0; i < info.RangeCount && n < MaxRam; i++)
        {
            Multiboot.MemoryRange* m = Multiboot.Range(ref tables, i);
            if (m->Type != Multiboot.MemoryAvailable || m->Length == 0) continue;
            into[n++] = new PhysRange(m->Base, m->Length);
        }
        return n;
    }

    static bool WriteCoreHeader(ulong regionBase, ulong regionSize, ReadOnlySpan<PhysRange> ram)
    {
        // Register notes in CPU order (as /proc/vmcore), the stop-status notes, then VMCOREINFO.
        int cpus = SmpBoot.PossibleCount;
        PhysRange* notes = stackalloc PhysRange[PerCpuArea.MaxCpus + 2];
        for (int cpu = 0; cpu < cpus; cpu++) notes[cpu] = new PhysRange((ulong)CrashNotes.Buffer(cpu), (ulong)CrashNotes.BufferSize);
        notes[cpus] = new PhysRange((ulong)StopStatus.Buffer, StopStatus.BufferSize);
        notes[cpus + 1] = new PhysRange((ulong)VmcoreinfoNote.NoteAddress, (ulong)VmcoreinfoNote.NoteSize);
        LoadSegment* loads = stackalloc LoadSegment[MaxRam * 2];
        int n = 0;
        ulong regionEnd = regionBase + regionSize;
        for (int i = 0; i < ram.Length; i++)
        {
            ulong start = ram[i].Start, end = ram[i].Start + ram[i].Size;
            // RAM before and after the region (the region lies inside one range or none).
            if (start < regionBase && n < MaxRam * 2) loads[n++] = new LoadSegment(start, start, (end < regionBase ? end : regionBase) - start);
            if (end > regionEnd && n < MaxRam * 2) { ulong s = start > regionEnd ? start : regionEnd; loads[n++] = new LoadSegment(s, s, end - s); }
        }
        ulong at = MachineKexec.TailBase(regionBase, regionSize) + MachineKexec.CoreHeaderOffset;
        var dst = new Span<byte>((void*)at, (int)MachineKexec.CoreHeaderCapacity);
        int size = ElfCoreHeader.Write(dst, new ReadOnlySpan<PhysRange>(notes, cpus + 2), new ReadOnlySpan<LoadSegment>(loads, n));
        if (size <= 0)
        {
            Log.Emerg($"kexec: the ELF core header ({cpus + 2} notes, {n} loads) does not fit in 0x{MachineKexec.CoreHeaderCapacity:x} bytes; kdump disabled");
            return false;
        }
        s_coreHeader = at;
        return true;
    }
}
