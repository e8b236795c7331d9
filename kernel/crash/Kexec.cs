using System;
// crash_kexec() and __crash_kexec() (kernel/kexec_core.c): the jump into the capture image, with
// Linux's exclusion. crash_kexec claims panic_cpu itself, so an oops on one CPU racing a panic on
// another yields one dump; __crash_kexec takes the kexec lock by trylock only, so a nested panic
// inside it cannot loop or wait. Without a capture image armed, both return and the panic goes on.
static unsafe class Kexec
{
    const int MaxRam = 64;

    static bool s_imageArmed;
    static int s_reportedNoImage;
    static KexecImage s_image;
    static ulong s_coreHeader, s_cr3;

    struct RangeList { public fixed byte Bytes[KexecImage.MaxSegments * 16]; }
    static RangeList s_digestRanges;

    public static bool ImageArmed => s_imageArmed;

    /// <summary>What the digest covers: each segment's file-backed bytes (KexecImage.CopyDigestRanges).</summary>
    static Span<PhysRange> DigestRanges { get { fixed (byte* p = s_digestRanges.Bytes) return new Span<PhysRange>(p, KexecImage.MaxSegments); } }
    static Span<byte> Region => new Span<byte>((void*)s_image.Base, (int)s_image.RegionSize);

    /// <summary>
    /// kexec_load at boot: reserve crashkernel=, load the capture module into the region, relocate
    /// it, take its digest, and prepare what the crash path needs (VMCOREINFO, the ELF core header,
    /// the hand-over page tables), so that the crash path itself only fills in and jumps.
    /// </summary>
    public static void LoadAtBoot(ref Multiboot.Info info, ref Multiboot.Tables tables)
    {
        ReadOnlySpan<byte> crashkernel = Params.Current.Crashkernel;
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
        s_image.CopyDigestRanges(DigestRanges);

        // What the capture kernel will need: VMCOREINFO, the notes, RAM less the region, the header.
        PhysRange* ram = stackalloc PhysRange[MaxRam];
        int ramCount = UsableRam(ref info, ref tables, ram);
        ReadOnlySpan<byte> captureArgs = Multiboot.KernelArguments(new ReadOnlySpan<byte>(module->String, module->StringLength));
        VmcoreinfoNote.Build(new ReadOnlySpan<PhysRange>(ram, ramCount), captureArgs);
        if (!WriteCoreHeader(r.Start, r.Size, new ReadOnlySpan<PhysRange>(ram, ramCount))) return;
        s_cr3 = MachineKexec.BuildIdentityMap(MachineKexec.TailBase(r.Start, r.Size));

        if (Params.Current.KexecCorruptTest)
        {
            // After the digest, inside the bytes it covers: the crash-time check must catch it.
            PhysRange first = DigestRanges[0];
            ((byte*)first.Start)[first.Size / 2] ^= 0xFF;
            Log.Warn("kexec: kexec_corrupt_test: flipped one byte of the loaded capture image");
        }
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
        int cpus = SmpBoot.PossibleCount;
        PhysRange* notes = stackalloc PhysRange[PerCpuArea.MaxCpus + 1];
        for (int cpu = 0; cpu < cpus; cpu++) notes[cpu] = new PhysRange((ulong)CrashNotes.Buffer(cpu), (ulong)CrashNotes.BufferSize);
        notes[cpus] = new PhysRange((ulong)VmcoreinfoNote.NoteAddress, (ulong)VmcoreinfoNote.NoteSize);
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
        int size = ElfCoreHeader.Write(dst, new ReadOnlySpan<PhysRange>(notes, cpus + 1), new ReadOnlySpan<LoadSegment>(loads, n));
        if (size <= 0)
        {
            Log.Emerg($"kexec: the ELF core header ({cpus + 1} notes, {n} loads) does not fit in 0x{MachineKexec.CoreHeaderCapacity:x} bytes; kdump disabled");
            return false;
        }
        s_coreHeader = at;
        return true;
    }

    /// <summary>crash_kexec(regs): from die(); proceeds only if this call claims panic_cpu.</summary>
    public static void CrashKexec(TrapFrame* regs)
    {
        int me = PerCpuArea.ThisCpu;
        if (!Panic.State.ClaimForCrashKexec(me)) return;
        CrashKexecLocked(regs);
        // No jump happened: give panic_cpu back, so the panic() that follows can claim it.
        Panic.State.ReleaseAfterCrashKexec(me);
    }

    /// <summary>Purgatory's check, then the jump; on a mismatch the panic goes on (panic= decides).</summary>
    static void MachineKexecChecked()
    {
        ulong t0 = Cpu.Rdtsc();
        byte* expected = stackalloc byte[Sha256.DigestSize];
        byte* actual = stackalloc byte[Sha256.DigestSize];
        s_image.CopyDigest(new Span<byte>(expected, Sha256.DigestSize));
        int segments = s_image.SegmentCount;
        if (!KexecImage.Digest(Region, s_image.Base, DigestRanges.Slice(0, segments), new Span<byte>(actual, Sha256.DigestSize))
            || !Sha256.DigestsEqual(new ReadOnlySpan<byte>(expected, Sha256.DigestSize), new ReadOnlySpan<byte>(actual, Sha256.DigestSize)))
        {
            LogLine l = default;
            KexecImage.DescribeMismatch(ref l, new ReadOnlySpan<byte>(expected, Sha256.DigestSize), new ReadOnlySpan<byte>(actual, Sha256.DigestSize));
            Log.Emerg(ref l);
            return;
        }
        VmcoreinfoNote.SetDigestTime(Clock.TicksToNs(Cpu.Rdtsc() - t0, Clock.TscKhz) / 1000);
        Log.Emerg($"kexec: jumping to the capture image at 0x{s_image.Entry:x}");
        MachineKexec.Jump(s_image.Base, s_image.RegionSize, s_image.Entry, s_coreHeader, s_cr3);
        Log.Emerg("kexec: the hand-over code does not fit its control page; no jump");
    }

    /// <summary>__crash_kexec(regs): no panic_cpu check; the kexec lock by trylock.</summary>
    public static void CrashKexecLocked(TrapFrame* regs)
    {
        if (!Panic.State.TryLockKexec()) return;
        Crashtest.InsideCrashKexec();
        if (s_imageArmed)
        {
            ulong panicTsc = Cpu.Rdtsc();
            CrashShutdown.MachineCrashShutdown(regs);
            VmcoreinfoNote.UpdateAtCrash(panicTsc);
            MachineKexecChecked();
        }
        else if (System.Threading.Interlocked.Exchange(ref s_reportedNoImage, 1) == 0)
        {
            Log.Emerg("kdump: no capture image armed; the panic goes on without a dump");
        }
        Panic.State.UnlockKexec();
    }
}
