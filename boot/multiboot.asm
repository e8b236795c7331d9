; Multiboot entry: the loader leaves us in 32-bit protected mode with paging off. We build an
; identity map, enter long mode, enable SSE and call the C# entry kmain(magic, info).
; Multiboot 0.6.96 section 3.1 (header), 3.2 (machine state); SDM Vol. 3A 9.8.5 (long mode).

bits 32

MB_MAGIC        equ 0x1BADB002
MB_PAGE_ALIGN   equ 1 << 0          ; modules page-aligned
MB_MEMORY_INFO  equ 1 << 1          ; memory map wanted
MB_AOUT_KLUDGE  equ 1 << 16         ; load addresses below; QEMU refuses a 64-bit ELF without it
MB_FLAGS        equ MB_PAGE_ALIGN | MB_MEMORY_INFO | MB_AOUT_KLUDGE

%include "x86.inc"

extern __image_start, __load_end, __bss_end
extern kmain, stack_bottom_call

section .multiboot
align 4
multiboot_header:
    dd MB_MAGIC
    dd MB_FLAGS
    dd -(MB_MAGIC + MB_FLAGS)
    dd multiboot_header     ; header_addr
    dd __image_start        ; load_addr
    dd __load_end           ; load_end_addr
    dd __bss_end            ; bss_end_addr
    dd _start32             ; entry_addr

section .boot.text progbits alloc exec nowrite
global _start32
_start32:
    cli
    cld
    mov esp, boot_stack_top
    mov [boot_magic], eax
    mov [boot_info], ebx
    ; Page 0 will be unmapped in long mode: keep the BIOS data area's EBDA segment now.
    movzx eax, word [0x40E]
    mov [boot_ebda_segment], eax

    call build_identity_map

    mov eax, cr4
    or eax, (1 << 5)                ; PAE
    mov cr4, eax
    mov eax, boot_pml4
    mov cr3, eax
    mov ecx, 0xC0000080             ; EFER
    rdmsr
    or eax, (1 << 8) | (1 << 11)    ; LME, NXE
    wrmsr
    mov eax, cr0
    or eax, (1 << 31) | (1 << 0)    ; PG, PE
    mov cr0, eax

    lgdt [boot_gdt_ptr]
    jmp SEL_CODE64:long_mode_entry

; Identity map of the low IDENTITY_MAP_GIB GiB: 2 MiB pages, except the first 2 MiB which use 4 KiB pages so that
; page 0 can stay unmapped (a null dereference faults) and guard pages can be cut out later. The
; local APIC and IOAPIC pages (0xFEC00000, 0xFEE00000) are uncached (SDM Vol. 3A 11.4.1).
build_identity_map:
    mov dword [boot_pml4], boot_pdpt + PTE_PRESENT + PTE_WRITE
    ; PDPT entries 0..IDENTITY_MAP_GIB-1 -> boot_pd + n*4096
    xor ecx, ecx
.pdpt:
    mov eax, ecx
    shl eax, 12
    add eax, boot_pd + PTE_PRESENT + PTE_WRITE
    mov [boot_pdpt + ecx * 8], eax
    inc ecx
    cmp ecx, IDENTITY_MAP_GIB
    jb .pdpt
    ; IDENTITY_MAP_GIB * 512 PD entries, 2 MiB each
    xor ecx, ecx
.pd:
    mov eax, ecx
    shl eax, 21
    or eax, PTE_PRESENT + PTE_WRITE + PTE_LARGE
    mov [boot_pd + ecx * 8], eax
    mov dword [boot_pd + ecx * 8 + 4], 0
    inc ecx
    cmp ecx, IDENTITY_MAP_GIB * 512
    jb .pd
    or dword [boot_pd + PD_IOAPIC * 8], PTE_PCD + PTE_PWT
    or dword [boot_pd + PD_LOCAL_APIC * 8], PTE_PCD + PTE_PWT
    ; first 2 MiB through a page table; entry 0 stays not-present
    mov dword [boot_pd], boot_pt0 + PTE_PRESENT + PTE_WRITE
    mov ecx, 1
.pt:
    mov eax, ecx
    shl eax, 12
    or eax, PTE_PRESENT + PTE_WRITE
    mov [boot_pt0 + ecx * 8], eax
    inc ecx
    cmp ecx, 512
    jb .pt
    ret

bits 64
long_mode_entry:
    mov ax, SEL_DATA
    mov ds, ax
    mov es, ax
    mov ss, ax
    xor ax, ax
    mov fs, ax
    mov gs, ax
    mov rsp, boot_stack_top
    ; GS base -> a zero quadword, so "this CPU's per-CPU pointer" reads null until C# sets it.
    mov ecx, 0xC0000101
    mov eax, no_percpu
    xor edx, edx
    wrmsr
    mov edi, [boot_magic]
    mov esi, [boot_info]
    lea rdx, [rel kmain]
    jmp stack_bottom_call           ; boot/cpu.s: SSE on, kmain(magic, info); CFI ends backtraces there

section .rodata
align 16
boot_gdt:                           ; the layout of every GDT the kernel loads (x86.inc)
    dq 0
    dq DESC_CODE32                  ; SEL_CODE32
    dq DESC_CODE64                  ; SEL_CODE64
    dq DESC_DATA                    ; SEL_DATA
boot_gdt_end:
boot_gdt_ptr:
    dw boot_gdt_end - boot_gdt - 1
    dq boot_gdt

section .data
global boot_magic, boot_info, boot_ebda_segment
align 8
boot_magic:        dq 0
boot_info:         dq 0
boot_ebda_segment: dq 0
no_percpu:         dq 0

section .bss
global boot_pml4, boot_stack_guard, boot_stack_bottom, boot_stack_top
alignb 4096
boot_pml4:  resb 4096
boot_pdpt:  resb 4096
boot_pd:    resb IDENTITY_MAP_GIB * 4096
boot_pt0:   resb 4096
; The boot CPU's stack, with a page below it that the kernel unmaps as a guard.
boot_stack_guard:  resb 4096
boot_stack_bottom: resb 16384
boot_stack_top:
