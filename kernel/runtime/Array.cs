// Arrays as ILCompiler lays them out: element count (padded to 8 bytes on x64), then elements.
// The kernel allocates none; the types exist because the compiler's metadata model needs them.
namespace System
{
    public abstract class Array
    {
        // Layout contract with the compiler: count, then padding to pointer size.
        private int _numComponents;
        private int _padding;

        public int Length => _numComponents;
    }

    // The compiler's generic base for T[].
    public class Array<T> : Array { }
}
