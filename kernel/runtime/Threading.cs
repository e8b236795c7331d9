// Atomics. The JIT inside ILCompiler expands these [Intrinsic] methods of the system module into
// locked instructions (lock cmpxchg, xchg, lock xadd); the self-calls are never executed, they
// are the shape the real core library uses too. Volatile gives ordered plain loads and stores.
using System.Runtime.CompilerServices;

namespace System.Threading
{
    public static class Interlocked
    {
        [Intrinsic] public static int CompareExchange(ref int location1, int value, int comparand) => CompareExchange(ref location1, value, comparand);
        [Intrinsic] public static long CompareExchange(ref long location1, long value, long comparand) => CompareExchange(ref location1, value, comparand);
        public static uint CompareExchange(ref uint location1, uint value, uint comparand)
            => (uint)CompareExchange(ref Unsafe.As<uint, int>(ref location1), (int)value, (int)comparand);
        public static ulong CompareExchange(ref ulong location1, ulong value, ulong comparand)
            => (ulong)CompareExchange(ref Unsafe.As<ulong, long>(ref location1), (long)value, (long)comparand);

        [Intrinsic] public static int Exchange(ref int location1, int value) => Exchange(ref location1, value);
        [Intrinsic] public static long Exchange(ref long location1, long value) => Exchange(ref location1, value);

        [Intrinsic] public static int ExchangeAdd(ref int location1, int value) => ExchangeAdd(ref location1, value);
        [Intrinsic] public static long ExchangeAdd(ref long location1, long value) => ExchangeAdd(ref location1, value);

        public static int Add(ref int location1, int value) => ExchangeAdd(ref location1, value) + value;
        public static long Add(ref long location1, long value) => ExchangeAdd(ref location1, value) + value;
        public static int Increment(ref int location) => Add(ref location, 1);
        public static int Decrement(ref int location) => Add(ref location, -1);
        public static long Increment(ref long location) => Add(ref location, 1);
        public static long Decrement(ref long location) => Add(ref location, -1);

        [Intrinsic] public static void MemoryBarrier() => MemoryBarrier();
    }

    public static class Volatile
    {
        private struct VolatileInt { public volatile int Value; }
        private struct VolatileLong { public long Value; }
        private struct VolatileBool { public volatile bool Value; }

        public static int Read(ref readonly int location) => Unsafe.As<int, VolatileInt>(ref Unsafe.AsRef(in location)).Value;
        public static void Write(ref int location, int value) => Unsafe.As<int, VolatileInt>(ref location).Value = value;
        public static uint Read(ref readonly uint location) => (uint)Unsafe.As<uint, VolatileInt>(ref Unsafe.AsRef(in location)).Value;
        public static void Write(ref uint location, uint value) => Unsafe.As<uint, VolatileInt>(ref location).Value = (int)value;
        public static bool Read(ref readonly bool location) => Unsafe.As<bool, VolatileBool>(ref Unsafe.AsRef(in location)).Value;
        public static void Write(ref bool location, bool value) => Unsafe.As<bool, VolatileBool>(ref location).Value = value;

        // On x86-64 aligned 8-byte loads and stores are atomic; the barrier keeps the compiler
        // from reordering or caching them.
        public static long Read(ref readonly long location)
        {
            long v = Unsafe.As<long, VolatileLong>(ref Unsafe.AsRef(in location)).Value;
            Interlocked.MemoryBarrier();
            return v;
        }
        public static void Write(ref long location, long value)
        {
            Interlocked.MemoryBarrier();
            Unsafe.As<long, VolatileLong>(ref location).Value = value;
        }
        public static ulong Read(ref readonly ulong location) => (ulong)Read(in Unsafe.As<ulong, long>(ref Unsafe.AsRef(in location)));
        public static void Write(ref ulong location, ulong value) => Write(ref Unsafe.As<ulong, long>(ref location), (long)value);
    }
}
