// One running QEMU: starts it the way the project always runs the kernel, collects COM1 line by
// line, enforces a hard time limit, and connects QMP on first use. Every failed wait says what it
// waited for and shows the machine's state, command line, stderr and serial tail.
using System.ComponentModel;
using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;

namespace Nmidump.Qemu;

/// <summary>A QEMU process running one machine. Thread-safe. Dispose kills it.</summary>
public sealed class QemuMachine : IDisposable
{
    /// <summary>Serial lines shown at the end of a failure message.</summary>
    public const int TailLines = 40;

    /// <summary>How long <see cref="Qmp"/> keeps retrying while QEMU creates its socket.</summary>
    public static readonly TimeSpan QmpConnectTimeout = TimeSpan.FromSeconds(10);

    private const int StderrLimit = 32 * 1024;

    private readonly object _gate = new();
    private readonly object _qmpGate = new();
    private readonly List<SerialLine> _lines = new();
    private readonly LineSplitter _splitter = new();
    private readonly StringBuilder _stderr = new();
    private readonly Stopwatch _clock;
    private readonly Process _process;
    private readonly CancellationTokenSource _exited = new();
    private readonly bool _ownsWorkDirectory;
    private readonly Thread _stdoutReader;
    private readonly Thread _stderrReader;
    private readonly Thread _exitMonitor;
    private readonly Timer _hardLimit;
    private FileStream? _serialLog;
    private QmpClient? _qmp;
    private int? _exitCode;
    private bool _finished;
    private bool _hardTimeoutExpired;
    private bool _killRequested;
    private bool _disposed;

    private QemuMachine(QemuOptions options, string binary, IReadOnlyList<string> arguments,
        string workDirectory, bool ownsWorkDirectory, string socketPath)
    {
        Options = options;
        Arguments = arguments;
        WorkDirectory = workDirectory;
        _ownsWorkDirectory = ownsWorkDirectory;
        QmpSocketPath = socketPath;
        CommandLine = string.Join(" ", new[] { options.QemuBinary }.Concat(arguments).Select(Text.ShellQuote));

        if (options.SerialLogPath is not null)
            _serialLog = new FileStream(options.SerialLogPath, FileMode.Create, FileAccess.Write, FileShare.Read);

        var start = new ProcessStartInfo(binary)
        {
            UseShellExecute = false,
            // stdin is a pipe we never write: QEMU's stdio chardev must not read the terminal.
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var a in arguments) start.ArgumentList.Add(a);

        _clock = Stopwatch.StartNew();
        try
        {
            _process = Process.Start(start)
                       ?? throw new InvalidOperationException($"Process.Start returned no process for {binary}");
        }
        catch (Win32Exception e)
        {
            _serialLog?.Dispose();
            throw new InvalidOperationException($"Could not start QEMU ({binary}): {e.Message}. Command line: {CommandLine}", e);
        }
        Pid = _process.Id;

        _stdoutReader = new Thread(ReadSerial) { IsBackground = true, Name = $"qemu-{Pid}-serial" };
        _stderrReader = new Thread(ReadStderr) { IsBackground = true, Name = $"qemu-{Pid}-stderr" };
        _exitMonitor = new Thread(MonitorExit) { IsBackground = true, Name = $"qemu-{Pid}-exit" };
        _stdoutReader.Start();
        _stderrReader.Start();
        _exitMonitor.Start();
        _hardLimit = new Timer(_ => OnHardTimeout(), null, options.Timeout, Timeout.InfiniteTimeSpan);
    }

    /// <summary>The options this machine was started with.</summary>
    public QemuOptions Options { get; }

    /// <summary>QEMU's arguments, without the binary.</summary>
    public IReadOnlyList<string> Arguments { get; }

    /// <summary>The full command line, shell-quoted so it can be pasted into a terminal.</summary>
    public string CommandLine { get; }

    /// <summary>Directory holding the QMP socket.</summary>
    public string WorkDirectory { get; }

    /// <summary>The QMP unix socket QEMU listens on.</summary>
    public string QmpSocketPath { get; }

    /// <summary>QEMU's process id.</summary>
    public int Pid { get; }

    /// <summary>Time since QEMU was started.</summary>
    public TimeSpan Elapsed => _clock.Elapsed;

    /// <summary>True once QEMU has exited and all its output has been collected.</summary>
    public bool HasExited { get { lock (_gate) return _finished; } }

    /// <summary>QEMU's exit status once <see cref="HasExited"/>, else null. See <see cref="QemuExit"/>.</summary>
    public int? ExitCode { get { lock (_gate) return _finished ? _exitCode : null; } }

    /// <summary>True if the hard <see cref="QemuOptions.Timeout"/> passed and QEMU was killed.</summary>
    public bool HardTimeoutExpired { get { lock (_gate) return _hardTimeoutExpired; } }

    /// <summary>Complete serial lines so far, without line ends (a snapshot).</summary>
    public IReadOnlyList<string> Lines { get { lock (_gate) return _lines.Select(l => l.Text).ToArray(); } }

    /// <summary>Complete serial lines so far with their arrival times (a snapshot).</summary>
    public IReadOnlyList<SerialLine> TimedLines { get { lock (_gate) return _lines.ToArray(); } }

    /// <summary>Number of complete serial lines so far.</summary>
    public int LineCount { get { lock (_gate) return _lines.Count; } }

    /// <summary>Everything received on the serial port: the lines joined with '\n', then any
    /// unterminated last line.</summary>
    public string SerialText
    {
        get
        {
            lock (_gate)
            {
                var text = new StringBuilder();
                foreach (var l in _lines) text.Append(l.Text).Append('\n');
                return text.Append(_splitter.Partial).ToString();
            }
        }
    }

    /// <summary>What QEMU wrote to stderr so far (its first 32 KiB).</summary>
    public string Stderr { get { lock (_gate) return _stderr.ToString(); } }

    /// <summary>The QMP session, connected on first use (retrying up to
    /// <see cref="QmpConnectTimeout"/> while QEMU creates the socket). Its timeouts and
    /// connection failures carry this machine's context.</summary>
    public QmpClient Qmp
    {
        get
        {
            lock (_qmpGate)
            {
                ObjectDisposedException.ThrowIf(_disposed, this);
                if (_qmp is not null) return _qmp;
                var what = $"the QMP socket {QmpSocketPath} to accept a connection";
                var clock = Stopwatch.StartNew();
                try
                {
                    _qmp = QmpClient.Connect(QmpSocketPath, QmpConnectTimeout, _exited.Token);
                }
                catch (Exception e) when (e is OperationCanceledException or QmpConnectionException or QmpTimeoutException)
                {
                    // QEMU exiting cancels the connect or closes the socket under us; give the exit
                    // monitor a moment, since a finished machine explains the failure best.
                    if (e is QmpConnectionException) _exited.Token.WaitHandle.WaitOne(TimeSpan.FromSeconds(1));
                    if (HasExited) throw Finished(what, clock.Elapsed, e);
                    var message = $"{e.Message}{Environment.NewLine}{Context()}";
                    throw e is QmpTimeoutException
                        ? new QemuTimeoutException(message, what, null, e)
                        : new QemuWaitException(message, what, null, e);
                }
                _qmp.DiagnosticContext = Context;
                return _qmp;
            }
        }
    }

    /// <summary>Launches QEMU. Throws <see cref="QemuNotFoundException"/> when the binary is missing,
    /// <see cref="FileNotFoundException"/> for a missing kernel or module, and
    /// <see cref="ArgumentException"/> for options QEMU would refuse.</summary>
    public static QemuMachine Start(QemuOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Smp < 1) throw new ArgumentException($"Smp must be at least 1, not {options.Smp}.", nameof(options));
        if (options.MemoryMiB < 1) throw new ArgumentException($"MemoryMiB must be positive, not {options.MemoryMiB}.", nameof(options));
        if (options.Timeout <= TimeSpan.Zero && options.Timeout != Timeout.InfiniteTimeSpan)
            throw new ArgumentException($"Timeout must be positive (or Timeout.InfiniteTimeSpan), not {options.Timeout}.", nameof(options));
        var binary = ResolveBinary(options.QemuBinary);

        string? kernel = null;
        if (options.Kernel is not null)
        {
            kernel = Path.GetFullPath(options.Kernel);
            if (!File.Exists(kernel))
                throw new FileNotFoundException($"Kernel image not found: {kernel} (build it with ./build.sh).", kernel);
        }
        else if (options.Append is not null || options.Modules.Count > 0)
        {
            throw new ArgumentException("Append and Modules need a Kernel: QEMU accepts -append and -initrd only with -kernel.", nameof(options));
        }

        var modules = new List<string>();
        foreach (var module in options.Modules)
        {
            if (module.Contains(','))
                throw new ArgumentException($"Module string '{module}' contains a comma, which separates modules in -initrd.", nameof(options));
            var space = module.IndexOf(' ');
            var path = Path.GetFullPath(space < 0 ? module : module[..space]);
            if (!File.Exists(path))
                throw new FileNotFoundException($"Module image not found: {path} (from module string '{module}').", path);
            modules.Add(space < 0 ? path : path + module[space..]);
        }

        var ownsWorkDirectory = options.WorkDirectory is null;
        var workDirectory = options.WorkDirectory is null
            ? Directory.CreateTempSubdirectory("nmidump-qemu-").FullName
            : Path.GetFullPath(options.WorkDirectory);
        Directory.CreateDirectory(workDirectory);
        var socketPath = Path.Combine(workDirectory, "qmp.sock");
        // sockaddr_un.sun_path holds 108 bytes including the terminating NUL.
        if (Encoding.UTF8.GetByteCount(socketPath) > 107)
        {
            if (ownsWorkDirectory) Directory.Delete(workDirectory, true);
            throw new ArgumentException($"QMP socket path is longer than a unix socket allows (107 bytes): {socketPath}", nameof(options));
        }

        var args = new List<string>
        {
            "-accel", "tcg",
            "-machine", "pc",
            // No default NIC, VGA, floppy, CD-ROM or parallel port: nothing the kernel uses, and the
            // NIC's option ROM slows SeaBIOS under TCG. COM1 is added back explicitly below.
            "-nodefaults",
            "-no-user-config",
            "-display", "none",
            "-monitor", "none",
            "-serial", "stdio",
            // QEMU's option syntax escapes a comma in a value by doubling it.
            "-qmp", $"unix:{socketPath.Replace(",", ",,")},server=on,wait=off",
            "-device", "isa-debug-exit,iobase=0x501,iosize=2",
            "-smp", options.Smp.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "-m", options.MemoryMiB.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
        if (options.NoReboot) args.Add("-no-reboot");
        if (kernel is not null) args.AddRange(["-kernel", kernel]);
        if (options.Append is not null) args.AddRange(["-append", options.Append]);
        if (modules.Count > 0) args.AddRange(["-initrd", string.Join(",", modules)]);
        args.AddRange(options.ExtraArgs);

        try
        {
            return new QemuMachine(options, binary, args, workDirectory, ownsWorkDirectory, socketPath);
        }
        catch
        {
            if (ownsWorkDirectory) TryDeleteDirectory(workDirectory);
            throw;
        }
    }

    /// <summary>Returns the first serial line at or after <paramref name="startIndex"/> that contains
    /// <paramref name="substring"/> (ordinal), waiting up to <paramref name="timeout"/> for it.
    /// Lines already received count.</summary>
    public string WaitForLine(string substring, TimeSpan timeout, int startIndex = 0) =>
        WaitForSerialLine(substring, timeout, startIndex).Text;

    /// <summary>Returns the first serial line at or after <paramref name="startIndex"/> that
    /// <paramref name="pattern"/> matches, waiting up to <paramref name="timeout"/> for it.</summary>
    public string WaitForLine(Regex pattern, TimeSpan timeout, int startIndex = 0) =>
        WaitForSerialLine(pattern, timeout, startIndex).Text;

    /// <summary>Like <see cref="WaitForLine(string, TimeSpan, int)"/>, returning the line's index
    /// and time too (pass <c>Index + 1</c> as the next start index to wait for a later line).</summary>
    public SerialLine WaitForSerialLine(string substring, TimeSpan timeout, int startIndex = 0) =>
        WaitForMatch(l => l.Contains(substring, StringComparison.Ordinal),
            $"a serial line containing \"{substring}\"", timeout, startIndex);

    /// <summary>Like <see cref="WaitForLine(Regex, TimeSpan, int)"/>, returning the line's index and time too.</summary>
    public SerialLine WaitForSerialLine(Regex pattern, TimeSpan timeout, int startIndex = 0) =>
        WaitForMatch(pattern.IsMatch, $"a serial line matching /{pattern}/", timeout, startIndex);

    /// <summary>Waits for QEMU to exit and returns its status (see <see cref="QemuExit"/>). Throws
    /// <see cref="QemuTimeoutException"/> if it is still running after <paramref name="timeout"/> or
    /// was killed by the machine's hard timeout.</summary>
    public int WaitForExit(TimeSpan timeout)
    {
        const string what = "QEMU to exit";
        var clock = Stopwatch.StartNew();
        lock (_gate)
        {
            while (true)
            {
                if (_finished)
                {
                    if (_hardTimeoutExpired) throw Finished(what, clock.Elapsed);
                    return _exitCode!.Value;
                }
                WaitOrThrow(what, timeout, clock);
            }
        }
    }

    /// <summary>Waits for QEMU to exit and throws <see cref="QemuExitedException"/> unless the status
    /// is clean (0 or 1, see <see cref="QemuExit.IsClean"/>).</summary>
    public int WaitForCleanExit(TimeSpan timeout)
    {
        var status = WaitForExit(timeout);
        if (!QemuExit.IsClean(status))
            throw new QemuExitedException(
                $"QEMU exited with {QemuExit.Describe(status)}; expected a clean power-off (status 0 or 1)." +
                Environment.NewLine + Context(), "a clean exit", status);
        return status;
    }

    /// <summary>Whether a QMP or wait failure only means QEMU went away under the command (it exited
    /// or closed its socket): callers polling a machine that may power off treat that as its end.</summary>
    public static bool IsGone(Exception e) =>
        e is QemuWaitException or QmpException or QmpTimeoutException or ObjectDisposedException or IOException;

    /// <summary>
    /// Polls the monitor until every vCPU is halted with interrupts off, for up to <paramref name="bound"/>
    /// (one look when it is zero). False if not by then, or if QEMU exited or stopped answering;
    /// <paramref name="state"/> is the last <c>info registers -a</c> text.
    /// </summary>
    public bool AllCpusHalted(TimeSpan bound, out string state)
    {
        var clock = Stopwatch.StartNew();
        state = "";
        while (true)
        {
            if (HasExited) return false;
            try
            {
                state = Qmp.HumanMonitor("info registers -a");
            }
            catch (Exception e) when (IsGone(e))
            {
                return false;
            }
            if (QmpClient.AllHaltedWithInterruptsOff(state)) return true;
            if (clock.Elapsed >= bound) return false;
            Thread.Sleep(200);
        }
    }

    /// <summary>Kills QEMU (SIGKILL: QEMU treats SIGTERM as a clean quit with status 0) and any
    /// children it has, by process id. Does nothing once it has exited.</summary>
    public void Kill()
    {
        lock (_gate)
        {
            if (_finished) return;
            _killRequested = true;
        }
        KillProcessTree();
    }

    /// <summary>Kills QEMU if it still runs, closes QMP and the serial log, and removes the work
    /// directory if this machine created it.</summary>
    public void Dispose()
    {
        lock (_qmpGate)
        {
            if (_disposed) return;
            _disposed = true;
        }
        _hardLimit.Dispose();
        Kill();
        _exitMonitor.Join(TimeSpan.FromSeconds(5));
        _qmp?.Dispose();
        try { _process.StandardInput.Dispose(); } catch (IOException) { }
        lock (_gate)
        {
            _serialLog?.Dispose();
            _serialLog = null;
        }
        _process.Dispose();
        if (_ownsWorkDirectory) TryDeleteDirectory(WorkDirectory);
    }

    /// <summary>The machine's state, command line, stderr and last serial lines: what every failure
    /// message ends with.</summary>
    public string Context()
    {
        var text = new StringBuilder();
        lock (_gate)
        {
            text.Append("QEMU state: ").AppendLine(StateLocked());
            text.Append("Command line: ").AppendLine(CommandLine);
            var stderr = _stderr.ToString().TrimEnd();
            if (stderr.Length == 0)
            {
                text.AppendLine("QEMU stderr: (empty)");
            }
            else
            {
                text.AppendLine("QEMU stderr:");
                foreach (var l in stderr.Split('\n')) text.Append("  ").AppendLine(l.TrimEnd('\r'));
            }
            var first = Math.Max(0, _lines.Count - TailLines);
            text.Append(_lines.Count == 0
                ? "Serial output: (no complete line)"
                : $"Last {_lines.Count - first} of {_lines.Count} serial lines:");
            for (var i = first; i < _lines.Count; i++) text.AppendLine().Append("  ").Append(_lines[i]);
            var partial = _splitter.Partial;
            if (partial.Length > 0) text.AppendLine().Append("  (unterminated) ").Append(partial.TrimEnd('\r'));
        }
        return text.ToString();
    }

    private SerialLine WaitForMatch(Func<string, bool> match, string what, TimeSpan timeout, int startIndex)
    {
        var clock = Stopwatch.StartNew();
        lock (_gate)
        {
            for (var next = Math.Max(0, startIndex); ;)
            {
                for (; next < _lines.Count; next++)
                    if (match(_lines[next].Text))
                        return _lines[next];
                // All output is in once _finished is set, so a line that is not here never comes.
                if (_finished) throw Finished(what, clock.Elapsed);
                WaitOrThrow(what, timeout, clock);
            }
        }
    }

    // Called with _gate held: sleeps until something changes, or throws when the time is up.
    private void WaitOrThrow(string what, TimeSpan timeout, Stopwatch clock)
    {
        if (timeout == Timeout.InfiniteTimeSpan)
        {
            Monitor.Wait(_gate);
            return;
        }
        var left = timeout - clock.Elapsed;
        if (left <= TimeSpan.Zero)
            throw new QemuTimeoutException(
                $"Timed out after {Text.Duration(timeout)} waiting for {what}." + Environment.NewLine + Context(),
                what, null);
        Monitor.Wait(_gate, left);
    }

    private QemuWaitException Finished(string what, TimeSpan waited, Exception? inner = null)
    {
        var message = $" while waiting for {what} (waited {Text.Duration(waited)})." + Environment.NewLine + Context();
        lock (_gate)
        {
            if (_hardTimeoutExpired)
                return new QemuTimeoutException(
                    $"QEMU was killed when the machine's hard timeout of {Text.Duration(Options.Timeout)} passed" + message,
                    what, _exitCode, inner);
            return new QemuExitedException(
                $"QEMU exited with {QemuExit.Describe(_exitCode ?? -1)}" + message, what, _exitCode, inner);
        }
    }

    private string StateLocked()
    {
        var since = $"{Text.Duration(_clock.Elapsed)} since start";
        if (!_finished)
            return $"running (pid {Pid}, {since})";
        var how = _hardTimeoutExpired ? $"killed at the hard timeout of {Text.Duration(Options.Timeout)}, "
            : _killRequested ? "killed on request, "
            : "";
        return $"exited, {how}{QemuExit.Describe(_exitCode ?? -1)} (pid {Pid}, {since})";
    }

    private void ReadSerial()
    {
        var stream = _process.StandardOutput.BaseStream;
        var buffer = new byte[16 * 1024];
        try
        {
            int n;
            while ((n = stream.Read(buffer)) > 0)
            {
                List<string> complete;
                lock (_gate)
                {
                    _serialLog?.Write(buffer, 0, n);
                    _serialLog?.Flush();
                    complete = _splitter.Push(buffer.AsSpan(0, n));
                }
                Deliver(complete);
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
        }
        string? last;
        lock (_gate) last = _splitter.Finish();
        if (last is not null) Deliver([last]);
    }

    private void Deliver(List<string> complete)
    {
        if (complete.Count == 0) return;
        lock (_gate)
        {
            var now = _clock.Elapsed;
            foreach (var text in complete) _lines.Add(new SerialLine(_lines.Count, now, text));
            Monitor.PulseAll(_gate);
        }
        foreach (var text in complete)
        {
            if (Options.EchoSerial) Console.Out.WriteLine(text);
            try
            {
                Options.SerialLineSink?.Invoke(text);
            }
            catch (Exception)
            {
                // A sink must not take the reader down (xunit's output helper throws once its test
                // has finished); the line is in Lines anyway.
            }
        }
    }

    private void ReadStderr()
    {
        var buffer = new char[4096];
        try
        {
            int n;
            while ((n = _process.StandardError.Read(buffer, 0, buffer.Length)) > 0)
                lock (_gate)
                    if (_stderr.Length < StderrLimit)
                        _stderr.Append(buffer, 0, Math.Min(n, StderrLimit - _stderr.Length));
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
        }
    }

    private void MonitorExit()
    {
        int status;
        try
        {
            _process.WaitForExit();
            status = _process.ExitCode;
        }
        catch (InvalidOperationException)
        {
            // Disposed while QEMU would not die: nothing is waiting any more.
            status = -1;
        }
        // Let the readers drain the pipes so that a finished machine has all its output. A child
        // that inherited stdout could hold it open: bound the wait rather than hang on it.
        _stdoutReader.Join(TimeSpan.FromSeconds(2));
        _stderrReader.Join(TimeSpan.FromSeconds(1));
        lock (_gate)
        {
            _exitCode = status;
            _finished = true;
            Monitor.PulseAll(_gate);
        }
        _exited.Cancel();
    }

    private void OnHardTimeout()
    {
        lock (_gate)
        {
            if (_finished) return;
            _hardTimeoutExpired = true;
            Monitor.PulseAll(_gate);
        }
        KillProcessTree();
    }

    private void KillProcessTree()
    {
        try
        {
            // Process.Kill walks /proc for this pid's descendants and sends each SIGKILL by pid.
            _process.Kill(entireProcessTree: true);
        }
        catch (Exception e) when (e is InvalidOperationException or Win32Exception or NotSupportedException)
        {
            // Already exited.
        }
    }

    private static string ResolveBinary(string binary)
    {
        if (binary.Contains('/') || binary.Contains(Path.DirectorySeparatorChar))
            return File.Exists(binary) ? Path.GetFullPath(binary) : throw new QemuNotFoundException(binary);
        var names = OperatingSystem.IsWindows() ? new[] { binary, binary + ".exe" } : [binary];
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
            foreach (var name in names)
            {
                var candidate = Path.Combine(dir, name);
                if (File.Exists(candidate) && IsExecutable(candidate)) return candidate;
            }
        throw new QemuNotFoundException(binary);
    }

    private static bool IsExecutable(string path) =>
        OperatingSystem.IsWindows() ||
        (File.GetUnixFileMode(path) & (UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute)) != 0;

    private static void TryDeleteDirectory(string path)
    {
        try { Directory.Delete(path, recursive: true); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }
}
