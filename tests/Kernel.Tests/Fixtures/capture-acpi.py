#!/usr/bin/env python3
# Captures the ACPI tables SeaBIOS builds under QEMU into a small fixture for AcpiTests.
# Boots nothing: QEMU starts paused (-S), runs SeaBIOS for two seconds, then QMP pmemsave dumps
# the BIOS data area word at 0x40E, the first KiB of the EBDA, the RSDP's paragraphs and the span
# of physical memory from the lowest to the highest table (RSDT/XSDT, every table they list, the
# FADT's FACS and DSDT). Fixture format, little-endian: chunks of u64 address, u32 length, bytes.
#   usage: capture-acpi.py pc|q35 OUT.bin   (4 CPUs, 64 MiB, the kernel's isa-debug-exit device)
import json, os, socket, struct, subprocess, sys, tempfile, time

machine, out = sys.argv[1], sys.argv[2]
work = tempfile.mkdtemp(prefix="acpi-capture-")
sock = os.path.join(work, "qmp.sock")
qemu = subprocess.Popen(["qemu-system-x86_64", "-accel", "tcg", "-machine", machine, "-nodefaults",
                         "-no-user-config", "-display", "none", "-monitor", "none", "-serial", "null",
                         "-device", "isa-debug-exit,iobase=0x501,iosize=2", "-smp", "4", "-m", "64",
                         "-S", "-qmp", f"unix:{sock},server=on,wait=off"])
for _ in range(100):
    if os.path.exists(sock): break
    time.sleep(0.05)
s = socket.socket(socket.AF_UNIX); s.connect(sock); f = s.makefile("rw")
def reply():
    while True:
        m = json.loads(f.readline())
        if "event" not in m: return m
def qmp(cmd, **args):
    f.write(json.dumps({"execute": cmd, "arguments": args}) + "\n"); f.flush()
    r = reply()
    if "error" in r: raise SystemExit(f"{cmd}: {r['error']}")
    return r
reply(); qmp("qmp_capabilities"); qmp("cont"); time.sleep(2); qmp("stop")
def read(pa, n):
    path = os.path.join(work, "mem.bin")
    qmp("pmemsave", val=pa, size=n, filename=path)
    with open(path, "rb") as m: return m.read()

bda = read(0x400, 16)
ebda = struct.unpack_from("<H", bda, 0xE)[0] << 4
bios = read(0xE0000, 0x20000)
rsdp = next(i for i in range(0, len(bios), 16) if bios[i:i + 8] == b"RSD PTR ")
rsdp_pa = 0xE0000 + rsdp
revision, rsdt = bios[rsdp + 15], struct.unpack_from("<I", bios, rsdp + 16)[0]
xsdt = struct.unpack_from("<Q", bios, rsdp + 24)[0] if revision >= 2 else 0
def table(pa):
    length = struct.unpack_from("<I", read(pa + 4, 4))[0]
    return read(pa, length)
spans = []
for root, size in ((rsdt, 4), (xsdt, 8)):
    if not root: continue
    t = table(root); spans.append((root, len(t)))
    for k in range(36, len(t), size):
        pa = int.from_bytes(t[k:k + size], "little"); body = table(pa); spans.append((pa, len(body)))
        if body[:4] == b"FACP":
            for off, width in ((36, 4), (40, 4), (132, 8), (140, 8)):
                if off + width <= len(body):
                    ref = int.from_bytes(body[off:off + width], "little")
                    if ref: spans.append((ref, len(table(ref))))
lo = min(pa for pa, _ in spans); hi = max(pa + n for pa, n in spans)
chunks = [(0x400, bda), (ebda, read(ebda, 1024)), (rsdp_pa, bios[rsdp:rsdp + 48]), (lo, read(lo, hi - lo))]
qmp("quit"); qemu.wait()
with open(out, "wb") as o:
    for pa, data in chunks: o.write(struct.pack("<QI", pa, len(data)) + data)
print(f"{machine}: RSDP v{revision} at {rsdp_pa:#x}, tables {lo:#x}-{hi:#x} ({hi - lo} bytes) -> {out}")
