// An in-process QMP peer on a unix socket that plays a script, so the client's protocol handling
// (greeting, negotiation, id matching, events, errors, broken connections) can be tested without QEMU.
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace Nmidump.Qemu.Tests;

internal sealed class FakeQmpServer : IDisposable
{
    public const string Greeting =
        """{"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7}, "package": "fake"}, "capabilities": ["oob"]}}""";

    private readonly Socket _listener;
    private readonly CancellationTokenSource _stop = new();

    public FakeQmpServer(string socketPath, Func<FakeQmpPeer, Task> script)
    {
        SocketPath = socketPath;
        _listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        _listener.Bind(new UnixDomainSocketEndPoint(socketPath));
        _listener.Listen(1);
        Completion = Task.Run(async () =>
        {
            using var client = await _listener.AcceptAsync(_stop.Token);
            await script(new FakeQmpPeer(client, _stop.Token));
        });
    }

    public string SocketPath { get; }

    /// <summary>Ends when the script does; faults if one of its assertions failed.</summary>
    public Task Completion { get; }

    /// <summary>Awaits the script, so its assertion failures fail the test.</summary>
    public void AssertScriptSucceeded()
    {
        Assert.True(Completion.Wait(TimeSpan.FromSeconds(5)), "the fake QMP server's script did not finish");
        Completion.GetAwaiter().GetResult();
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Dispose();
        try { Completion.Wait(TimeSpan.FromSeconds(2)); } catch (AggregateException) { }
    }
}

internal sealed class FakeQmpPeer
{
    private readonly Socket _socket;
    private readonly StreamReader _reader;
    private readonly CancellationToken _stop;

    public FakeQmpPeer(Socket socket, CancellationToken stop)
    {
        _socket = socket;
        _stop = stop;
        _reader = new StreamReader(new NetworkStream(socket, ownsSocket: false), Encoding.UTF8);
    }

    /// <summary>Sends one message with QEMU's "\r\n" line end.</summary>
    public Task SendAsync(string json) => SendRawAsync(json + "\r\n");

    public async Task SendRawAsync(string raw) =>
        await _socket.SendAsync(Encoding.UTF8.GetBytes(raw), SocketFlags.None, _stop);

    public async Task<JsonElement> ReceiveAsync()
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stop);
        timeout.CancelAfter(TimeSpan.FromSeconds(10));
        var line = await _reader.ReadLineAsync(timeout.Token)
                   ?? throw new InvalidOperationException("the client closed the connection");
        using var doc = JsonDocument.Parse(line);
        return doc.RootElement.Clone();
    }

    /// <summary>Receives a command, asserts its name, returns its id as raw JSON.</summary>
    public async Task<(JsonElement Command, string Id)> ExpectAsync(string name)
    {
        var command = await ReceiveAsync();
        Assert.Equal(name, command.GetProperty("execute").GetString());
        return (command, command.GetProperty("id").GetRawText());
    }

    /// <summary>Receives any command; returns it and its id as raw JSON.</summary>
    public async Task<(JsonElement Command, string Id)> ExpectAnyAsync()
    {
        var command = await ReceiveAsync();
        return (command, command.GetProperty("id").GetRawText());
    }

    public Task ReplyAsync(string id, string returnJson = "{}") =>
        SendAsync($$"""{"return": {{returnJson}}, "id": {{id}}}""");

    /// <summary>Greeting, then the capabilities negotiation, as QEMU does it.</summary>
    public async Task HandshakeAsync()
    {
        await SendAsync(FakeQmpServer.Greeting);
        var (_, id) = await ExpectAsync("qmp_capabilities");
        await ReplyAsync(id);
    }

    public Task EventAsync(string name, string data = "{}") =>
        SendAsync($$"""{"timestamp": {"seconds": 1, "microseconds": 2}, "event": "{{name}}", "data": {{data}}}""");

    /// <summary>Keeps the connection open until the test ends.</summary>
    public async Task HoldAsync()
    {
        try { await Task.Delay(Timeout.Infinite, _stop); }
        catch (OperationCanceledException) { }
    }

    public void Close()
    {
        _socket.Shutdown(SocketShutdown.Both);
        _socket.Close();
    }
}
