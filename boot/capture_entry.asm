; The capture image's entry, linked only into out/capture.elf (a position-independent executable
; placed in the crashkernel= region by the first kernel). machine_kexec jumps here in 64-bit mode,
; interrupts off, on an identity map that covers the region and the first kernel's RAM, with
; rdi = the ELF core header's physical address, rsi = the region's base, rdx = its size. NMIs may
; still be blocked (the crash may have come from NMI context), or not: the capture kernel relies on
; neither. Its first act is an IDT of its own whose NMI gate only counts (the hand-over left an
; empty one, on which an NMI would reset the machine); then one IRET to itself ends any NMI block
; it inherited, so from there on an NMI is delivered and handled like any other. Everything here is
; RIP-relative: the image runs wherever crashkernel= put it, and it writes nothing outside its
; own region. The TSC at the first instruction goes to capture_main (rcx): "panic to capture
; entry" is measured to here.
bits 64

%include "x86.inc"

EARLY_VECTORS   equ 32

extern capture_main, enable_sse
extern __bss_start, __bss_end

section .text
global capture_entry
capture_entry:
    cli
    cld
    mov r15, rdx
    rdtsc
    shl rdx, 32
    or rax, rdx
    mov rdx, r15
    mov r15, rax
    mov r12, rdi
    mov r13, rsi
    mov r14, rdx
    ; The early IDT (in .data, so the bss clearing below leaves it alone): NMI gate first.
    lea rdi, [rel early_idt64]
    xor ecx, ecx
.gates:
    lea rax, [rel early_fault64]
    cmp ecx, 2
    jne .gate
    lea rax, [rel early_nmi64]
.gate:
    mov rdx, rax
    and eax, 0xFFFF
    or eax, SEL_CODE64 << 16        ; the first kernel's GDT (still loaded) has the same layout (x86.inc)
    mov [rdi], eax
    mov rax, rdx
    shr rax, 16
    and eax, 0xFFFF
    shl eax, 16
    or eax, GATE_INTERRUPT << 8
    mov [rdi + 4], eax
    shr rdx, 32
    mov [rdi + 8], edx
    mov dword [rdi + 12], 0
    add rdi, 16
    inc ecx
    cmp ecx, EARLY_VECTORS
    jb .gates
    lea rax, [rel early_idt64]
    mov [rel early_idt64_ptr + 2], rax
    lidt [rel early_idt64_ptr]
    ; Zero our own bss first: the digest the first kernel checks covers only the file-backed
    ; bytes, so nothing may be assumed about the rest (stacks, page tables, the log ring).
    lea rdi, [rel __bss_start]
    lea rcx, [rel __bss_end]
    sub rcx, rdi
    shr rcx, 3
    xor eax, eax
    rep stosq
    lea rsp, [rel boot_stack_top]
    call build_identity_map
    lea rax, [rel boot_pml4]
    mov cr3, rax
    ; A GDT of our own (the first kernel's may be anywhere); its base is only known at run time.
    lea rax, [rel capture_gdt]
    mov [rel capture_gdt_ptr + 2], rax
    lgdt [rel capture_gdt_ptr]
    mov ax, SEL_DATA
    mov ds, ax
    mov es, ax
    mov ss, ax
    xor ax, ax
    mov fs, ax
    mov gs, ax
    ; One IRET to the next instruction, with our own selectors: NMIs are unblocked from here on
    ; whatever context the first kernel jumped from (SDM Vol. 3A 6.7.1: an NMI blocks NMIs until
    ; the next IRET). It also reloads CS with our GDT's code selector.
    mov rax, rsp
    push SEL_DATA
    push rax
    pushfq
    push SEL_CODE64
    lea rax, [rel .reloaded]
    push rax
    iretq
.reloaded:
    ; GS base -> a zero quadword: "no per-CPU pointer" until C# sets it.
    mov ecx, 0xC0000101
    lea rax, [rel no_percpu]
    mov rdx, rax
    shr rdx, 32
    wrmsr
    call enable_sse
    mov rdi, r12
    mov rsi, r13
    mov rdx, r14
    mov rcx, r15
    call capture_main
.hang:
    cli
    hlt
    jmp .hang

; An NMI before the kernel's IDT: counted (C# reports it), then returned from.
early_nmi64:
    lock inc dword [rel early_nmi_count]
    iretq

; An exception before the kernel's IDT: say so on COM1 and exit with the failure status 3.
early_fault64:
    lea rsi, [rel early_fault_text]
.out:
    mov al, [rsi]
    test al, al
    jz .exit
    mov dx, 0x3F8
    out dx, al
    inc rsi
    jmp .out
.exit:
    mov dx, DEBUG_EXIT_PORT
    mov al, 1
    out dx, al
    cli
    hlt
    jmp .exit

; Identity map of the low IDENTITY_MAP_GIB GiB in this image's own tables (the same shape as the first kernel's:
; 2 MiB pages, 4 KiB pages for the first 2 MiB with page 0 absent, the APIC pages uncached). RAM above
; it, and the dump window, are mapped later from C# (Paging.MapRam, DumpExport), from the page-table pool.
build_identity_map:
    lea rdi, [rel boot_pml4]
    lea rax, [rel boot_pdpt]
    or rax, PTE_PRESENT | PTE_WRITE
    mov [rdi], rax
    lea rdi, [rel boot_pdpt]
    lea rax, [rel boot_pd]
    or rax, PTE_PRESENT | PTE_WRITE
    xor ecx, ecx
.pdpt:
    mov [rdi + rcx * 8], rax
    add rax, 4096
    inc ecx
    cmp ecx, IDENTITY_MAP_GIB
    jb .pdpt
    lea rdi, [rel boot_pd]
    xor ecx, ecx
.pd:
    mov rax, rcx
    shl rax, 21
    or rax, PTE_PRESENT | PTE_WRITE | PTE_LARGE
    mov [rdi + rcx * 8], rax
    inc ecx
    cmp ecx, IDENTITY_MAP_GIB * 512
    jb .pd
    or qword [rdi + PD_IOAPIC * 8], PTE_PCD | PTE_PWT
    or qword [rdi + PD_LOCAL_APIC * 8], PTE_PCD | PTE_PWT
    lea rax, [rel boot_pt0]
    or rax, PTE_PRESENT | PTE_WRITE
    mov [rdi], rax
    lea rdi, [rel boot_pt0]
    mov qword [rdi], 0
    mov ecx, 1
.pt:
    mov rax, rcx
    shl rax, 12
    or rax, PTE_PRESENT | PTE_WRITE
    mov [rdi + rcx * 8], rax
    inc ecx
    cmp ecx, 512
    jb .pt
    ret

section .rodata
early_fault_text: db 13, 10, "capture: exception before the IDT was loaded; exiting with status 3", 13, 10, 0

section .data
global boot_magic, boot_info, boot_ebda_segment, boot_bda
global early_idt32_ptr, early_idt64_ptr, early_nmi_count
align 16
early_idt64:       times EARLY_VECTORS * 16 db 0
align 8
early_idt64_ptr:   dw EARLY_VECTORS * 16 - 1
                   dq 0                 ; the base is known at run time only
early_idt32_ptr:   dq 0                 ; no AP ever starts here: the trampoline's IDT is the first kernel's
early_nmi_count:   dd 0
align 16
capture_gdt:
    dq 0
    dq DESC_CODE32                  ; SEL_CODE32 (x86.inc)
    dq DESC_CODE64                  ; SEL_CODE64
    dq DESC_DATA                    ; SEL_DATA
capture_gdt_ptr:
    dw 4 * 8 - 1
    dq 0
align 8
; The first kernel's multiboot values: none here (kernel/capture/Capture.cs takes its inputs from rdi/rsi/rdx).
boot_magic:        dq 0
boot_info:         dq 0
boot_ebda_segment: dq 0
no_percpu:         dq 0
boot_bda:          times BDA_SIZE db 0      ; none: what the capture kernel needs of it comes through VMCOREINFO

section .bss
global boot_pml4, boot_stack_guard, boot_stack_bottom, boot_stack_top
alignb 4096
boot_pml4:  resb 4096
boot_pdpt:  resb 4096
boot_pd:    resb IDENTITY_MAP_GIB * 4096
boot_pt0:   resb 4096
boot_stack_guard:  resb 4096
boot_stack_bottom: resb 16384
boot_stack_top:
