// The ways a QMP exchange fails: QEMU answered with an error, did not answer in time, or the
// connection broke (QEMU exited, or sent something that is not QMP).
namespace Nmidump.Qemu;

/// <summary>QEMU answered a command with a QMP <c>error</c> reply.</summary>
public sealed class QmpException : Exception
{
    /// <summary>Creates the exception for <paramref name="command"/>'s error reply.</summary>
    public QmpException(string command, string errorClass, string description)
        : base($"QMP command '{command}' failed: {errorClass}: {description}")
    {
        Command = command;
        ErrorClass = errorClass;
        Description = description;
    }

    /// <summary>The command that failed.</summary>
    public string Command { get; }

    /// <summary>QMP's error class, e.g. "GenericError" or "CommandNotFound".</summary>
    public string ErrorClass { get; }

    /// <summary>QMP's human-readable description (<c>desc</c>).</summary>
    public string Description { get; }
}

/// <summary>No reply, greeting or event arrived in time.</summary>
public sealed class QmpTimeoutException : TimeoutException
{
    /// <summary>Creates the exception.</summary>
    public QmpTimeoutException(string message) : base(message) { }
}

/// <summary>The QMP connection could not be made, was closed, or carried something that is not QMP.</summary>
public sealed class QmpConnectionException : IOException
{
    /// <summary>Creates the exception.</summary>
    public QmpConnectionException(string message, Exception? inner = null) : base(message, inner) { }
}
