; Addresses the linker decides, handed to C# in one table (arch-x86/KernelLayout.cs mirrors its
; order), and the large static areas that want page alignment: per-CPU stack sets with guard
; pages, and a pool of page-table pages for arch-x86/Paging.cs. Assembled twice: the capture image's
; copy (-DCAPTURE_IMAGE) holds one stack set, not one per possible CPU.
bits 64

%include "layout.inc"

extern __image_start, __image_end, __text_start, __text_end, __kallsyms_start, __kallsyms_end
extern __build_id_note, __build_id_note_end, __bss_start, __bss_end, __eh_frame_start, __eh_frame_end, __ro_end
extern boot_stack_guard, boot_stack_bottom, boot_stack_top, isr_stub_table, boot_pml4
extern boot_magic, boot_info, boot_ebda_segment
extern rt_bug, kernel_bug, cpu_idle, __image_link_start, relocate_kernel, relocate_kernel_end
extern trampoline_start, trampoline_end, tr_gdtr_base, tr_far32, tr_far64, tr_cr3, tr_entry, tr_gdt, tr_pm32, tr_lm64
extern ap_entry64, smp_ap_apic_ids, smp_ap_stack_tops, smp_ap_percpu
extern tr_idt32, tr_idt64, early_idt32_ptr, early_idt64_ptr, early_nmi_count, boot_bda

section .rodata
align 8
global kernel_layout
kernel_layout:
    dq __image_start, __image_end
    dq __text_start, __text_end
    dq __kallsyms_start, __kallsyms_end
    dq __build_id_note, __build_id_note_end
    dq __bss_start, __bss_end
    dq percpu_stacks, percpu_stacks_end
    dq boot_stack_guard, boot_stack_bottom, boot_stack_top
    dq isr_stub_table
    dq boot_pml4
    dq page_table_pool, page_table_pool_end
    dq boot_magic, boot_info, boot_ebda_segment
    dq rt_bug, kernel_bug, cpu_idle
    dq trampoline_start, trampoline_end
    dq tr_gdtr_base, tr_far32, tr_far64, tr_cr3, tr_entry, tr_gdt, tr_pm32, tr_lm64
    dq ap_entry64, smp_ap_apic_ids, smp_ap_stack_tops, smp_ap_percpu
    dq __image_link_start
    dq relocate_kernel, relocate_kernel_end
    dq __eh_frame_start, __eh_frame_end
    dq tr_idt32, tr_idt64, early_idt32_ptr, early_idt64_ptr, early_nmi_count
    dq boot_bda
    dq __ro_end

section .text
global get_kernel_layout
get_kernel_layout:
    lea rax, [rel kernel_layout]
    ret

section .bss
alignb 4096
global percpu_stacks
percpu_stacks:     resb STACK_SETS * STACK_SET_SIZE
percpu_stacks_end:
page_table_pool:   resb PAGE_TABLE_POOL_PAGES * 4096
page_table_pool_end:
