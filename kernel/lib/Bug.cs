// BUG_ON / VERIFY: an invariant the code relies on, checked loudly. In the kernel a broken one traps
// (kernel_bug in boot/cpu.s is a ud2), so the oops names the invariant and the caller and the
// machine goes the panic/kdump way with its registers; on the host (tests) it throws. Linux:
// include/asm-generic/bug.h; SerenityOS's VERIFY. Use it where a value would otherwise be dropped
// or clamped in silence.
#if KERNEL
using System.Runtime;
using System.Runtime.CompilerServices;
#endif

static unsafe class Bug
{
#if KERNEL
    [MethodImpl(MethodImplOptions.InternalCall), RuntimeImport("*", "kernel_bug")]
    static extern void KernelBug(char* invariant, int length);
#endif

    /// <summary>BUG_ON(condition): when it holds, the invariant (a sentence saying what must be true) is broken.</summary>
    public static void On(bool condition, string invariant)
    {
        if (!condition) return;
#if KERNEL
        fixed (char* p = invariant) KernelBug(p, invariant.Length);
#else
        throw new System.InvalidOperationException("kernel BUG: " + invariant);
#endif
    }
}
