; The hand-over to the capture image (Linux: relocate_kernel_64.S, much reduced: a crash image is
; loaded in place, so nothing is copied). machine_kexec copies [relocate_kernel, relocate_kernel_end)
; into the control page inside the crashkernel= region and jumps there with
;   rdi = ELF core header, rsi = region base, rdx = region size, rcx = capture entry,
;   r8 = CR3 of the identity map built in the region, r9 = top of the stack in the control page.
; Both the old and the new page tables map the control page at its physical address, so the CR3
; switch cannot pull the code out from under itself.
bits 64
section .rodata
global relocate_kernel, relocate_kernel_end
align 16
relocate_kernel:
    cli
    mov cr3, r8
    mov rsp, r9
    ; An empty IDT: until the capture image loads its own, a fault resets the machine instead of
    ; running the first kernel's handlers.
    push 0
    push 0
    lidt [rsp + 6]
    add rsp, 16
    xor eax, eax
    xor ebx, ebx
    xor ebp, ebp
    xor r8d, r8d
    xor r9d, r9d
    xor r10d, r10d
    xor r11d, r11d
    xor r12d, r12d
    xor r13d, r13d
    xor r14d, r14d
    xor r15d, r15d
    jmp rcx
relocate_kernel_end:

section .text
; jump_to_control_page(page, elfcorehdr, base, size, entry, cr3, stack top): the first kernel's last
; instruction. rdi = page; the rest shift into the registers relocate_kernel expects.
global jump_to_control_page
jump_to_control_page:
    cli
    mov rax, rdi                    ; control page
    mov rdi, rsi                    ; elfcorehdr
    mov rsi, rdx                    ; region base
    mov rdx, rcx                    ; region size
    mov rcx, r8                     ; entry
    mov r8, r9                      ; cr3
    mov r9, [rsp + 8]               ; stack top (7th argument)
    jmp rax
