// The QMP client against a scripted in-process server: the handshake, reply matching with events
// interleaved, error replies, broken connections and every kind of timeout.
using System.Diagnostics;
using System.Text.Json;

namespace Nmidump.Qemu.Tests;

public sealed class QmpClientTests : IDisposable
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(5);
    private readonly TempDir _dir = new();

    private string Socket => _dir.File("qmp.sock");

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Connect_ReadsGreeting_AndNegotiatesCapabilitiesBeforeAnyCommand()
    {
        using var server = new FakeQmpServer(Socket, async peer =>
        {
            await peer.SendAsync(FakeQmpServer.Greeting);
            var first = await peer.ReceiveAsync();
            Assert.Equal("qmp_capabilities", first.GetProperty("execute").GetString());
            Assert.False(first.TryGetProperty("arguments", out _));
            await peer.ReplyAsync(first.GetProperty("id").GetRawText());
            var (_, id) = await peer.ExpectAsync("query-status");
            await peer.ReplyAsync(id, """{"status": "paused", "singlestep": false, "running": false}""");
            await peer.HoldAsync();
        });

        using var qmp = QmpClient.Connect(Socket, Generous);

        Assert.Equal(7, qmp.Greeting.GetProperty("QMP").GetProperty("version").GetProperty("qemu").GetProperty("major").GetInt32());
        Assert.Equal(new QmpStatus("paused", false), qmp.QueryStatus());
        Assert.True(qmp.IsConnected);
    }

    [Fact]
    public async Task Execute_MatchesEachReplyToItsCommandById_WithEventsAndStrayRepliesInterleaved()
    {
        using var server = new FakeQmpServer(Socket, async peer =>
        {
            await peer.HandshakeAsync();
            var (a, idA) = await peer.ExpectAnyAsync();
            var (b, idB) = await peer.ExpectAnyAsync();
            // Answer in the reverse order, with noise between the replies.
            await peer.EventAsync("STOP");
            await peer.SendAsync("""{"return": {"who": "nobody"}, "id": "not-ours"}""");
            await peer.ReplyAsync(idB, $$"""{"for": "{{b.GetProperty("execute").GetString()}}"}""");
            await peer.EventAsync("RESUME");
            await peer.ReplyAsync(idA, $$"""{"for": "{{a.GetProperty("execute").GetString()}}"}""");
        });
        using var qmp = QmpClient.Connect(Socket, Generous);

        var first = Task.Run(() => qmp.Execute("cmd-a"));
        var second = Task.Run(() => qmp.Execute("cmd-b"));

        await Task.WhenAll(first, second).WaitAsync(Generous);
        Assert.Equal("cmd-a", (await first).GetProperty("for").GetString());
        Assert.Equal("cmd-b", (await second).GetProperty("for").GetString());
        Assert.Equal(["STOP", "RESUME"], qmp.Events.Select(e => e.GetProperty("event").GetString()));
        server.AssertScriptSucceeded();
    }

    [Fact]
    public void ErrorReply_ThrowsQmpException_WithClassAndDescription()
    {
        using var server = new FakeQmpServer(Socket, async peer =>
        {
            await peer.HandshakeAsync();
            var (_, id) = await peer.ExpectAsync("no-such-command");
            await peer.SendAsync($$$"""{"id": {{{id}}}, "error": {"class": "CommandNotFound", "desc": "The command no-such-command has not been found"}}""");
            await peer.HoldAsync();
        });
        using var qmp = QmpClient.Connect(Socket, Generous);

        var e = Assert.Throws<QmpException>(() => qmp.Execute("no-such-command"));

        Assert.Equal("CommandNotFound", e.ErrorClass);
        Assert.Equal("The command no-such-command has not been found", e.Description);
        Assert.Equal("no-such-command", e.Command);
        Assert.Contains("The command no-such-command has not been found", e.Message);
        Assert.True(qmp.IsConnected);
    }

    [Fact]
    public void ServerClosingMidReply_FailsTheCommandWithAClearError_AndLaterCommandsAtOnce()
    {
        using var server = new FakeQmpServer(Socket, async peer =>
        {
            await peer.HandshakeAsync();
            await peer.ExpectAsync("query-status");
            await peer.SendRawAsync("""{"return": {"sta""");
            peer.Close();
        });
        using var qmp = QmpClient.Connect(Socket, Generous);

        var e = Assert.Throws<QmpConnectionException>(() => qmp.Execute("query-status", timeout: Generous));

        Assert.Contains("'query-status'", e.Message);
        Assert.Contains("in the middle of a message", e.Message);
        Assert.Contains("{\"return\": {\"sta", e.Message);
        Assert.False(qmp.IsConnected);
        var clock = Stopwatch.StartNew();
        var again = Assert.Throws<QmpConnectionException>(() => qmp.Execute("query-status", timeout: Generous));
        Assert.Contains("cannot be sent", again.Message);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1), $"took {clock.Elapsed}");
    }

    [Fact]
    public void NoReply_TimesOutNamingTheCommand_AndALateReplyDoesNotConfuseTheNextCommand()
    {
        using var server = new FakeQmpServer(Socket, async peer =>
        {
            await peer.HandshakeAsync();
            var (_, late) = await peer.ExpectAsync("inject-nmi");
            var (_, next) = await peer.ExpectAsync("query-status");
            await peer.ReplyAsync(late, """{"late": true}""");
            await peer.ReplyAsync(next, """{"status": "running", "singlestep": false, "running": true}""");
            await peer.HoldAsync();
        });
        using var qmp = QmpClient.Connect(Socket, Generous);
        var clock = Stopwatch.StartNew();

        var e = Assert.Throws<QmpTimeoutException>(() => qmp.Execute("inject-nmi", timeout: TimeSpan.FromMilliseconds(300)));

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(3), $"took {clock.Elapsed}");
        Assert.Contains("'inject-nmi'", e.Message);
        Assert.Contains("300 ms", e.Message);
        Assert.Equal(new QmpStatus("running", true), qmp.QueryStatus());
    }

    [Fact]
    public void ServerThatSendsNoGreeting_ConnectTimesOutSayingSo()
    {
        using var server = new FakeQmpServer(Socket, peer => peer.HoldAsync());

        var e = Assert.Throws<QmpTimeoutException>(() => QmpClient.Connect(Socket, TimeSpan.FromMilliseconds(400)));

        Assert.Contains("no greeting", e.Message);
        Assert.Contains(Socket, e.Message);
    }

    [Fact]
    public async Task SocketThatAppearsLate_ConnectRetriesUntilItIsThere()
    {
        FakeQmpServer? server = null;
        var creator = Task.Run(async () =>
        {
            await Task.Delay(300);
            server = new FakeQmpServer(Socket, async peer =>
            {
                await peer.HandshakeAsync();
                await peer.HoldAsync();
            });
        });
        try
        {
            using var qmp = QmpClient.Connect(Socket, Generous);
            Assert.True(qmp.IsConnected);
        }
        finally
        {
            await creator.WaitAsync(Generous);
            server?.Dispose();
        }
    }

    [Fact]
    public void MissingSocket_ConnectTimesOutNamingThePath()
    {
        var clock = Stopwatch.StartNew();

        var e = Assert.Throws<QmpTimeoutException>(() => QmpClient.Connect(Socket, TimeSpan.FromMilliseconds(300)));

        Assert.Contains(Socket, e.Message);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(3), $"took {clock.Elapsed}");
    }

    [Fact]
    public void Connect_CanBeAbandonedByCancellation()
    {
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
        var clock = Stopwatch.StartNew();

        Assert.ThrowsAny<OperationCanceledException>(() => QmpClient.Connect(Socket, TimeSpan.FromSeconds(30), cancel.Token));

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(3), $"took {clock.Elapsed}");
    }

    [Fact]
    public void CapabilitiesRefused_ConnectThrowsTheError()
    {
        using var server = new FakeQmpServer(Socket, async peer =>
        {
            await peer.SendAsync(FakeQmpServer.Greeting);
            var (_, id) = await peer.ExpectAsync("qmp_capabilities");
            await peer.SendAsync($$$"""{"id": {{{id}}}, "error": {"class": "GenericError", "desc": "Capabilities negotiation is already complete"}}""");
            await peer.HoldAsync();
        });

        var e = Assert.Throws<QmpException>(() => QmpClient.Connect(Socket, Generous));

        Assert.Equal("qmp_capabilities", e.Command);
        Assert.Equal("Capabilities negotiation is already complete", e.Description);
    }

    [Fact]
    public void SomethingThatIsNotJson_BreaksTheConnectionWithAClearError()
    {
        using var server = new FakeQmpServer(Socket, async peer =>
        {
            await peer.HandshakeAsync();
            await peer.ExpectAsync("query-status");
            await peer.SendAsync("this is not QMP");
            await peer.HoldAsync();
        });
        using var qmp = QmpClient.Connect(Socket, Generous);

        var e = Assert.Throws<QmpConnectionException>(() => qmp.Execute("query-status", timeout: Generous));

        Assert.Contains("not JSON", e.Message);
        Assert.Contains("this is not QMP", e.Message);
    }

    [Fact]
    public void WaitForEvent_ReturnsEventsAlreadyReceivedOrStillToCome_AndTimesOutListingWhatCame()
    {
        using var server = new FakeQmpServer(Socket, async peer =>
        {
            await peer.HandshakeAsync();
            await peer.EventAsync("STOP");
            await Task.Delay(200);
            await peer.EventAsync("SHUTDOWN", """{"guest": true, "reason": "guest-shutdown"}""");
            await peer.HoldAsync();
        });
        using var qmp = QmpClient.Connect(Socket, Generous);

        var shutdown = qmp.WaitForEvent("SHUTDOWN", Generous);
        var stop = qmp.WaitForEvent("STOP", TimeSpan.FromMilliseconds(1));
        var e = Assert.Throws<QmpTimeoutException>(() => qmp.WaitForEvent("RESET", TimeSpan.FromMilliseconds(300)));

        Assert.Equal("guest-shutdown", shutdown.GetProperty("data").GetProperty("reason").GetString());
        Assert.Equal("STOP", stop.GetProperty("event").GetString());
        Assert.Contains("RESET", e.Message);
        Assert.Contains("STOP, SHUTDOWN", e.Message);
        Assert.Throws<QmpTimeoutException>(() => qmp.WaitForEvent("STOP", TimeSpan.FromMilliseconds(50), startIndex: 1));
    }

    [Fact]
    public void ConvenienceCommands_SendTheArgumentsQemuExpects()
    {
        var seen = new List<JsonElement>();
        using var server = new FakeQmpServer(Socket, async peer =>
        {
            await peer.HandshakeAsync();
            foreach (var name in new[] { "inject-nmi", "pmemsave", "dump-guest-memory" })
            {
                var (command, id) = await peer.ExpectAsync(name);
                seen.Add(command);
                await peer.ReplyAsync(id);
            }
            var (_, cpus) = await peer.ExpectAsync("query-cpus-fast");
            await peer.ReplyAsync(cpus, """
                [{"thread-id": 6267, "props": {"core-id": 0, "thread-id": 0, "socket-id": 0}, "qom-path": "/machine/unattached/device[0]", "cpu-index": 0, "target": "x86_64"},
                 {"thread-id": 6268, "props": {"core-id": 1, "thread-id": 0, "socket-id": 0}, "qom-path": "/machine/unattached/device[2]", "cpu-index": 1, "target": "x86_64"}]
                """.ReplaceLineEndings(" "));
            // QEMU 7.2 sends SHUTDOWN and may close before the quit reply arrives.
            await peer.ExpectAsync("quit");
            await peer.EventAsync("SHUTDOWN", """{"guest": false, "reason": "host-qmp-quit"}""");
            peer.Close();
        });
        using var qmp = QmpClient.Connect(Socket, Generous);

        qmp.InjectNmi();
        qmp.PmemSave(0x1000, 512, "mem.bin");
        qmp.DumpGuestMemory("vmcore");
        var cpus = qmp.QueryCpusFast();
        qmp.Quit();

        server.AssertScriptSucceeded();
        Assert.False(seen[0].TryGetProperty("arguments", out _));
        var pmem = seen[1].GetProperty("arguments");
        Assert.Equal(0x1000UL, pmem.GetProperty("val").GetUInt64());
        Assert.Equal(512UL, pmem.GetProperty("size").GetUInt64());
        Assert.Equal(Path.GetFullPath("mem.bin"), pmem.GetProperty("filename").GetString());
        var dump = seen[2].GetProperty("arguments");
        Assert.False(dump.GetProperty("paging").GetBoolean());
        Assert.False(dump.GetProperty("detach").GetBoolean());
        Assert.Equal("file:" + Path.GetFullPath("vmcore"), dump.GetProperty("protocol").GetString());
        Assert.Equal([0, 1], cpus.Select(c => c.CpuIndex));
        Assert.Equal(6268, cpus[1].ThreadId);
        Assert.Equal("x86_64", cpus[1].Target);
        Assert.Equal(1, cpus[1].Props.GetProperty("core-id").GetInt32());
    }

    [Fact]
    public void DiagnosticContext_IsAppendedToTimeouts()
    {
        using var server = new FakeQmpServer(Socket, async peer =>
        {
            await peer.HandshakeAsync();
            await peer.HoldAsync();
        });
        using var qmp = QmpClient.Connect(Socket, Generous);
        qmp.DiagnosticContext = () => "machine context here";

        var e = Assert.Throws<QmpTimeoutException>(() => qmp.Execute("query-status", timeout: TimeSpan.FromMilliseconds(100)));

        Assert.Contains("machine context here", e.Message);
    }
}
