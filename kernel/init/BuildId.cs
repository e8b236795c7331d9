// The kernel's build id: the GNU build-id note the linker wrote (--build-id=sha1), printed in the
// banner, carried in VMCOREINFO (BUILD-ID=) and checked by the host tools against kernel.elf.
static unsafe class BuildId
{
    /// <summary>Appends the id in hex, or "none". The note: namesz, descsz, type, "GNU\0", then the id.</summary>
    public static void Append(ref LogLine l)
    {
        ref KernelLayout k = ref KernelLayout.Get;
        byte* note = (byte*)k.BuildIdNote;
        if (k.BuildIdNoteEnd - k.BuildIdNote < 16) { l.Append("none"); return; }
        uint namesz = *(uint*)note, descsz = *(uint*)(note + 4);
        byte* desc = note + 12 + ((namesz + 3) & ~3u);
        if ((ulong)(desc + descsz) > k.BuildIdNoteEnd) { l.Append("none"); return; }
        for (uint i = 0; i < descsz; i++) l.AppendHex(desc[i], 2);
    }
}
