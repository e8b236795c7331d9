// What every fuzz target shares: its seeds (real inputs), a generator of fresh inputs, and a check
// that feeds one input to the code under test and says whether it was accepted or rejected, and
// why. The runner (FuzzRunner) mutates seeds and mixes in generated inputs; a rejection must come
// with a clear one-line message, and nothing may throw or hang.
using CsCheck;

namespace Nmidump.Fuzz;

/// <summary>What the code under test made of one input.</summary>
/// <param name="Accepted">True when the input was taken as valid.</param>
/// <param name="Message">For a rejection, the one line a user would read.</param>
public readonly record struct FuzzOutcome(bool Accepted, string Message)
{
    public static FuzzOutcome Ok => new(true, "");
    public static FuzzOutcome Rejected(string message) => new(false, message);
}

public abstract class FuzzTarget
{
    /// <summary>The name --target takes.</summary>
    public abstract string Name { get; }
    /// <summary>One line: what is fuzzed, through which entry point.</summary>
    public abstract string What { get; }
    /// <summary>Real inputs (command lines, dumps, streams) that mutations start from.</summary>
    public abstract IReadOnlyList<byte[]> Seeds { get; }
    /// <summary>Fresh inputs shaped like the real thing (a grammar, or the kernel's own writers with random values).</summary>
    public abstract Gen<byte[]> Generated { get; }
    /// <summary>Where mutations land most (the headers of a binary format), in bytes from the start.</summary>
    public virtual int HotPrefix => 256;
    /// <summary>Feeds one input; throws (a bug) only if the code under test did or broke an invariant.</summary>
    public abstract FuzzOutcome Check(byte[] input);

    public static IReadOnlyList<FuzzTarget> All { get; } =
        [new BootParamTarget(), new CoreHeaderTarget(), new FramingTarget(), new VmcoreTarget()];

    /// <summary>
    /// A rejection's message is clear: one line of printable ASCII that says something (letters, not
    /// just numbers), short enough to read. Throws naming what is wrong with it.
    /// </summary>
    public static void AssertClear(string message, string input)
    {
        string problem =
            string.IsNullOrWhiteSpace(message) ? "is empty"
            : message.Any(c => c < 0x20 || c > 0x7E) ? "has a control or non-ASCII character"
            : message.Length > 400 ? $"is {message.Length} characters long"
            : message.Count(char.IsLetter) < 8 ? "says nothing a user could act on"
            : "";
        if (problem.Length > 0) throw new FuzzFailure($"the rejection message {problem}: \"{message}\" (input {input})");
    }
}

/// <summary>A target broke a rule: the runner reports the input and the rule.</summary>
public sealed class FuzzFailure(string message) : Exception(message);
