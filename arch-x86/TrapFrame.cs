// The register frame boot/interrupts.asm builds on the stack for every vector: the general
// registers it pushed (r15 lowest), the vector and error code, then what the CPU pushed
// (SDM Vol. 3A 6.14.2: RIP, CS, RFLAGS, RSP, SS). Field order mirrors the asm; change both together.
using System.Runtime.InteropServices;

[StructLayout(LayoutKind.Sequential)]
struct TrapFrame
{
    public ulong R15, R14, R13, R12, R11, R10, R9, R8;
    public ulong Rbp, Rdi, Rsi, Rdx, Rcx, Rbx, Rax;
    public ulong Vector, ErrorCode;
    public ulong Rip, Cs, Rflags, Rsp, Ss;
}
