; CPU primitives C# imports by name ([RuntimeImport]); System V calling convention: arguments in
; rdi, rsi, rdx, rcx. Each routine does one instruction's worth of work and no policy.
bits 64
section .text

%macro FUNC 1
global %1
%1:
%endmacro

FUNC outb
    mov dx, di
    mov al, sil
    out dx, al
    ret
FUNC outw
    mov dx, di
    mov ax, si
    out dx, ax
    ret
FUNC outl
    mov dx, di
    mov eax, esi
    out dx, eax
    ret
FUNC inb
    mov dx, di
    xor eax, eax
    in al, dx
    ret
FUNC inw
    mov dx, di
    xor eax, eax
    in ax, dx
    ret
FUNC inl
    mov dx, di
    in eax, dx
    ret
; rep outsb: rdi = port, rsi = source, rdx = count
FUNC outsb
    push rsi
    mov rcx, rdx
    mov dx, di
    rep outsb
    pop rsi
    ret

FUNC rdmsr
    mov ecx, edi
    rdmsr
    shl rdx, 32
    or rax, rdx
    ret
FUNC wrmsr
    mov ecx, edi
    mov rax, rsi
    mov rdx, rsi
    shr rdx, 32
    wrmsr
    ret

FUNC read_cr0
    mov rax, cr0
    ret
FUNC read_cr2
    mov rax, cr2
    ret
FUNC read_cr3
    mov rax, cr3
    ret
FUNC write_cr3
    mov cr3, rdi
    ret
FUNC read_cr4
    mov rax, cr4
    ret
FUNC read_rflags
    pushfq
    pop rax
    ret
FUNC invlpg
    invlpg [rdi]
    ret

; cpuid(leaf, subleaf, uint* out4)
FUNC cpuid
    push rbx
    mov eax, edi
    mov ecx, esi
    mov r8, rdx
    cpuid
    mov [r8], eax
    mov [r8 + 4], ebx
    mov [r8 + 8], ecx
    mov [r8 + 12], edx
    pop rbx
    ret

FUNC rdtsc
    rdtsc
    shl rdx, 32
    or rax, rdx
    ret

FUNC cli
    cli
    ret
FUNC sti
    sti
    ret
FUNC hlt
    hlt
    ret
FUNC sti_hlt
    sti
    hlt
    ret
FUNC pause
    pause
    ret
; Interrupts off and halt, for good: NMIs still arrive and return here.
FUNC halt_forever
    cli
.again:
    hlt
    jmp .again

FUNC lgdt
    lgdt [rdi]
    ret
FUNC lidt
    lidt [rdi]
    ret
FUNC ltr
    ltr di
    ret
FUNC write_gs_base
    mov ecx, 0xC0000101
    mov eax, edi
    mov rdx, rdi
    shr rdx, 32
    wrmsr
    ret
FUNC read_gs_base
    mov ecx, 0xC0000101
    rdmsr
    shl rdx, 32
    or rax, rdx
    ret

; Reload CS with selector rdi and the data segments with rsi, after a new GDT is loaded.
FUNC reload_segments
    mov ax, si
    mov ds, ax
    mov es, ax
    mov ss, ax
    push rdi
    lea rax, [rel .reloaded]
    push rax
    retfq
.reloaded:
    ret

FUNC read_rsp
    lea rax, [rsp + 8]
    ret
FUNC read_rbp
    mov rax, rbp
    ret

; Runtime checks that failed in managed code (bounds, casts): trap so the oops names the caller.
; rdi holds the reason (Internal.Runtime.CompilerHelpers.RuntimeBug).
FUNC rt_bug
    ud2
    jmp rt_bug

; BUG_ON (kernel/lib/Bug.cs): rdi = the invariant's UTF-16 text, rsi = its length in chars.
FUNC kernel_bug
    ud2
    jmp kernel_bug

; Crash triggers (kernel/debug/Crashtest.cs): they fault on purpose, at a named place.
FUNC crashtest_ud2
    ud2
    ret
FUNC crashtest_null_write
    mov qword [0], 0x1234
    ret
; Load a non-canonical address: #GP.
FUNC crashtest_gp
    mov rax, 0x8000000000000000
    mov rax, [rax]
    ret

; Memory helpers the compiler may call for large block copies and clears.
FUNC memset
    mov r9, rdi
    mov al, sil
    mov rcx, rdx
    rep stosb
    mov rax, r9
    ret
FUNC memcpy
    mov rax, rdi
    mov rcx, rdx
    rep movsb
    ret
FUNC memmove
    mov rax, rdi
    mov rcx, rdx
    cmp rdi, rsi
    jbe .forward
    lea r8, [rsi + rdx]
    cmp rdi, r8
    jae .forward
    lea rsi, [rsi + rdx - 1]
    lea rdi, [rdi + rdx - 1]
    std
    rep movsb
    cld
    ret
.forward:
    rep movsb
    ret

; RhpStackProbe: ILCompiler's probe for frames over a page. r11 holds the lowest address of the
; new frame; touch each page from the current one down to it, preserving every register.
FUNC RhpStackProbe
    push rax
    mov rax, rsp
.probe:
    sub rax, 4096
    cmp rax, r11
    jb .done
    test [rax], al
    jmp .probe
.done:
    test [r11], al
    pop rax
    ret

; SSE must be on before the first managed instruction on every CPU: compiled prologues use xmm.
; SDM Vol. 3A 13.1.3: CR0.EM = 0, CR0.MP = 1, CR4.OSFXSR and CR4.OSXMMEXCPT set.
global enable_sse
enable_sse:
    mov rax, cr0
    and rax, ~(1 << 2)
    or rax, (1 << 1)
    mov cr0, rax
    mov rax, cr4
    or rax, (1 << 9) | (1 << 10)
    mov cr4, rax
    ret


section .data
global __security_cookie
align 8
__security_cookie: dq 0x2B992DDFA232A5E1

section .text
; The calling CPU's PerCpu pointer (arch-x86/PerCpu.cs): its first field points at itself. Until
; per-CPU set-up, GS points at a zero quadword (multiboot.asm), which reads as null.
global this_cpu_ptr
this_cpu_ptr:
    mov rax, [gs:0]
    ret

; The idle loop every CPU ends in: r12 carries 0xC0DE0000 + the CPU number (edi) so a register
; dump can prove whose registers it shows; sti;hlt, never a spin (a spinning vCPU starves others
; under TCG). Only IPIs and NMIs wake it.
global cpu_idle
cpu_idle:
    mov r12d, 0xC0DE0000            ; 32-bit operations zero-extend: r12 = 0x00000000C0DE00nn
    add r12d, edi
.again:
    sti
    hlt
    jmp .again

; capture_registers(TrapFrame* out): the caller's registers as a TrapFrame (arch-x86/TrapFrame.cs),
; for a panic that has no interrupted frame (Linux: crash_setup_regs). RIP is the return address,
; RSP the caller's stack pointer after the return; vector and error code are left zero.
global capture_registers
capture_registers:
    mov [rdi + 0*8], r15
    mov [rdi + 1*8], r14
    mov [rdi + 2*8], r13
    mov [rdi + 3*8], r12
    mov [rdi + 4*8], r11
    mov [rdi + 5*8], r10
    mov [rdi + 6*8], r9
    mov [rdi + 7*8], r8
    mov [rdi + 8*8], rbp
    mov [rdi + 9*8], rdi
    mov [rdi + 10*8], rsi
    mov [rdi + 11*8], rdx
    mov [rdi + 12*8], rcx
    mov [rdi + 13*8], rbx
    mov [rdi + 14*8], rax
    mov qword [rdi + 15*8], 0
    mov qword [rdi + 16*8], 0
    mov rax, [rsp]
    mov [rdi + 17*8], rax           ; rip: where capture_registers returns to
    mov ax, cs
    movzx eax, ax
    mov [rdi + 18*8], rax
    pushfq
    pop rax
    mov [rdi + 19*8], rax
    lea rax, [rsp + 8]
    mov [rdi + 20*8], rax           ; rsp as the caller sees it after the call
    mov ax, ss
    movzx eax, ax
    mov [rdi + 21*8], rax
    mov rax, [rdi + 14*8]
    ret

; copy_qwords(dst, src, count): rep movsq, the fastest copy under TCG (one helper call for the lot).
global copy_qwords
copy_qwords:
    mov rcx, rdx
    rep movsq
    ret
