// The helpers ILCompiler 10 expects to find in the core library. The kernel never allocates,
// casts or throws, so the cast and throw helpers trap loudly (rt_bug, an ud2 in boot/) instead of
// pretending to work; the P/Invoke transition hooks are no-ops because there is no GC to tell.
using System;
using System.Runtime;
using System.Runtime.CompilerServices;

namespace Internal.Runtime.CompilerHelpers
{
    /// <summary>Reasons passed in rdi to rt_bug, so the oops can say which check failed.</summary>
    public enum RuntimeBug
    {
        IndexOutOfRange = 1,
        Overflow = 2,
        FeatureBodyRemoved = 3,
        InvalidCast = 4,
        NullReference = 5,
        FailFast = 6,
        Allocation = 7,
        DivideByZero = 8,
    }

    public static class ThrowHelpers
    {
        [MethodImpl(MethodImplOptions.InternalCall)]
        [RuntimeImport("*", "rt_bug")]
        internal static extern void RtBug(int reason);

        public static void ThrowIndexOutOfRangeException() => RtBug((int)RuntimeBug.IndexOutOfRange);
        public static void ThrowOverflowException() => RtBug((int)RuntimeBug.Overflow);
        public static void ThrowFeatureBodyRemoved() => RtBug((int)RuntimeBug.FeatureBodyRemoved);
        public static void ThrowInvalidCastException() => RtBug((int)RuntimeBug.InvalidCast);
        public static void ThrowNullReferenceException() => RtBug((int)RuntimeBug.NullReference);
        public static void ThrowDivideByZeroException() => RtBug((int)RuntimeBug.DivideByZero);
        public static void ThrowArgumentException() => RtBug((int)RuntimeBug.IndexOutOfRange);
        public static void ThrowArgumentOutOfRangeException() => RtBug((int)RuntimeBug.IndexOutOfRange);
        public static void ThrowPlatformNotSupportedException() => RtBug((int)RuntimeBug.FeatureBodyRemoved);
        public static void ThrowTypeLoadException() => RtBug((int)RuntimeBug.FeatureBodyRemoved);
    }

    public static class StartupCodeHelpers
    {
        [RuntimeExport("RhpReversePInvoke")]
        static void RhpReversePInvoke(IntPtr frame) { }

        [RuntimeExport("RhpReversePInvokeReturn")]
        static void RhpReversePInvokeReturn(IntPtr frame) { }

        [RuntimeExport("RhpPInvoke")]
        static void RhpPInvoke(IntPtr frame) { }

        [RuntimeExport("RhpPInvokeReturn")]
        static void RhpPInvokeReturn(IntPtr frame) { }

        [RuntimeExport("RhpFallbackFailFast")]
        static void RhpFallbackFailFast()
        {
            while (true) ThrowHelpers.RtBug((int)RuntimeBug.FailFast);
        }
    }
}

namespace System
{
    internal static unsafe class SpanHelpers
    {
        // Byte-wise on purpose: this runs before anything else is set up and must never fault on
        // alignment; the kernel copies little enough that speed does not matter here.
        public static void Memmove(ref byte destination, ref byte source, nuint length)
        {
            byte* d = (byte*)Unsafe.AsPointer(ref destination);
            byte* s = (byte*)Unsafe.AsPointer(ref source);
            if (d == s || length == 0) return;
            if (d < s || d >= s + length)
            {
                for (nuint i = 0; i < length; i++) d[i] = s[i];
            }
            else
            {
                for (nuint i = length; i > 0; i--) d[i - 1] = s[i - 1];
            }
        }

        public static void ClearWithoutReferences(ref byte b, nuint byteLength)
        {
            byte* p = (byte*)Unsafe.AsPointer(ref b);
            for (nuint i = 0; i < byteLength; i++) p[i] = 0;
        }

        public static void Fill(ref byte destination, byte value, nuint length)
        {
            byte* p = (byte*)Unsafe.AsPointer(ref destination);
            for (nuint i = 0; i < length; i++) p[i] = value;
        }
    }

    public static class Buffer
    {
        // Without a GC there is no write barrier; a reference copy is a plain memory move.
        internal static void BulkMoveWithWriteBarrier(ref byte destination, ref byte source, nuint byteCount)
            => SpanHelpers.Memmove(ref destination, ref source, byteCount);
    }

}

namespace System.Runtime.InteropServices
{
    // The scanner asks for this interface by name even when nothing implements it.
    public interface IDynamicInterfaceCastable
    {
        RuntimeTypeHandle GetInterfaceImplementation(RuntimeTypeHandle interfaceType);
        bool IsInterfaceImplemented(RuntimeTypeHandle interfaceType, bool throwIfNotImplemented);
        static RuntimeTypeHandle GetDynamicInterfaceImplementation(object instance, RuntimeTypeHandle interfaceType) => default;
    }
}

namespace System.Runtime
{
    // Casts need type metadata walks the kernel never uses; any cast that is not resolved at
    // compile time is a kernel bug and traps.
    internal static unsafe class TypeCast
    {
        private static object Fail() { Internal.Runtime.CompilerHelpers.ThrowHelpers.RtBug((int)Internal.Runtime.CompilerHelpers.RuntimeBug.InvalidCast); return null; }

        public static object IsInstanceOfAny(void* pvTargetType, object obj) => Fail();
        public static object IsInstanceOfInterface(void* pvTargetType, object obj) => Fail();
        public static object IsInstanceOfClass(void* pvTargetType, object obj) => Fail();
        public static bool IsInstanceOfException(void* pvTargetType, object obj) { Fail(); return false; }
        public static object CheckCastAny(void* pvTargetType, object obj) => Fail();
        public static object CheckCastInterface(void* pvTargetType, object obj) => Fail();
        public static object CheckCastClass(void* pvTargetType, object obj) => Fail();
        public static object CheckCastClassSpecial(void* pvTargetType, object obj) => Fail();
    }
}
