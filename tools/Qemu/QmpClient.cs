// A client for QEMU's machine protocol (QMP) over a unix socket: greeting, capabilities
// negotiation, commands matched to their replies by the id we send, asynchronous events kept.
// Protocol: qemu docs/interop/qmp-spec.rst (7.2); one JSON object per line, "\r\n" from QEMU.
using System.Buffers;
using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace Nmidump.Qemu;

/// <summary>Result of <c>query-status</c>.</summary>
/// <param name="Status">QEMU's run state, e.g. "running", "paused", "guest-panicked".</param>
/// <param name="Running">True while the vCPUs run.</param>
public sealed record QmpStatus(string Status, bool Running);

/// <summary>One entry of <c>query-cpus-fast</c>.</summary>
/// <param name="CpuIndex">QEMU's vCPU index (pr_pid - 1 in QEMU's own ELF dump).</param>
/// <param name="ThreadId">Host thread that runs the vCPU.</param>
/// <param name="QomPath">The CPU's QOM path.</param>
/// <param name="Target">Target architecture, "x86_64".</param>
/// <param name="Props">Topology properties (socket-id, core-id, thread-id).</param>
public sealed record QmpCpu(int CpuIndex, long ThreadId, string QomPath, string Target, JsonElement Props);

/// <summary>A connected, negotiated QMP session. Thread-safe: commands may be issued from several
/// threads; replies are matched by id and events are collected in arrival order.</summary>
public sealed class QmpClient : IDisposable
{
    /// <summary>Reply timeout used when a call gives none.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(10);

    private readonly Socket _socket;
    private readonly object _gate = new();
    private readonly object _writeGate = new();
    private readonly Dictionary<string, TaskCompletionSource<JsonElement>> _pending = new();
    private readonly List<JsonElement> _events = new();
    private readonly TaskCompletionSource<JsonElement> _greeting =
        new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Thread _reader;
    private Exception? _closed;
    private long _nextId;
    private bool _disposed;

    private QmpClient(Socket socket, string socketPath)
    {
        _socket = socket;
        SocketPath = socketPath;
        _reader = new Thread(ReadLoop) { IsBackground = true, Name = "qmp-reader" };
        _reader.Start();
    }

    /// <summary>The socket this client is connected to.</summary>
    public string SocketPath { get; }

    /// <summary>QEMU's greeting (<c>{"QMP": {"version": ..., "capabilities": [...]}}</c>).</summary>
    public JsonElement Greeting { get; private set; }

    /// <summary>Appended to every timeout and connection failure message; <see cref="QemuMachine"/>
    /// sets it to describe the machine (command line, stderr, serial tail).</summary>
    public Func<string>? DiagnosticContext { get; set; }

    /// <summary>False once the connection has closed or failed.</summary>
    public bool IsConnected { get { lock (_gate) return _closed is null; } }

    /// <summary>Every asynchronous event received so far, oldest first (a snapshot).</summary>
    public IReadOnlyList<JsonElement> Events { get { lock (_gate) return _events.ToArray(); } }

    /// <summary>Connects to a QMP unix socket, retrying until <paramref name="timeout"/> because QEMU
    /// creates the socket shortly after it starts; then reads the greeting and negotiates
    /// capabilities. <paramref name="cancel"/> abandons the attempt (e.g. when QEMU exits).</summary>
    public static QmpClient Connect(string socketPath, TimeSpan timeout, CancellationToken cancel = default)
    {
        var clock = Stopwatch.StartNew();
        Socket? socket = null;
        Exception? lastError = null;
        while (socket is null)
        {
            cancel.ThrowIfCancellationRequested();
            var attempt = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            try
            {
                attempt.Connect(new UnixDomainSocketEndPoint(socketPath));
                socket = attempt;
            }
            catch (SocketException e)
            {
                attempt.Dispose();
                lastError = e;
                if (clock.Elapsed >= timeout)
                    throw new QmpTimeoutException(
                        $"Could not connect to the QMP socket {socketPath} within {Text.Duration(timeout)}" +
                        $" (last error: {e.SocketErrorCode}: {e.Message}).");
                cancel.WaitHandle.WaitOne(TimeSpan.FromMilliseconds(50));
            }
        }

        var client = new QmpClient(socket, socketPath);
        try
        {
            client.Handshake(Remaining(timeout, clock), cancel);
            return client;
        }
        catch
        {
            client.Dispose();
            throw;
        }
    }

    private void Handshake(TimeSpan timeout, CancellationToken cancel)
    {
        var clock = Stopwatch.StartNew();
        try
        {
            if (!_greeting.Task.Wait(timeout, cancel))
                throw new QmpTimeoutException(
                    $"The QMP server at {SocketPath} accepted the connection but sent no greeting" +
                    $" within {Text.Duration(timeout)}.{Context()}");
        }
        catch (AggregateException e) when (e.InnerException is not null)
        {
            throw new QmpConnectionException(
                $"No QMP greeting from {SocketPath}: {e.InnerException.Message}", e.InnerException);
        }
        Greeting = _greeting.Task.Result;
        // The spec: until qmp_capabilities succeeds, QEMU accepts no other command.
        Execute("qmp_capabilities", null, Remaining(timeout, clock));
    }

    /// <summary>Runs <paramref name="command"/> and returns its <c>return</c> value.
    /// <paramref name="arguments"/> is serialised with System.Text.Json (an anonymous object, a
    /// dictionary for names with dashes, or a JsonElement). Throws <see cref="QmpException"/> on an
    /// error reply, <see cref="QmpTimeoutException"/> when no reply comes within
    /// <paramref name="timeout"/> (default <see cref="DefaultTimeout"/>), and
    /// <see cref="QmpConnectionException"/> when the connection breaks first.</summary>
    public JsonElement Execute(string command, object? arguments = null, TimeSpan? timeout = null)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var wait = timeout ?? DefaultTimeout;
        var id = "nmidump-" + Interlocked.Increment(ref _nextId);
        var reply = new TaskCompletionSource<JsonElement>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate)
        {
            if (_closed is not null)
                throw new QmpConnectionException(
                    $"QMP command '{command}' cannot be sent: {_closed.Message}{Context()}", _closed);
            _pending[id] = reply;
        }

        try
        {
            var request = Encode(command, arguments, id);
            lock (_writeGate)
            {
                for (var sent = 0; sent < request.Length;)
                    sent += _socket.Send(request, sent, request.Length - sent, SocketFlags.None);
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            Forget(id);
            throw new QmpConnectionException(
                $"QMP command '{command}' could not be sent: {e.Message}{Context()}", e);
        }

        try
        {
            if (!reply.Task.Wait(wait))
            {
                Forget(id);
                throw new QmpTimeoutException(
                    $"No reply to QMP command '{command}' within {Text.Duration(wait)}.{Context()}");
            }
        }
        catch (AggregateException e) when (e.InnerException is not null)
        {
            throw new QmpConnectionException(
                $"QMP command '{command}' got no reply: {e.InnerException.Message}{Context()}", e.InnerException);
        }

        var message = reply.Task.Result;
        if (message.TryGetProperty("error", out var error))
            throw new QmpException(command, StringOf(error, "class"), StringOf(error, "desc"));
        return message.GetProperty("return");
    }

    /// <summary>Returns the first event named <paramref name="name"/> at or after index
    /// <paramref name="startIndex"/> of <see cref="Events"/>, waiting for it if it has not come yet.</summary>
    public JsonElement WaitForEvent(string name, TimeSpan timeout, int startIndex = 0)
    {
        var clock = Stopwatch.StartNew();
        lock (_gate)
        {
            for (var next = startIndex; ;)
            {
                for (; next < _events.Count; next++)
                    if (_events[next].GetProperty("event").GetString() == name)
                        return _events[next];
                if (_closed is not null)
                    throw new QmpConnectionException(
                        $"QMP connection closed while waiting for event {name}: {_closed.Message}{Context()}", _closed);
                var left = timeout == Timeout.InfiniteTimeSpan ? timeout : Remaining(timeout, clock);
                if (left == TimeSpan.Zero)
                    throw new QmpTimeoutException(
                        $"QMP event {name} did not arrive within {Text.Duration(timeout)}" +
                        $" (events seen: {EventNames()}).{Context()}");
                Monitor.Wait(_gate, left);
            }
        }
    }

    /// <summary><c>inject-nmi</c>: on x86 QEMU raises LINT1 on every vCPU (a masked LINT1 drops it).</summary>
    public void InjectNmi() => Execute("inject-nmi");

    /// <summary><c>quit</c>. QEMU 7.2 may close the socket before the reply reaches us (it sends
    /// the SHUTDOWN event, then exits), so a closed connection counts as success here.</summary>
    public void Quit(TimeSpan? timeout = null)
    {
        try
        {
            Execute("quit", null, timeout);
        }
        catch (QmpConnectionException)
        {
        }
    }

    /// <summary><c>human-monitor-command</c>: one HMP command (e.g. <c>info registers -a</c>) and its text.</summary>
    public string HumanMonitor(string commandLine) =>
        Execute("human-monitor-command", new Dictionary<string, object> { ["command-line"] = commandLine }).GetString() ?? "";

    /// <summary>
    /// Whether <c>info registers -a</c> text shows every vCPU halted with interrupts off (HLT=1,
    /// RFLAGS.IF clear): stopped for good, as a panic that halts leaves them.
    /// </summary>
    public static bool AllHaltedWithInterruptsOff(string infoRegisters)
    {
        var cpus = System.Text.RegularExpressions.Regex.Matches(infoRegisters, @"RFL=([0-9a-f]{8}) .* HLT=(\d)");
        return cpus.Count > 0 && cpus.All(m => m.Groups[2].Value == "1" && (Convert.ToUInt32(m.Groups[1].Value, 16) & 0x200) == 0);
    }

    /// <summary><c>query-status</c>.</summary>
    public QmpStatus QueryStatus()
    {
        var r = Execute("query-status");
        return new QmpStatus(r.GetProperty("status").GetString() ?? "", r.GetProperty("running").GetBoolean());
    }

    /// <summary><c>pmemsave</c>: writes guest physical memory [address, address + size) to a host
    /// file (QEMU opens it, so the path is made absolute first).</summary>
    public void PmemSave(ulong address, ulong size, string file) =>
        Execute("pmemsave", new { val = address, size, filename = Path.GetFullPath(file) }, TimeSpan.FromSeconds(60));

    /// <summary><c>dump-guest-memory</c> into a host file as an ELF core (no paging, synchronous),
    /// QEMU's own dump: the peer our kernel's dumps are compared with.</summary>
    public void DumpGuestMemory(string path, TimeSpan? timeout = null) =>
        Execute("dump-guest-memory",
            new { paging = false, protocol = "file:" + Path.GetFullPath(path), detach = false },
            timeout ?? TimeSpan.FromSeconds(120));

    /// <summary><c>query-cpus-fast</c>.</summary>
    public IReadOnlyList<QmpCpu> QueryCpusFast()
    {
        var cpus = new List<QmpCpu>();
        foreach (var c in Execute("query-cpus-fast").EnumerateArray())
            cpus.Add(new QmpCpu(
                c.GetProperty("cpu-index").GetInt32(),
                c.TryGetProperty("thread-id", out var t) ? t.GetInt64() : 0,
                StringOf(c, "qom-path"),
                StringOf(c, "target"),
                c.TryGetProperty("props", out var p) ? p.Clone() : default));
        return cpus;
    }

    /// <summary>Closes the connection; pending commands fail.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        Fail(new QmpConnectionException("the QMP client was disposed"));
        try { _socket.Shutdown(SocketShutdown.Both); } catch (SocketException) { }
        _socket.Dispose();
        _reader.Join(TimeSpan.FromSeconds(2));
    }

    private static byte[] Encode(string command, object? arguments, string id)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("execute", command);
            if (arguments is not null)
            {
                w.WritePropertyName("arguments");
                JsonSerializer.Serialize(w, arguments, arguments.GetType());
            }
            w.WriteString("id", id);
            w.WriteEndObject();
        }
        var bytes = new byte[buffer.WrittenCount + 1];
        buffer.WrittenSpan.CopyTo(bytes);
        bytes[^1] = (byte)'\n';
        return bytes;
    }

    private void ReadLoop()
    {
        var chunk = new byte[64 * 1024];
        var line = new MemoryStream();
        try
        {
            while (true)
            {
                int n;
                try
                {
                    n = _socket.Receive(chunk);
                }
                catch (Exception e) when (e is SocketException or ObjectDisposedException)
                {
                    Fail(new QmpConnectionException($"the QMP connection broke: {e.Message}", e));
                    return;
                }
                if (n == 0)
                {
                    var rest = Encoding.UTF8.GetString(line.GetBuffer(), 0, (int)line.Length);
                    Fail(new QmpConnectionException(string.IsNullOrWhiteSpace(rest)
                        ? "QEMU closed the QMP connection"
                        : $"QEMU closed the QMP connection in the middle of a message after {line.Length}" +
                          $" bytes: {Text.Preview(rest)}"));
                    return;
                }
                for (var start = 0; start < n;)
                {
                    var end = Array.IndexOf(chunk, (byte)'\n', start, n - start);
                    if (end < 0)
                    {
                        line.Write(chunk, start, n - start);
                        break;
                    }
                    line.Write(chunk, start, end - start);
                    start = end + 1;
                    var text = Encoding.UTF8.GetString(line.GetBuffer(), 0, (int)line.Length);
                    line.SetLength(0);
                    if (!Dispatch(text)) return;
                }
            }
        }
        catch (Exception e)
        {
            // A bug here must not leave callers waiting out their timeouts without a reason.
            Fail(new QmpConnectionException($"the QMP reader failed: {e}", e));
        }
    }

    private bool Dispatch(string text)
    {
        if (string.IsNullOrWhiteSpace(text)) return true;
        JsonElement message;
        try
        {
            using var doc = JsonDocument.Parse(text);
            message = doc.RootElement.Clone();
        }
        catch (JsonException e)
        {
            Fail(new QmpConnectionException($"QEMU sent something that is not JSON: {Text.Preview(text)}", e));
            return false;
        }
        if (message.ValueKind != JsonValueKind.Object)
        {
            Fail(new QmpConnectionException($"QEMU sent a QMP message that is not an object: {Text.Preview(text)}"));
            return false;
        }

        if (message.TryGetProperty("QMP", out _))
        {
            _greeting.TrySetResult(message);
        }
        else if (message.TryGetProperty("event", out var name) && name.ValueKind == JsonValueKind.String)
        {
            lock (_gate)
            {
                _events.Add(message);
                Monitor.PulseAll(_gate);
            }
        }
        else if (message.TryGetProperty("return", out _) || message.TryGetProperty("error", out _))
        {
            // A reply without our id (QEMU answers a command it could not parse without one) or
            // with an id we no longer wait for (timed out) has nobody to go to.
            TaskCompletionSource<JsonElement>? waiter = null;
            if (message.TryGetProperty("id", out var id) && id.ValueKind == JsonValueKind.String)
                lock (_gate)
                    _pending.Remove(id.GetString()!, out waiter);
            waiter?.TrySetResult(message);
        }
        return true;
    }

    private void Fail(Exception reason)
    {
        TaskCompletionSource<JsonElement>[] waiters;
        lock (_gate)
        {
            if (_closed is not null) return;
            _closed = reason;
            waiters = _pending.Values.ToArray();
            _pending.Clear();
            Monitor.PulseAll(_gate);
        }
        _greeting.TrySetException(reason);
        foreach (var w in waiters) w.TrySetException(reason);
    }

    private void Forget(string id)
    {
        lock (_gate) _pending.Remove(id);
    }

    private string EventNames()
    {
        var names = _events.Select(e => e.GetProperty("event").GetString()).ToArray();
        return names.Length == 0 ? "none" : string.Join(", ", names);
    }

    private string Context()
    {
        var context = DiagnosticContext;
        if (context is null) return "";
        try { return Environment.NewLine + context(); }
        catch (Exception e) { return Environment.NewLine + "(no machine context: " + e.Message + ")"; }
    }

    private static string StringOf(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String
            ? v.GetString()!
            : "";

    private static TimeSpan Remaining(TimeSpan timeout, Stopwatch clock)
    {
        var left = timeout - clock.Elapsed;
        return left > TimeSpan.Zero ? left : TimeSpan.Zero;
    }
}
