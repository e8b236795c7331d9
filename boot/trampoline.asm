; The AP start-up trampoline. SmpBoot.cs copies [trampoline_start, trampoline_end) to a free page
; below 1 MiB and sends INIT-SIPI-SIPI with that page as the vector: the AP starts here in real
; mode at CS = page >> 4, IP = 0 (SDM Vol. 3A 9.4.4, 10.6.1 "Startup IPI"). It enters protected
; mode, then long mode on the kernel's own page tables, and jumps to ap_entry64 in the kernel. As
; on the boot CPU, its GDT comes first, then the kernel's early 32-bit IDT (an NMI is counted, not
; a triple fault), then the early 64-bit IDT with only the switch to long mode in between.
; It writes nothing: SmpBoot.cs patches the GDT base, the far pointers, CR3 and the entry point
; into the copy before any AP starts, so many APs can run it at once (parallel bring-up).
%include "layout.inc"
%include "x86.inc"

extern ap_main, stack_bottom_call

%define OFF(label) (label - trampoline_start)

section .rodata
align 4096
global trampoline_start, trampoline_end
global tr_gdtr_base, tr_far32, tr_far64, tr_cr3, tr_entry, tr_gdt, tr_pm32, tr_lm64, tr_idt32, tr_idt64

bits 16
trampoline_start:
    cli
    cld
    mov ax, cs
    mov ds, ax
    xor ebx, ebx
    mov bx, ax
    shl ebx, 4                          ; ebx = physical base of this page, kept to the end
    lgdt [OFF(tr_gdtr)]
    mov eax, cr0
    and eax, ~((1 << 30) | (1 << 29))   ; CD, NW: an AP comes out of INIT with caching disabled
    or eax, 1                           ; PE
    ; The 32-bit IDT right before the switch to protected mode: an NMI in between would find no
    ; real-mode vector table, one after it no protected-mode IDT; o32 loads the 32-bit base.
    o32 lidt [OFF(tr_idt32)]
    mov cr0, eax
    jmp dword far [OFF(tr_far32)]

bits 32
tr_pm32:
    mov ax, SEL_DATA
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov eax, cr4
    or eax, 1 << 5                      ; PAE
    mov cr4, eax
    mov eax, [ebx + OFF(tr_cr3)]
    mov cr3, eax
    mov ecx, 0xC0000080                 ; EFER: LME, NXE
    rdmsr
    or eax, (1 << 8) | (1 << 11)
    wrmsr
    mov eax, cr0
    or eax, (1 << 31) | (1 << 16) | 1   ; PG, WP (read-only pages hold for the kernel too), PE
    mov cr0, eax
    ; IA-32e mode from here: the 64-bit IDT at once (boot/multiboot.asm says why this order).
    lidt [ebx + OFF(tr_idt64)]
    jmp far [ebx + OFF(tr_far64)]

bits 64
tr_lm64:
    mov ax, SEL_DATA
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov ebx, ebx                        ; upper halves are undefined after the mode switch
    mov rax, [rbx + OFF(tr_entry)]
    jmp rax

align 8
tr_gdt:
    dq 0
    dq DESC_CODE32                      ; SEL_CODE32 (x86.inc: every GDT the kernel loads)
    dq DESC_CODE64                      ; SEL_CODE64
    dq DESC_DATA                        ; SEL_DATA
tr_gdtr:
    dw 4 * 8 - 1
tr_gdtr_base:
    dd 0                                ; patched: page + OFF(tr_gdt)
align 4
tr_far32:
    dd 0                                ; patched: page + OFF(tr_pm32)
    dw SEL_CODE32
align 4
tr_far64:
    dd 0                                ; patched: page + OFF(tr_lm64)
    dw SEL_CODE64
align 8
tr_idt32:
    dw 0                                ; patched: the kernel's early_idt32_ptr (limit, 32-bit base)
    dd 0
align 8
tr_idt64:
    dw 0                                ; patched: the kernel's early_idt64_ptr
    dd 0
align 8
tr_cr3:
    dq 0                                ; patched: the kernel's PML4
tr_entry:
    dq 0                                ; patched: ap_entry64
trampoline_end:

; Long mode, on the trampoline's GDT, no stack yet. Find this CPU's slot by its APIC ID in the
; table SmpBoot.cs filled before the SIPIs, then take that slot's stack and per-CPU pointer. The ID
; is the 32-bit x2APIC ID of CPUID leaf 0xB (EDX) where that leaf exists (SDM Vol. 3A 11.12.8: IDs
; above 255 exist only there), else the 8-bit initial APIC ID of CPUID.1:EBX[31:24]; for IDs below
; 256 the two are the same. An AP not in the table halts for good.
section .text
global ap_entry64
ap_entry64:
    xor eax, eax
    cpuid
    cmp eax, 0xB
    jb .initial_id
    mov eax, 0xB
    xor ecx, ecx
    cpuid
    test ebx, ebx                       ; leaf 0xB present: some logical processor at this level
    jz .initial_id
    mov ebx, edx
    jmp .have_id
.initial_id:
    mov eax, 1
    cpuid
    shr ebx, 24
.have_id:
    lea rsi, [rel smp_ap_apic_ids]
    xor ecx, ecx
.find:
    cmp ecx, MAX_CPUS
    jae .unknown
    cmp [rsi + rcx * 4], ebx
    je .found
    inc ecx
    jmp .find
.found:
    lea rsi, [rel smp_ap_stack_tops]
    mov rsp, [rsi + rcx * 8]
    lea rsi, [rel smp_ap_percpu]
    mov rax, [rsi + rcx * 8]
    mov edx, eax
    shr rax, 32
    xchg rax, rdx                       ; edx:eax = per-CPU pointer
    mov r12d, ecx
    mov ecx, 0xC0000101                 ; GS base
    wrmsr
    mov edi, r12d
    lea rdx, [rel ap_main]
    jmp stack_bottom_call               ; boot/cpu.s: SSE on, ap_main(cpu); CFI ends backtraces there
.unknown:
    cli
    hlt
    jmp .unknown

section .data
global smp_ap_apic_ids, smp_ap_stack_tops, smp_ap_percpu
align 8
smp_ap_apic_ids:   times MAX_CPUS dd 0xFFFFFFFF
smp_ap_stack_tops: times MAX_CPUS dq 0
smp_ap_percpu:     times MAX_CPUS dq 0
