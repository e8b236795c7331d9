# CPU primitives C# imports by name ([RuntimeImport]); System V calling convention: arguments in
# rdi, rsi, rdx, rcx. Each routine does one instruction's worth of work and no policy.
# GNU as (Intel syntax), not NASM, so that every routine carries DWARF CFI in .eh_frame: any of
# them can be where a CPU stopped (cpu_idle, pause, the crashtest faults), and drgn, which has no
# prologue analyser, unwinds only through code that has an FDE. FUNC opens an FDE whose initial
# rule is the x86-64 default (CFA = rsp + 8, return address at CFA - 8), right for every leaf that
# leaves rsp alone; routines that push say so with .cfi_adjust_cfa_offset. .type/.size give each
# symbol its size (kallsyms, gdb and drgn print +off/size from it).
        .intel_syntax noprefix
        .text
        .p2align 4

        .macro FUNC name
        .globl \name
        .type \name, @function
\name:
        .cfi_startproc
        .endm
        .macro ENDF name
        .cfi_endproc
        .size \name, . - \name
        .endm

FUNC outb
        mov dx, di
        mov al, sil
        out dx, al
        ret
ENDF outb
FUNC outw
        mov dx, di
        mov ax, si
        out dx, ax
        ret
ENDF outw
FUNC outl
        mov dx, di
        mov eax, esi
        out dx, eax
        ret
ENDF outl
FUNC inb
        mov dx, di
        xor eax, eax
        in al, dx
        ret
ENDF inb
FUNC inw
        mov dx, di
        xor eax, eax
        in ax, dx
        ret
ENDF inw
FUNC inl
        mov dx, di
        in eax, dx
        ret
ENDF inl
# rep outsb: rdi = port, rsi = source, rdx = count
FUNC outsb
        push rsi
        .cfi_adjust_cfa_offset 8
        mov rcx, rdx
        mov dx, di
        rep outsb
        pop rsi
        .cfi_adjust_cfa_offset -8
        ret
ENDF outsb

FUNC rdmsr
        mov ecx, edi
        rdmsr
        shl rdx, 32
        or rax, rdx
        ret
ENDF rdmsr
FUNC wrmsr
        mov ecx, edi
        mov rax, rsi
        mov rdx, rsi
        shr rdx, 32
        wrmsr
        ret
ENDF wrmsr

FUNC read_cr0
        mov rax, cr0
        ret
ENDF read_cr0
FUNC read_cr2
        mov rax, cr2
        ret
ENDF read_cr2
FUNC read_cr3
        mov rax, cr3
        ret
ENDF read_cr3
FUNC write_cr3
        mov cr3, rdi
        ret
ENDF write_cr3
FUNC read_cr4
        mov rax, cr4
        ret
ENDF read_cr4
FUNC read_rflags
        pushfq
        .cfi_adjust_cfa_offset 8
        pop rax
        .cfi_adjust_cfa_offset -8
        ret
ENDF read_rflags
FUNC invlpg
        invlpg [rdi]
        ret
ENDF invlpg

# cpuid(leaf, subleaf, uint* out4)
FUNC cpuid
        push rbx
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset rbx, 0
        mov eax, edi
        mov ecx, esi
        mov r8, rdx
        cpuid
        mov [r8], eax
        mov [r8 + 4], ebx
        mov [r8 + 8], ecx
        mov [r8 + 12], edx
        pop rbx
        .cfi_adjust_cfa_offset -8
        .cfi_restore rbx
        ret
ENDF cpuid

FUNC rdtsc
        rdtsc
        shl rdx, 32
        or rax, rdx
        ret
ENDF rdtsc

FUNC cli
        cli
        ret
ENDF cli
FUNC sti
        sti
        ret
ENDF sti
FUNC hlt
        hlt
        ret
ENDF hlt
FUNC sti_hlt
        sti
        hlt
        ret
ENDF sti_hlt
FUNC pause
        pause
        ret
ENDF pause
# Interrupts off and halt, for good: NMIs still arrive and return here.
FUNC halt_forever
        cli
.Lhalt_again:
        hlt
        jmp .Lhalt_again
ENDF halt_forever

FUNC lgdt
        lgdt [rdi]
        ret
ENDF lgdt
FUNC lidt
        lidt [rdi]
        ret
ENDF lidt
FUNC ltr
        ltr di
        ret
ENDF ltr
FUNC write_gs_base
        mov ecx, 0xC0000101
        mov eax, edi
        mov rdx, rdi
        shr rdx, 32
        wrmsr
        ret
ENDF write_gs_base
FUNC read_gs_base
        mov ecx, 0xC0000101
        rdmsr
        shl rdx, 32
        or rax, rdx
        ret
ENDF read_gs_base

# Reload CS with selector rdi and the data segments with rsi, after a new GDT is loaded.
FUNC reload_segments
        mov ax, si
        mov ds, ax
        mov es, ax
        mov ss, ax
        push rdi
        .cfi_adjust_cfa_offset 8
        lea rax, [rip + .Lreloaded]
        push rax
        .cfi_adjust_cfa_offset 8
        rex.w retf                      # NASM's retfq: pops RIP and CS
.Lreloaded:
        .cfi_adjust_cfa_offset -16
        ret
ENDF reload_segments

FUNC read_rsp
        lea rax, [rsp + 8]
        ret
ENDF read_rsp
FUNC read_rbp
        mov rax, rbp
        ret
ENDF read_rbp

# Runtime checks that failed in managed code (bounds, casts): trap so the oops names the caller.
# rdi holds the reason (Internal.Runtime.CompilerHelpers.RuntimeBug).
FUNC rt_bug
        ud2
        jmp rt_bug
ENDF rt_bug

# BUG_ON (kernel/lib/Bug.cs): rdi = the invariant's UTF-16 text, rsi = its length in chars.
FUNC kernel_bug
        ud2
        jmp kernel_bug
ENDF kernel_bug

# Crash triggers (kernel/debug/Crashtest.cs): they fault on purpose, at a named place.
FUNC crashtest_ud2
        ud2
        ret
ENDF crashtest_ud2
FUNC crashtest_null_write
        mov qword ptr ds:0, 0x1234
        ret
ENDF crashtest_null_write
# Load a non-canonical address: #GP.
FUNC crashtest_gp
        movabs rax, 0x8000000000000000
        mov rax, [rax]
        ret
ENDF crashtest_gp

# Memory helpers the compiler may call for large block copies and clears.
FUNC memset
        mov r9, rdi
        mov al, sil
        mov rcx, rdx
        rep stosb
        mov rax, r9
        ret
ENDF memset
FUNC memcpy
        mov rax, rdi
        mov rcx, rdx
        rep movsb
        ret
ENDF memcpy
FUNC memmove
        mov rax, rdi
        mov rcx, rdx
        cmp rdi, rsi
        jbe .Lforward
        lea r8, [rsi + rdx]
        cmp rdi, r8
        jae .Lforward
        lea rsi, [rsi + rdx - 1]
        lea rdi, [rdi + rdx - 1]
        std
        rep movsb
        cld
        ret
.Lforward:
        rep movsb
        ret
ENDF memmove

# RhpStackProbe: ILCompiler's probe for frames over a page. r11 holds the lowest address of the
# new frame; touch each page from the current one down to it, preserving every register.
FUNC RhpStackProbe
        push rax
        .cfi_adjust_cfa_offset 8
        mov rax, rsp
.Lprobe:
        sub rax, 4096
        cmp rax, r11
        jb .Ldone
        test byte ptr [rax], al
        jmp .Lprobe
.Ldone:
        test byte ptr [r11], al
        pop rax
        .cfi_adjust_cfa_offset -8
        ret
ENDF RhpStackProbe

# SSE must be on before the first managed instruction on every CPU: compiled prologues use xmm.
# SDM Vol. 3A 13.1.3: CR0.EM = 0, CR0.MP = 1, CR4.OSFXSR and CR4.OSXMMEXCPT set.
FUNC enable_sse
        mov rax, cr0
        and rax, ~(1 << 2)
        or rax, (1 << 1)
        mov cr0, rax
        mov rax, cr4
        or rax, (1 << 9) | (1 << 10)
        mov cr4, rax
        ret
ENDF enable_sse

        .data
        .globl __security_cookie
        .p2align 3
__security_cookie: .quad 0x2B992DDFA232A5E1

        .text
# The calling CPU's PerCpu pointer (arch-x86/PerCpu.cs): its first field points at itself. Until
# per-CPU set-up, GS points at a zero quadword (multiboot.asm), which reads as null.
FUNC this_cpu_ptr
        mov rax, qword ptr gs:0
        ret
ENDF this_cpu_ptr

# The idle loop every CPU ends in: r12 carries 0xC0DE0000 + the CPU number (edi) so a register
# dump can prove whose registers it shows; sti;hlt, never a spin (a spinning vCPU starves others
# under TCG). Only IPIs and NMIs wake it. No stack use: the default CFI rule holds at every
# instruction, so an unwinder goes from here to the caller (Idle.Loop, inlined into ap_main/kmain).
FUNC cpu_idle
        mov r12d, 0xC0DE0000            # 32-bit operations zero-extend: r12 = 0x00000000C0DE00nn
        add r12d, edi
.Lidle_again:
        sti
        hlt
        jmp .Lidle_again
ENDF cpu_idle

# capture_registers(TrapFrame* out): the caller's registers as a TrapFrame (arch-x86/TrapFrame.cs),
# for a panic that has no interrupted frame (Linux: crash_setup_regs). RIP is the return address,
# RSP the caller's stack pointer after the return; vector and error code are left zero.
FUNC capture_registers
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
        mov qword ptr [rdi + 15*8], 0
        mov qword ptr [rdi + 16*8], 0
        mov rax, [rsp]
        mov [rdi + 17*8], rax           # rip: where capture_registers returns to
        mov ax, cs
        movzx eax, ax
        mov [rdi + 18*8], rax
        pushfq
        .cfi_adjust_cfa_offset 8
        pop rax
        .cfi_adjust_cfa_offset -8
        mov [rdi + 19*8], rax
        lea rax, [rsp + 8]
        mov [rdi + 20*8], rax           # rsp as the caller sees it after the call
        mov ax, ss
        movzx eax, ax
        mov [rdi + 21*8], rax
        mov rax, [rdi + 14*8]
        ret
ENDF capture_registers

# copy_qwords(dst, src, count): rep movsq, the fastest copy under TCG (one helper call for the lot).
FUNC copy_qwords
        mov rcx, rdx
        rep movsq
        ret
ENDF copy_qwords

# stack_bottom_call(arg0, arg1, entry): the first frame of every CPU's stack. The boot CPU's
# long_mode_entry (boot/multiboot.asm, entry = kmain) and the APs' ap_entry64 (boot/trampoline.asm,
# entry = ap_main) jump here once their stack and GS base are set: SSE on (enable_sse touches rax
# only), then entry(arg0, arg1), which never returns. The CFI marks every register undefined, so
# an unwinder ends the backtrace here instead of reading a "return address" above the stack top
# (gdb printed "0x0 in ??", drgn a junk frame from the real-mode IVT). drgn 0.0.22 stops only when
# no register at all can be recovered, hence the callee-saved ones too, not just rip.
        .globl stack_bottom_call
        .type stack_bottom_call, @function
stack_bottom_call:
        .cfi_startproc simple
        .cfi_def_cfa rsp, 0
        .cfi_undefined rip
        .cfi_undefined rsp
        .cfi_undefined rbp
        .cfi_undefined rbx
        .cfi_undefined r12
        .cfi_undefined r13
        .cfi_undefined r14
        .cfi_undefined r15
        call enable_sse
        call rdx
.Lbottom_hang:
        cli
        hlt
        jmp .Lbottom_hang
        .cfi_endproc
        .size stack_bottom_call, . - stack_bottom_call

        .section .note.GNU-stack, "", @progbits
