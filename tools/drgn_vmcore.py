#!/usr/bin/python3
"""drgn on an nmidump vmcore: one thread and backtrace per CPU register note.

usage: tools/drgn_vmcore.py VMCORE KERNEL

drgn (Debian's python3-drgn 0.0.22) takes any core with a VMCOREINFO note for a Linux kernel, and in
that mode finds threads only through Linux's task lists, which this kernel does not have. So the
script opens a temporary copy whose VMCOREINFO note is renamed, which drgn reads as a plain ELF
core: one thread per NT_PRSTATUS note (thread id = pr_pid = CPU + 1), unwound with KERNEL's DWARF
CFI and named from its symbols and line tables. It prints "cpu N pid P rip SYMBOL" and the
backtrace for each register note, then reads kmain's first bytes by symbol and compares them with
KERNEL's. Exit status 0 only if every register note gave a thread (and kmain's bytes match),
1 otherwise, 2 for bad arguments or files. The system python3 is used: that is where Debian's
drgn module lives.
"""
import os
import shutil
import struct
import sys
import tempfile

PT_LOAD, PT_NOTE, NT_PRSTATUS = 1, 4, 1
# Same length as "VMCOREINFO", so the copy is patched in place; drgn no longer sees a kernel core.
HIDDEN_NAME = b"NMIDUMP-VI"


def fail(message, status=2):
    print(f"drgn_vmcore: {message}", file=sys.stderr)
    sys.exit(status)


def elf_headers(path, data):
    """The program headers of an ELF64 little-endian file as (type, offset, vaddr, filesz, memsz)."""
    if len(data) < 64 or data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        fail(f"{path}: not an ELF64 little-endian file")
    phoff, = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    if phentsize != 56 or phoff + phnum * 56 > len(data):
        fail(f"{path}: program headers lie outside the first {len(data)} bytes")
    headers = []
    for i in range(phnum):
        p_type, _, p_offset, p_vaddr, _, p_filesz, p_memsz = struct.unpack_from("<IIQQQQQ", data, phoff + i * 56)
        headers.append((p_type, p_offset, p_vaddr, p_filesz, p_memsz))
    return headers


def notes(data, offset, size):
    """(owner, type, desc offset, desc size, name offset) of each note in data[offset:offset+size]."""
    end = offset + size
    while offset + 12 <= end:
        namesz, descsz, ntype = struct.unpack_from("<III", data, offset)
        if namesz == 0:
            return
        name_at = offset + 12
        desc_at = name_at + ((namesz + 3) & ~3)
        if desc_at + descsz > end:
            fail(f"a note at file offset {offset:#x} runs past its PT_NOTE")
        yield data[name_at:name_at + namesz].rstrip(b"\0"), ntype, desc_at, descsz, name_at
        offset = desc_at + ((descsz + 3) & ~3)


def read_head(path, size):
    try:
        with open(path, "rb") as f:
            return f.read(size)
    except OSError as e:
        fail(f"{path}: {e.strerror}")


def main():
    if len(sys.argv) != 3:
        fail("usage: tools/drgn_vmcore.py VMCORE KERNEL")
    vmcore, kernel = sys.argv[1], sys.argv[2]
    try:
        import drgn
    except ImportError:
        fail("the drgn module is missing: apt-get install python3-drgn (it serves /usr/bin/python3)")

    # The headers and the merged PT_NOTE sit before the first PT_LOAD's page.
    head = read_head(vmcore, 1 << 20)
    note_segments = [h for h in elf_headers(vmcore, head) if h[0] == PT_NOTE]
    if len(note_segments) != 1:
        fail(f"{vmcore}: {len(note_segments)} PT_NOTEs (a vmcore has one)")
    _, note_offset, _, note_size, _ = note_segments[0]
    if note_offset + note_size > len(head):
        fail(f"{vmcore}: the PT_NOTE lies outside the file's first MiB")
    pids, vmcoreinfo_name_at = [], None
    for owner, ntype, desc_at, descsz, name_at in notes(head, note_offset, note_size):
        if owner == b"CORE" and ntype == NT_PRSTATUS and descsz == 336:
            pids.append(struct.unpack_from("<i", head, desc_at + 32)[0])
        elif owner == b"VMCOREINFO":
            vmcoreinfo_name_at = name_at
    if not pids:
        fail(f"{vmcore}: no NT_PRSTATUS note", 1)

    with tempfile.TemporaryDirectory(prefix="drgn_vmcore-") as tmp:
        core = os.path.join(tmp, "vmcore")
        shutil.copyfile(vmcore, core)
        if vmcoreinfo_name_at is not None:
            with open(core, "r+b") as f:
                f.seek(vmcoreinfo_name_at)
                f.write(HIDDEN_NAME)
        prog = drgn.Program()
        prog.set_core_dump(core)
        try:
            prog.load_debug_info([kernel])
        except drgn.MissingDebugInfoError as e:
            fail(f"{kernel}: {e} (drgn needs DWARF: build with ./build.sh build)")
        return report(prog, pids, kernel, drgn)


def report(prog, pids, kernel, drgn):
    good = 0
    for pid in pids:
        try:
            trace = prog.thread(pid).stack_trace()
        except (LookupError, ValueError, drgn.FaultError) as e:
            print(f"cpu {pid - 1} pid {pid}: no thread: {e}")
            continue
        if len(trace) == 0:
            print(f"cpu {pid - 1} pid {pid}: an empty stack trace")
            continue
        good += 1
        print(f"cpu {pid - 1} pid {pid} rip {name(prog, trace[0].pc, drgn)}")
        for i, frame in enumerate(trace):
            where = ""
            try:
                file, line, _ = frame.source()
                where = f" at {file}:{line}"
            except LookupError:
                pass
            # drgn marks the innermost frame too; only a trap's interrupted frame is news.
            mark = "  (interrupted)" if frame.interrupted and i > 0 else ""
            print(f"  #{i:<2} {frame.pc:#018x} {name(prog, frame.pc, drgn)}{where}{mark}")

    kmain_ok = check_kmain(prog, kernel, drgn)
    print(f"drgn_vmcore: {good} of {len(pids)} register notes gave a thread")
    return 0 if good == len(pids) and kmain_ok else 1


def name(prog, pc, drgn):
    """symbol+0xoff/0xsize, from the ELF symbol table (asm routines have no DWARF function)."""
    try:
        s = prog.symbol(pc)
        return f"{s.name}+{pc - s.address:#x}/{s.size:#x}"
    except LookupError:
        return "??"


def check_kmain(prog, kernel, drgn):
    """kmain's first 16 bytes read by symbol from the dump, beside the same bytes of KERNEL's file."""
    try:
        s = prog.symbol("kmain")
        dumped = prog.read(s.address, 16)
    except (LookupError, drgn.FaultError) as e:
        print(f"kmain: cannot read it by symbol: {e}")
        return False
    image = read_head(kernel, os.path.getsize(kernel))
    expected = None
    for p_type, p_offset, p_vaddr, p_filesz, _ in elf_headers(kernel, image):
        if p_type == PT_LOAD and p_vaddr <= s.address and s.address + 16 <= p_vaddr + p_filesz:
            at = p_offset + s.address - p_vaddr
            expected = image[at:at + 16]
    same = dumped == expected
    verdict = f"matches {kernel}" if same else f"differs from {kernel}: {expected.hex(' ') if expected else 'not in its PT_LOADs'}"
    print(f"kmain at {s.address:#x}: {dumped.hex(' ')} ({verdict})")
    return same


if __name__ == "__main__":
    sys.exit(main())
