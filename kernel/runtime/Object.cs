// The root types every object and value shares. Their field layout is a contract with ILCompiler:
// an object starts with its MethodTable pointer, a string with its length then its first char.
namespace System
{
    public unsafe class Object
    {
#pragma warning disable 0169
        // The compiler lays every object out behind this pointer to its type's MethodTable.
        private IntPtr m_pMethodTable;
#pragma warning restore 0169

        public Object() { }
        ~Object() { }

        public virtual bool Equals(object o) => (object)this == o;
        public virtual int GetHashCode() => 0;
        public virtual string ToString() => null;
    }

    public abstract class ValueType { }
    public abstract class Enum : ValueType { }

    public struct Void { }
    public struct Boolean { }
    public struct Char { }
    public struct SByte { public const sbyte MinValue = -128; public const sbyte MaxValue = 127; }
    public struct Byte { public const byte MinValue = 0; public const byte MaxValue = 255; }
    public struct Int16 { public const short MinValue = -32768; public const short MaxValue = 32767; }
    public struct UInt16 { public const ushort MinValue = 0; public const ushort MaxValue = 65535; }
    public struct Int32 { public const int MinValue = -2147483648; public const int MaxValue = 2147483647; }
    public struct UInt32 { public const uint MinValue = 0; public const uint MaxValue = 4294967295; }
    public struct Int64 { public const long MinValue = -9223372036854775808; public const long MaxValue = 9223372036854775807; }
    public struct UInt64 { public const ulong MinValue = 0; public const ulong MaxValue = 18446744073709551615; }
    public struct Single { }
    public struct Double { }

    public unsafe struct IntPtr
    {
        private void* _value;
        public IntPtr(void* value) { _value = value; }
        public IntPtr(long value) { _value = (void*)value; }
        public static readonly IntPtr Zero;
        public static explicit operator IntPtr(long value) => new IntPtr(value);
        public static explicit operator IntPtr(void* value) => new IntPtr(value);
        public static explicit operator void*(IntPtr value) => value._value;
        public static explicit operator long(IntPtr value) => (long)value._value;
    }

    public unsafe struct UIntPtr
    {
        private void* _value;
        public UIntPtr(void* value) { _value = value; }
        public UIntPtr(ulong value) { _value = (void*)value; }
        public static explicit operator UIntPtr(ulong value) => new UIntPtr(value);
        public static explicit operator void*(UIntPtr value) => value._value;
        public static explicit operator ulong(UIntPtr value) => (ulong)value._value;
    }

    public struct Nullable<T> where T : struct
    {
        private readonly bool hasValue;
        private T value;
        public Nullable(T value) { this.value = value; hasValue = true; }
        public readonly bool HasValue => hasValue;
        public readonly T Value => value;
        public readonly T GetValueOrDefault() => value;
        public static implicit operator Nullable<T>(T value) => new Nullable<T>(value);
        public static explicit operator T(Nullable<T> value) => value.value;
    }

    public struct RuntimeTypeHandle { private IntPtr _value; }
    public struct RuntimeMethodHandle { private IntPtr _value; }
    public struct RuntimeFieldHandle { private IntPtr _value; }

    public abstract class Type { }
    // ILCompiler asks for it when code compares object references (string == string, x == null).
    internal sealed class RuntimeType : Type { }
    public abstract class Delegate { }
    public abstract class MulticastDelegate : Delegate { }

    public class Exception
    {
        public Exception() { }
        public Exception(string message) { }
    }
    public class SystemException : Exception { }
    public sealed class IndexOutOfRangeException : SystemException { }
    public sealed class OverflowException : SystemException { }
    public sealed class InvalidCastException : SystemException { }
    public sealed class NullReferenceException : SystemException { }
    public class ArgumentException : SystemException { }
    public sealed class ArgumentOutOfRangeException : ArgumentException { }

    public interface IDisposable { void Dispose(); }
}
