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

; Crash triggers (kernel/Crashtest.cs): they fault on purpose, at a named place.
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
    mov r12d, edi
    add r12, 0xC0DE0000
.again:
    sti
    hlt
    jmp .again
