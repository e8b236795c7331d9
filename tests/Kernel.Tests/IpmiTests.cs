// The BMC's messages and its KCS interface on the host: every request's bytes against those QEMU's
// ipmi-bmc-sim was seen to take, the answers it gives parsed, and the KCS state machine driven
// against a model of that BMC (QEMU's status values, its quirks: OBF set on every write step, state
// kept across a reset), including a BMC that is absent, stuck or left mid-transaction.
using System.Text;
using Xunit;

namespace Kernel.Tests;

/// <summary>A KCS BMC as QEMU 7.2's isa-ipmi-kcs + ipmi-bmc-sim behaves (the answers are synchronous).</summary>
static unsafe class ModelBmc
{
    public const ushort Data = 0xCA2, Status = 0xCA3;
    const int Idle = 0, Read = 1, Write = 2, Error = 3;
    static int s_state;
    static bool s_obf, s_writeEnd;
    static byte s_data, s_errorCode;
    static List<byte> s_request = new();
    static byte[] s_response = [];
    static int s_next;
    public static bool Absent, StuckIbf;
    public static List<byte[]> Sel = new();
    public static int Transactions;

    public static KcsPorts Ports => new KcsPorts { In = &In, Out = &Out };

    public static void Reset()
    {
        s_state = Idle;
        s_obf = s_writeEnd = false;
        s_data = s_errorCode = 0;
        s_request.Clear();
        s_response = [];
        Absent = StuckIbf = false;
        Sel.Clear();
        Transactions = 0;
    }

    /// <summary>What a reboot in the middle of a write leaves (QEMU's KCS has no reset handler).</summary>
    public static void LeaveMidWrite()
    {
        s_state = Write;
        s_obf = true;
        s_request.Clear();
        s_request.Add(0x18);
    }

    static byte In(ushort port)
    {
        if (Absent) return 0xFF;
        if (port == Status) return (byte)(s_state << 6 | (StuckIbf ? 2 : 0) | (s_obf ? 1 : 0));
        s_obf = false;
        return s_data;
    }

    static void ToError(byte code)
    {
        s_state = Error;
        s_errorCode = code;
    }

    static void Out(ushort port, byte v)
    {
        if (Absent || StuckIbf) return;
        if (port == Status)
        {
            if (v == 0x60)
            {
                if (s_state != Error) s_errorCode = 0x01;
                s_state = Error;
                s_obf = true;
            }
            else if (v == 0x61 && s_state == Idle) { s_state = Write; s_request.Clear(); s_writeEnd = false; s_obf = true; }
            else if (v == 0x62 && s_state == Write) { s_writeEnd = true; s_obf = true; }
            else ToError(0x02);
            return;
        }
        switch (s_state)
        {
            case Write:
                s_request.Add(v);
                s_obf = true;
                if (!s_writeEnd) return;
                s_response = Answer(s_request.ToArray());
                Transactions++;
                s_state = Read;
                s_data = s_response[0];
                s_next = 1;
                return;
            case Error:
                s_state = Read;
                s_response = [s_errorCode];
                s_data = s_errorCode;
                s_next = 1;
                s_obf = true;
                return;
            case Read:
                if (v != 0x68) { ToError(0x02); return; }
                if (s_next < s_response.Length) s_data = s_response[s_next++];
                else s_state = Idle;
                s_obf = true;
                return;
        }
    }

    static byte[] Answer(byte[] r)
    {
        byte[] head = [(byte)(r[0] | 0x04), r[1]];
        if (r[0] == 0x18 && r[1] == 0x01) return [.. head, 0x00, 0x20, 0x00, 0x00, 0x00, 0x02, 0x07, 0x00, 0x00, 0x00, 0x00, 0x00];
        if (r[0] == 0x28 && r[1] == 0x44)
        {
            if (r.Length < 18) return [.. head, 0xC7];
            byte[] rec = r[2..18];
            rec[0] = (byte)Sel.Count;
            rec[1] = 0;
            Sel.Add(rec);
            return [.. head, 0x00, rec[0], 0x00];
        }
        if (r[0] == 0x28 && r[1] == 0x43)
        {
            if (Sel.Count == 0) return [.. head, 0xCB];
            int id = r[4] | r[5] << 8;
            int i = id == 0xFFFF ? Sel.Count - 1 : id;
            if (i >= Sel.Count) return [.. head, 0xCB];
            int next = i == Sel.Count - 1 ? 0xFFFF : i + 1;
            return [.. head, 0x00, (byte)next, (byte)(next >> 8), .. Sel[i]];
        }
        return [.. head, 0xC1];
    }
}

public unsafe class IpmiTests
{
    static Kcs NewKcs() => new Kcs(ModelBmc.Data, ModelBmc.Status, ModelBmc.Ports);

    static (KcsResult Result, byte[] Response) Transact(ref Kcs kcs, byte[] request, int room = Ipmi.MaxResponse)
    {
        var response = new byte[room];
        var r = kcs.Transact(request, response, out int n, 1_000_000);
        return (r, response[..n]);
    }

    static byte[] Bytes(Func<IntPtr, int> write)
    {
        var b = new byte[64];
        fixed (byte* p = b) return b[..write((IntPtr)p)];
    }

    [Fact]
    public void Requests_AreTheBytesTheSimulatorTakes()
    {
        var buf = new byte[32];
        Assert.Equal(new byte[] { 0x18, 0x01 }, buf[..Ipmi.Request(buf, Ipmi.NetFnApp, Ipmi.CmdGetDeviceId, default)]);
        Assert.Equal(new byte[] { 0x18, 0x24, 0x04, 0x01, 0x00, 0x10, 0x32, 0x00 },
            buf[..Ipmi.SetWatchdog(buf, Ipmi.WatchdogUseSmsOs, Ipmi.WatchdogActionHardReset, 0, Ipmi.WatchdogExpiredSmsOs, 50)]);
        Assert.Equal(new byte[] { 0x28, 0x43, 0x00, 0x00, 0xFF, 0xFF, 0x00, 0xFF }, buf[..Ipmi.GetSelEntry(buf, Ipmi.SelLast)]);
        int n = Ipmi.AddCrashRecord(buf, 3, "NMI: Not continuing"u8);
        byte[] want = [0x28, 0x44, 0, 0, 0xF0, (byte)'N', (byte)'M', 3, .. "NMI: Not c"u8.ToArray()];
        Assert.Equal(want, buf[..n]);
        Assert.Equal(18, n);
    }

    [Fact]
    public void GetDeviceId_ThroughKcs_IsParsed()
    {
        ModelBmc.Reset();
        var kcs = NewKcs();
        var (r, resp) = Transact(ref kcs, [0x18, 0x01]);
        Assert.Equal(KcsResult.Ok, r);
        Assert.Equal(new byte[] { 0x1C, 0x01, 0x00, 0x20, 0x00, 0x00, 0x00, 0x02, 0x07, 0x00, 0x00, 0x00, 0x00, 0x00 }, resp);
        Assert.True(Ipmi.ParseDeviceId(resp, out IpmiDeviceId id));
        Assert.Equal(0x20, id.DeviceId);
        Assert.Equal(0x02, id.IpmiVersion);
        Assert.True(id.SelDevice);
        // The interface is idle again, the final dummy byte drained: the next transaction works too.
        Assert.Equal(KcsResult.Ok, Transact(ref kcs, [0x18, 0x01]).Result);
        Assert.Equal(0, kcs.Status);
    }

    [Fact]
    public void ACrashRecord_IsAddedAndReadBack_AsTheNewest()
    {
        ModelBmc.Reset();
        var kcs = NewKcs();
        var req = new byte[32];
        ModelBmc.Sel.Add([0, 0, 0x02, 1, 2, 3, 4, 0x20, 0, 4, 0x23, 0, 0x6F, 0xC1, 4, 0xFF]);
        var (r, resp) = Transact(ref kcs, req[..Ipmi.AddCrashRecord(req, 1, "crashtest: PANIC"u8)]);
        Assert.Equal(KcsResult.Ok, r);
        Assert.True(Ipmi.ParseAdded(resp, out ushort added));
        Assert.Equal(1, added);
        (r, resp) = Transact(ref kcs, req[..Ipmi.GetSelEntry(req, Ipmi.SelLast)]);
        Assert.Equal(KcsResult.Ok, r);
        Assert.True(Ipmi.ParseSelEntry(resp, out SelEntry e));
        Assert.Equal(1, e.Id);
        Assert.Equal(0xFFFF, e.NextId);
        LogLine l = default;
        Ipmi.DescribeRecord(ref l, in e);
        Assert.Equal("record 0x0001: nmidump crash on CPU 1: \"crashtest:\"", Encoding.ASCII.GetString(l.AsSpan()));
        // Someone else's record (the watchdog's system event) is shown as its type and bytes.
        (r, resp) = Transact(ref kcs, req[..Ipmi.GetSelEntry(req, 0)]);
        Assert.True(Ipmi.ParseSelEntry(resp, out e));
        l = default;
        Ipmi.DescribeRecord(ref l, in e);
        Assert.Equal("record 0x0000: type 0x02, 01 02 03 04 20 00 04 23 00 6f c1 04 ff", Encoding.ASCII.GetString(l.AsSpan()));
    }

    [Fact]
    public void AnEmptySel_OrAGarbledAnswer_IsNotARecord()
    {
        Assert.False(Ipmi.ParseSelEntry([0x2C, 0x43, 0xCB], out _));
        Assert.False(Ipmi.ParseSelEntry([0x2C, 0x43, 0x00, 0xFF], out _));              // too short
        Assert.False(Ipmi.ParseDeviceId([0x2C, 0x01, 0x00, 0x20, 0, 0, 0, 2, 7, 0, 0, 0, 0, 0], out _));   // wrong network function
        Assert.Equal(0xFF, Ipmi.Completion([0x1C, 0x02, 0x00], Ipmi.NetFnApp, Ipmi.CmdGetDeviceId, 0));   // another command's answer
        Assert.Equal(0xC1, Ipmi.Completion([0x1C, 0x22, 0xC1], Ipmi.NetFnApp, Ipmi.CmdResetWatchdog, 0));
    }

    [Fact]
    public void AWatchdogAnswer_IsParsed()
    {
        Assert.True(Ipmi.ParseWatchdog([0x1C, 0x25, 0x00, 0x44, 0x01, 0x00, 0x10, 0x32, 0x00, 0x1E, 0x00], out IpmiWatchdog w));
        Assert.True(w.Running);
        Assert.Equal(0x10, w.ExpirationFlags);
        Assert.Equal(50, w.InitialCount);
        Assert.Equal(30, w.PresentCount);
    }

    [Fact]
    public void AnInterfaceLeftMidWrite_IsAbortedFirst_ThenAnswers()
    {
        ModelBmc.Reset();
        ModelBmc.LeaveMidWrite();
        var kcs = NewKcs();
        Assert.Equal(KcsResult.Ok, kcs.Recover(1_000_000));
        Assert.Equal(0x01, kcs.LastErrorCode);     // "aborted"
        Assert.Equal(0, kcs.Status);
        ModelBmc.LeaveMidWrite();
        var (r, resp) = Transact(ref kcs, [0x18, 0x01]);
        Assert.Equal(KcsResult.Ok, r);
        Assert.True(Ipmi.ParseDeviceId(resp, out _));
    }

    [Fact]
    public void NothingAtThePort_IsAbsent()
    {
        ModelBmc.Reset();
        ModelBmc.Absent = true;
        var kcs = NewKcs();
        Assert.False(kcs.Present);
        Assert.Equal(KcsResult.Absent, kcs.Recover(1_000_000));
        Assert.Equal(KcsResult.Absent, Transact(ref kcs, [0x18, 0x01]).Result);
    }

    [Fact]
    public void AStuckBmc_TimesOutWithinTheBound()
    {
        ModelBmc.Reset();
        ModelBmc.StuckIbf = true;
        var kcs = NewKcs();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var response = new byte[Ipmi.MaxResponse];
        Assert.Equal(KcsResult.Timeout, kcs.Transact([0x18, 0x01], response, out int n, 50_000));
        Assert.Equal(0, n);
        Assert.InRange(clock.ElapsedMilliseconds, 50, 5_000);
        Assert.Equal(0, ModelBmc.Transactions);
    }

    [Fact]
    public void AnAnswerLongerThanTheBuffer_IsAnOverflow_AndTheNextTransactionRecovers()
    {
        ModelBmc.Reset();
        var kcs = NewKcs();
        Assert.Equal(KcsResult.Overflow, Transact(ref kcs, [0x18, 0x01], room: 4).Result);
        Assert.Equal(KcsResult.Ok, Transact(ref kcs, [0x18, 0x01]).Result);
    }
}
