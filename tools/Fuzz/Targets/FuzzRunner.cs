// Runs a target for N inputs: three in four are seeds after one to six mutations (bit flips,
// interesting values in 1/2/4/8-byte fields, cut, insert, delete, splice with another seed), most
// of them in the format's headers; one in four is generated fresh. CsCheck draws them (so a failure
// shrinks to a small input and prints a seed that replays it), threads on every core. A watchdog
// stops the process when one input runs longer than the hang bound, naming the input.
using System.Diagnostics;
using CsCheck;

namespace Nmidump.Fuzz;

public sealed record FuzzResult(string Target, long Inputs, long Accepted, long Rejected, TimeSpan Took, string? Failure);

public static class FuzzRunner
{
    /// <summary>One input taking longer than this is a hang.</summary>
    public static readonly TimeSpan HangBound = TimeSpan.FromSeconds(5);

    static readonly ulong[] Interesting = [0, 1, 2, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF, 0x1_0000, 0x7FFF_FFFF, 0x8000_0000,
        0xFFFF_FFFF, 0x1_0000_0000, 0x7FFF_FFFF_FFFF_FFFF, 0x8000_0000_0000_0000, ulong.MaxValue, ulong.MaxValue - 7, 4096, 0x40, 0x38, 24, 12];

    /// <summary>One mutation: its kind, where (a fraction of the input, or of the hot prefix), and a value.</summary>
    public readonly record struct Mutation(byte Kind, uint Where, ulong Value);

    public static Gen<byte[]> Inputs(FuzzTarget t)
    {
        var mutation = Gen.Select(Gen.Byte, Gen.UInt, Gen.ULong, (k, w, v) => new Mutation(k, w, v));
        var mutated = Gen.Select(Gen.Int[0, t.Seeds.Count - 1], mutation.Array[1, 6], (s, m) => Mutate(t, t.Seeds[s], m));
        return Gen.Frequency((3, mutated), (1, t.Generated));
    }

    public static byte[] Mutate(FuzzTarget t, byte[] seed, Mutation[] mutations)
    {
        var b = new List<byte>(seed);
        foreach (var m in mutations)
        {
            // Half the mutations land in the hot prefix (headers), the rest anywhere.
            int span = (m.Kind & 0x80) != 0 ? Math.Min(b.Count, t.HotPrefix) : b.Count;
            int at = span == 0 ? 0 : (int)(m.Where % (uint)span);
            switch ((m.Kind & 0x7F) % 9)
            {
                case 0:
                    if (b.Count > 0) b[at] ^= (byte)(1 << (int)(m.Value & 7));
                    break;
                case 1:
                    if (b.Count > 0) b[at] = (byte)Interesting[m.Value % (ulong)Interesting.Length];
                    break;
                case 2:
                case 3:
                {
                    // A little-endian field of 2, 4 or 8 bytes, aligned as ELF's are.
                    int width = 2 << (int)(m.Value % 3);
                    at &= ~(width - 1);
                    ulong v = Interesting[(m.Value >> 8) % (ulong)Interesting.Length];
                    if ((m.Value & 0x8000) != 0) v = unchecked(v + (ulong)(sbyte)(m.Value >> 16));
                    for (int i = 0; i < width && at + i < b.Count; i++) b[at + i] = (byte)(v >> (8 * i));
                    break;
                }
                case 4:
                    if (b.Count > 0) b.RemoveRange(at, b.Count - at);
                    break;
                case 5:
                {
                    int n = 1 + (int)(m.Value % 64);
                    b.InsertRange(at, Enumerable.Range(0, n).Select(i => (byte)(m.Value >> (i % 8 * 8))));
                    break;
                }
                case 6:
                    if (b.Count > 0) b.RemoveRange(at, Math.Min(b.Count - at, 1 + (int)(m.Value % 256)));
                    break;
                case 7:
                {
                    var other = t.Seeds[(int)(m.Value % (ulong)t.Seeds.Count)];
                    if (other.Length == 0) break;
                    int from = (int)((m.Value >> 16) % (ulong)other.Length), n = Math.Min(other.Length - from, 1 + (int)((m.Value >> 40) % 512));
                    for (int i = 0; i < n; i++) { if (at + i < b.Count) b[at + i] = other[from + i]; else b.Add(other[from + i]); }
                    break;
                }
                default:
                    if (b.Count > 0) b[at] = (byte)m.Value;
                    break;
            }
        }
        return b.ToArray();
    }

    /// <summary>
    /// Runs <paramref name="iterations"/> inputs through the target. A failure (an exception out of
    /// the code under test, an unclear message) comes back as <see cref="FuzzResult.Failure"/> with
    /// CsCheck's shrunk input and its seed; a hang ends the process (status 3) after printing the input.
    /// </summary>
    public static FuzzResult Run(FuzzTarget t, long iterations, string? seed = null, int threads = -1, Action<string>? progress = null)
    {
        long accepted = 0, rejected = 0, done = 0;
        var clock = Stopwatch.StartNew();
        var running = new System.Collections.Concurrent.ConcurrentDictionary<int, (long Started, byte[] Input)>();
        using var watchdog = new Timer(_ =>
        {
            long now = clock.ElapsedTicks;
            foreach (var (thread, (started, input)) in running)
            {
                if (now - started <= HangBound.TotalSeconds * Stopwatch.Frequency) continue;
                Console.Error.WriteLine($"fuzz {t.Name}: an input ran past {HangBound.TotalSeconds:F0} s (a hang): {Hex(input)}");
                Environment.Exit(3);
            }
            progress?.Invoke($"fuzz {t.Name}: {Interlocked.Read(ref done):N0} inputs in {clock.Elapsed.TotalSeconds:F0} s");
        }, null, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(10));
        string? failure = null;
        try
        {
            Inputs(t).Sample(input =>
            {
                int me = Environment.CurrentManagedThreadId;
                running[me] = (clock.ElapsedTicks, input);
                FuzzOutcome o;
                try { o = t.Check(input); }
                finally { running.TryRemove(me, out _); }
                if (o.Accepted) Interlocked.Increment(ref accepted);
                else
                {
                    FuzzTarget.AssertClear(o.Message, Hex(input));
                    Interlocked.Increment(ref rejected);
                }
                Interlocked.Increment(ref done);
            }, seed: seed, iter: iterations, threads: threads, print: Hex);
        }
        catch (Exception e)
        {
            // CsCheck's message has the seed and the shrunk input; the cause is its inner exception.
            failure = e.InnerException is Exception cause ? $"{cause.GetType().Name}: {cause.Message} ({e.Message.ReplaceLineEndings(" ")})" : e.Message;
        }
        return new FuzzResult(t.Name, done, accepted, rejected, clock.Elapsed, failure);
    }

    /// <summary>An input as hex, cut to its first 512 bytes (CsCheck prints the shrunk one in full).</summary>
    public static string Hex(byte[] input) =>
        input.Length <= 512 ? $"{input.Length} bytes: {Convert.ToHexString(input)}" : $"{input.Length} bytes: {Convert.ToHexString(input, 0, 512)}...";
}
