# Interrupt and exception entry: one stub per vector pushes a dummy error code where the CPU did
# not push one, then the vector, then jumps to a common path that saves every general register and
# the x87/SSE state, calls trap_dispatch(frame) in C#, and restores. SDM Vol. 3A 6.12, 6.14.
# The frame layout is mirrored by arch-x86/TrapFrame.cs; change both together.
#
# GNU as (Intel syntax), not NASM, for the DWARF CFI (.eh_frame) that lets gdb, drgn and the
# inspector unwind from a handler into the code it interrupted. Every stub and isr_common is a
# signal frame (.cfi_signal_frame, augmentation "S"): the caller's RIP is the interrupted
# instruction itself, not a return address, so an unwinder looks it up without the usual "-1".
# The CFA is the address just above the SS the CPU pushed, so the hardware frame sits at the same
# CFA offsets everywhere: CFA-8 SS, -16 RSP, -24 RFLAGS, -32 CS, -40 RIP, -48 error code, -56 vector.
# DWARF register numbers (x86-64 psABI 3.6.2): rip 16, rflags 49, cs 51, ss 52.
        .intel_syntax noprefix
        .altmacro
        .text
        .p2align 4

        .macro IRET_FRAME_CFI
        .cfi_signal_frame
        .cfi_offset 16, -40             # rip: the interrupted instruction
        .cfi_offset 51, -32             # cs
        .cfi_offset 49, -24             # rflags
        .cfi_offset rsp, -16            # the interrupted stack pointer (IST stacks switch it)
        .cfi_offset 52, -8              # ss
        .endm

        # One FDE covers all 256 stubs: a row at each stub's first instruction and after each push
        # costs about 8 bytes a stub, where an FDE of its own would cost about 24 (.eh_frame is loaded).
        # Vectors for which the CPU pushes an error code: SDM Vol. 3A table 6-1.
        .macro STUB v
isr_stub_\v:
        .if (\v == 8) || (\v == 10) || (\v == 11) || (\v == 12) || (\v == 13) || (\v == 14) || (\v == 17) || (\v == 21) || (\v == 29) || (\v == 30)
        .cfi_def_cfa_offset 48
        .else
        .cfi_def_cfa_offset 40
        push 0
        .cfi_def_cfa_offset 48
        .endif
        push \v
        .cfi_def_cfa_offset 56
        jmp isr_common
        .endm

        .cfi_startproc simple
        .cfi_def_cfa rsp, 40
        IRET_FRAME_CFI
        # .Lv, not v: a plain .set would leave an absolute symbol "v" in the symbol table.
        .set .Lv, 0
        .rept 256
        STUB %.Lv
        .set .Lv, .Lv + 1
        .endr
        .cfi_endproc

        .macro SAVE reg
        push \reg
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset \reg, 0
        .endm
        .macro RESTORE reg
        pop \reg
        .cfi_adjust_cfa_offset -8
        .cfi_restore \reg
        .endm

        .type isr_common, @function
isr_common:
        .cfi_startproc simple
        .cfi_def_cfa rsp, 56            # vector and error code on top of the hardware frame
        IRET_FRAME_CFI
        SAVE rax
        SAVE rbx
        SAVE rcx
        SAVE rdx
        SAVE rsi
        SAVE rdi
        SAVE rbp
        SAVE r8
        SAVE r9
        SAVE r10
        SAVE r11
        SAVE r12
        SAVE r13
        SAVE r14
        SAVE r15
        cld
        # A 64-bit interrupt gate loads a null SS. IRET restores the interrupted SS from the frame,
        # so the handler may run on the kernel's data selector (DS holds it everywhere) like the
        # rest of the kernel: under TCG the stack segment's size is part of every translation's
        # key, and a null SS made all code first reached from an NMI (the crash path) a second,
        # cold translation, 0.5-1 ms per function the first time it ran there.
        mov ax, ds
        mov ss, ax
        mov rbx, rsp                    # frame; rbx survives the call (callee-saved)
        .cfi_def_cfa_register rbx       # CFA = rbx + 176 while rsp is realigned below
        sub rsp, 512
        and rsp, -16
        fxsave64 [rsp]
        mov rdi, rbx
        call trap_dispatch
        fxrstor64 [rsp]
        mov rsp, rbx
        .cfi_def_cfa_register rsp
        RESTORE r15
        RESTORE r14
        RESTORE r13
        RESTORE r12
        RESTORE r11
        RESTORE r10
        RESTORE r9
        RESTORE r8
        RESTORE rbp
        RESTORE rdi
        RESTORE rsi
        RESTORE rdx
        RESTORE rcx
        RESTORE rbx
        RESTORE rax
        add rsp, 16                     # vector and error code
        .cfi_adjust_cfa_offset -16
        iretq
        .cfi_endproc
        .size isr_common, . - isr_common

        .macro ENTRY v
        .quad isr_stub_\v
        .endm

        .section .rodata
        .globl isr_stub_table
        .p2align 3
isr_stub_table:
        .set .Lv, 0
        .rept 256
        ENTRY %.Lv
        .set .Lv, .Lv + 1
        .endr

        .section .note.GNU-stack, "", @progbits
