; Interrupt and exception entry: one stub per vector pushes a dummy error code where the CPU did
; not push one, then the vector, then jumps to a common path that saves every general register and
; the x87/SSE state, calls trap_dispatch(frame) in C#, and restores. SDM Vol. 3A 6.12, 6.14.
; The frame layout is mirrored by arch-x86/TrapFrame.cs; change both together.
bits 64
%include "x86.inc"
extern trap_dispatch

section .text

%macro STUB 1
isr_stub_%1:
%if (%1 = 8) || (%1 = 10) || (%1 = 11) || (%1 = 12) || (%1 = 13) || (%1 = 14) || (%1 = 17) || (%1 = 21) || (%1 = 29) || (%1 = 30)
    ; the CPU pushed an error code
%else
    push 0
%endif
    push %1
    jmp isr_common
%endmacro

%assign v 0
%rep 256
    STUB v
%assign v v + 1
%endrep

isr_common:
    push rax
    push rbx
    push rcx
    push rdx
    push rsi
    push rdi
    push rbp
    push r8
    push r9
    push r10
    push r11
    push r12
    push r13
    push r14
    push r15
    cld
    ; A 64-bit interrupt gate loads SS with the null selector. IRET restores the interrupted SS
    ; from the frame, so the handler may run on the kernel's data selector instead, as the rest of
    ; the kernel does: under TCG the stack segment's size is part of every translation's key, and a
    ; null SS made all code reached from an NMI (the crash path) a second, cold translation: 0.5-1 ms
    ; per function the first time it ran there.
    mov ax, SEL_DATA
    mov ss, ax
    mov rbx, rsp                ; frame; rbx survives the call (callee-saved)
    sub rsp, 512
    and rsp, -16
    fxsave64 [rsp]
    mov rdi, rbx
    call trap_dispatch
    fxrstor64 [rsp]
    mov rsp, rbx
    pop r15
    pop r14
    pop r13
    pop r12
    pop r11
    pop r10
    pop r9
    pop r8
    pop rbp
    pop rdi
    pop rsi
    pop rdx
    pop rcx
    pop rbx
    pop rax
    add rsp, 16                 ; vector and error code
    iretq

section .rodata
global isr_stub_table
align 8
isr_stub_table:
%assign v 0
%rep 256
    dq isr_stub_ %+ v
%assign v v + 1
%endrep
