// The failures of waiting on a machine. Each message is meant to be enough on its own to debug a
// failed test run: what was awaited and for how long, how QEMU stood, its command line, its stderr
// and the end of the serial log.
namespace Nmidump.Qemu;

/// <summary>A wait on a <see cref="QemuMachine"/> failed. The message carries the whole context.</summary>
public class QemuWaitException : Exception
{
    /// <summary>Creates the exception; <paramref name="message"/> already holds the context.</summary>
    public QemuWaitException(string message, string waitedFor, int? exitCode, Exception? inner = null)
        : base(message, inner)
    {
        WaitedFor = waitedFor;
        ExitCode = exitCode;
    }

    /// <summary>What was awaited, e.g. "a serial line containing \"PANIC\"".</summary>
    public string WaitedFor { get; }

    /// <summary>QEMU's exit status if it had exited when the wait failed.</summary>
    public int? ExitCode { get; }
}

/// <summary>The awaited thing did not happen in time (or the machine's hard timeout killed QEMU).</summary>
public sealed class QemuTimeoutException : QemuWaitException
{
    /// <summary>Creates the exception; <paramref name="message"/> already holds the context.</summary>
    public QemuTimeoutException(string message, string waitedFor, int? exitCode, Exception? inner = null)
        : base(message, waitedFor, exitCode, inner) { }
}

/// <summary>QEMU exited before the awaited thing happened, or exited with an unclean status.</summary>
public sealed class QemuExitedException : QemuWaitException
{
    /// <summary>Creates the exception; <paramref name="message"/> already holds the context.</summary>
    public QemuExitedException(string message, string waitedFor, int? exitCode, Exception? inner = null)
        : base(message, waitedFor, exitCode, inner) { }
}

/// <summary>The QEMU binary could not be found.</summary>
public sealed class QemuNotFoundException : FileNotFoundException
{
    /// <summary>Creates the exception for <paramref name="binary"/>.</summary>
    public QemuNotFoundException(string binary)
        : base($"QEMU binary '{binary}' was not found" +
               (binary.Contains('/') ? "." : " on PATH.") +
               " Install the Debian package qemu-system-x86 (apt-get install qemu-system-x86)," +
               " or point QemuOptions.QemuBinary at the emulator.", binary) { }
}
