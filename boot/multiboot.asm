; Multiboot entry: the loader leaves us in 32-bit protected mode with paging off. We load our own
; GDT and an early IDT, build an identity map, enter long mode, enable SSE and call the C# entry
; kmain(magic, info). From the first instructions on an NMI is recorded (early_nmi_count), never a
; triple fault; C# reports the count once the console is up and loads the kernel's real IDT.
; Multiboot 0.6.96 section 3.1 (header), 3.2 (machine state); SDM Vol. 3A 9.8.5 (long mode).

bits 32

MB_MAGIC        equ 0x1BADB002
MB_PAGE_ALIGN   equ 1 << 0          ; modules page-aligned
MB_MEMORY_INFO  equ 1 << 1          ; memory map wanted
MB_AOUT_KLUDGE  equ 1 << 16         ; load addresses below; QEMU refuses a 64-bit ELF without it
MB_FLAGS        equ MB_PAGE_ALIGN | MB_MEMORY_INFO | MB_AOUT_KLUDGE

%include "x86.inc"

EARLY_VECTORS   equ 32              ; exceptions only: nothing raises an interrupt this early

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
    mov [boot_magic], eax
    mov [boot_info], ebx
    ; Our own GDT first: the loader's may lie anywhere, and every gate below names our selectors.
    lgdt [boot_gdt_ptr]
    jmp SEL_CODE32:.flat
.flat:
    mov ax, SEL_DATA
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov esp, boot_stack_top
    ; Then the 32-bit IDT: its NMI gate is written first and loaded at once, the other gates after.
    mov eax, early_nmi32
    mov ecx, 2
    call set_gate32
    lidt [early_idt32_ptr]
    call build_early_idts
    ; Page 0 will be unmapped in long mode: keep the BIOS data area now (its EBDA segment at 0x40E,
    ; the serial ports the firmware found at 0x400, the video mode at 0x449; arch-x86/BiosDataArea.cs).
    movzx eax, word [0x40E]
    mov [boot_ebda_segment], eax
    mov esi, BDA_ADDRESS
    mov edi, boot_bda
    mov ecx, BDA_SIZE / 4
    rep movsd

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
    ; PG, PE, and WP: without it the kernel's own writes ignore read-only pages (SDM Vol. 3A 4.6.1),
    ; and the read-only crash region and kernel text would protect nothing.
    or eax, (1 << 31) | (1 << 16) | (1 << 0)
    mov cr0, eax
    ; IA-32e mode is active from the instruction above: gates are read as 16-byte 64-bit gates from
    ; now on, so the 64-bit IDT follows at once (compatibility mode loads its 32-bit base). The one
    ; instruction boundary between the two cannot be closed: no IDT is valid in both formats.
    lidt [early_idt64_ptr]
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

; set_gate32(eax = handler, ecx = vector): a 32-bit interrupt gate in early_idt32.
set_gate32:
    push edx
    mov edx, eax
    and eax, 0xFFFF
    or eax, SEL_CODE32 << 16
    mov [early_idt32 + ecx * 8], eax
    and edx, 0xFFFF0000
    or edx, GATE_INTERRUPT << 8
    mov [early_idt32 + ecx * 8 + 4], edx
    pop edx
    ret

; The early IDTs' other gates: every exception goes to early_fault (the machine exits with the
; failure status rather than triple-faulting in silence), the NMI to its counter. The 64-bit gates
; are written here too, in 32-bit code: the handlers lie below 4 GiB, so offset 63:32 is 0.
build_early_idts:
    xor ecx, ecx
.g32:
    mov eax, early_fault32
    cmp ecx, 2
    jne .set32
    mov eax, early_nmi32
.set32:
    call set_gate32
    inc ecx
    cmp ecx, EARLY_VECTORS
    jb .g32
    xor ecx, ecx
.g64:
    mov eax, early_fault64
    cmp ecx, 2
    jne .set64
    mov eax, early_nmi64
.set64:
    mov edx, ecx
    shl edx, 4
    mov ebx, eax
    and eax, 0xFFFF
    or eax, SEL_CODE64 << 16
    mov [early_idt64 + edx], eax
    and ebx, 0xFFFF0000
    or ebx, GATE_INTERRUPT << 8     ; IST 0: the early code runs on one known stack
    mov [early_idt64 + edx + 4], ebx
    mov dword [early_idt64 + edx + 8], 0
    mov dword [early_idt64 + edx + 12], 0
    inc ecx
    cmp ecx, EARLY_VECTORS
    jb .g64
    ret

; An NMI before the kernel's IDT (boot CPU, or an AP in the trampoline): count it and return.
; Its IRET unblocks NMIs again, which is right: nothing here is half-done.
early_nmi32:
    lock inc dword [early_nmi_count]
    iretd

; An exception before the kernel's IDT: a bug in the entry code; say so and exit with status 3.
early_fault32:
    mov esi, early_fault_text
.out32:
    mov al, [esi]
    test al, al
    jz .exit32
    mov dx, 0x3F8
    out dx, al
    inc esi
    jmp .out32
.exit32:
    mov dx, DEBUG_EXIT_PORT
    mov al, 1
    out dx, al
    cli
    hlt
    jmp .exit32

bits 64
early_nmi64:
    lock inc dword [rel early_nmi_count]
    iretq

early_fault64:
    lea rsi, [rel early_fault_text]
.out64:
    mov al, [rsi]
    test al, al
    jz .exit64
    mov dx, 0x3F8
    out dx, al
    inc rsi
    jmp .out64
.exit64:
    mov dx, DEBUG_EXIT_PORT
    mov al, 1
    out dx, al
    cli
    hlt
    jmp .exit64

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

early_fault_text: db 13, 10, "early: exception before the kernel's IDT was loaded; exiting with status 3", 13, 10, 0

section .data
global boot_magic, boot_info, boot_ebda_segment, boot_bda
global early_idt32_ptr, early_idt64_ptr, early_nmi_count
align 8
; IDT pointers as lidt reads them outside 64-bit mode: 16-bit limit, 32-bit base.
early_idt32_ptr:   dw EARLY_VECTORS * 8 - 1
                   dd early_idt32
align 8
early_idt64_ptr:   dw EARLY_VECTORS * 16 - 1
                   dd early_idt64
align 4
early_nmi_count:   dd 0
align 8
boot_magic:        dq 0
boot_info:         dq 0
boot_ebda_segment: dq 0
no_percpu:         dq 0
boot_bda:          times BDA_SIZE db 0

section .bss
global boot_pml4, boot_stack_guard, boot_stack_bottom, boot_stack_top
alignb 16
early_idt32: resb EARLY_VECTORS * 8
early_idt64: resb EARLY_VECTORS * 16
alignb 4096
boot_pml4:  resb 4096
boot_pdpt:  resb 4096
boot_pd:    resb IDENTITY_MAP_GIB * 4096
boot_pt0:   resb 4096
; The boot CPU's stack, with a page below it that the kernel unmaps as a guard.
boot_stack_guard:  resb 4096
boot_stack_bottom: resb 16384
boot_stack_top:
