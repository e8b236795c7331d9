// System.String as ILCompiler lays it out: length, then UTF-16 chars. Literals are frozen into
// the image by the compiler, so the kernel reads them without any runtime set-up.
namespace System
{
    public sealed class String
    {
        // The layout (length first, then the characters) is what the compiler emits for literals.
        private readonly int _stringLength;
        private char _firstChar;

#pragma warning disable CS0649
        // The compiler treats this as the empty literal; never assigned at run time.
        [System.Runtime.CompilerServices.Intrinsic]
        public static readonly string Empty;
#pragma warning restore CS0649

        public int Length => _stringLength;

        [System.Runtime.CompilerServices.IndexerName("Chars")]
        public unsafe char this[int index]
        {
            get
            {
                if ((uint)index >= (uint)_stringLength)
                    Internal.Runtime.CompilerHelpers.ThrowHelpers.ThrowIndexOutOfRangeException();
                fixed (char* p = &_firstChar) return p[index];
            }
        }

        public ref readonly char GetPinnableReference() => ref _firstChar;

        public static unsafe implicit operator ReadOnlySpan<char>(string value)
        {
            if ((object)value == null) return default;
            return new ReadOnlySpan<char>(ref value._firstChar, value._stringLength);
        }

        public static bool operator ==(string a, string b) => Equals(a, b);
        public static bool operator !=(string a, string b) => !Equals(a, b);

        public static unsafe bool Equals(string a, string b)
        {
            if ((object)a == (object)b) return true;
            if ((object)a == null || (object)b == null || a._stringLength != b._stringLength) return false;
            for (int i = 0; i < a._stringLength; i++)
                if (a[i] != b[i]) return false;
            return true;
        }

        public override bool Equals(object o) => o is string s && Equals(this, s);
        public override int GetHashCode() => _stringLength;
        public override string ToString() => this;
    }
}
