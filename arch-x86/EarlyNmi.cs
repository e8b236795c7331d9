// NMIs that arrive before a CPU has loaded the kernel's IDT land on the entry code's early gates
// (boot/multiboot.asm for the boot CPU, boot/trampoline.asm for the APs, boot/capture_entry.asm for
// the capture kernel), which only count them and return: an NMI there can neither be handled (no
// per-CPU state, no console) nor be allowed to triple-fault. The count is reported once the
// console is up. Linux's early IDT (early_idt_handler_array, arch/x86/kernel/head_64.S) plays the
// same part during its own early boot.
using System.Threading;

static unsafe class EarlyNmi
{
    static int s_reported;

    /// <summary>NMIs counted by the early gates so far.</summary>
    public static int Count => Volatile.Read(ref *(int*)KernelLayout.Get.EarlyNmiCount);

    /// <summary>Logs the NMIs the early gates counted since the last report, saying when they came.</summary>
    public static void Report(string when)
    {
        int n = Count - s_reported;
        if (n <= 0) return;
        s_reported += n;
        Log.Warn($"NMI: {n} received {when}, before the IDT was loaded; recorded and ignored");
    }
}
