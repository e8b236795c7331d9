// The KCS (Keyboard Controller Style) system interface of an IPMI BMC: IPMI v2.0 section 9, the
// write/read state machine of figures 9-6 and 9-7 and the error exit of 9-8, as Linux's
// ipmi_kcs_sm.c drives it. Every wait for IBF or OBF is bounded by a deadline for the whole
// transaction, and there is no lock: the one CPU that uses it on the crash path (purgatory, or
// panic without a dump) first ends whatever transaction it finds under way (another CPU stopped in
// the middle of one, or this CPU interrupted by the NMI) with the error exit. Port access goes
// through two function pointers, so host tests drive it against a model BMC.
using System;

/// <summary>How to reach the interface's two registers.</summary>
public unsafe struct KcsPorts
{
    public delegate*<ushort, byte> In;
    public delegate*<ushort, byte, void> Out;
}

public enum KcsResult
{
    Ok,
    /// <summary>IBF never cleared, or OBF never came, within the transaction's bound.</summary>
    Timeout,
    /// <summary>The BMC's state machine was not where the protocol says (it entered ERROR, or a stray state).</summary>
    StateError,
    /// <summary>The status register reads 0xFF: nothing answers at that port.</summary>
    Absent,
    /// <summary>The response did not fit the buffer given.</summary>
    Overflow,
}

public unsafe struct Kcs
{
    // Status register (section 9.7, table 9-1): OBF, IBF, SMS_ATN, C/D, state in bits 7:6.
    const byte StatusObf = 1 << 0, StatusIbf = 1 << 1;
    const int StateIdle = 0, StateRead = 1, StateWrite = 2, StateError = 3;
    // Control codes (table 9-3): to the command register, but READ goes to the data register.
    const byte GetStatusAbort = 0x60, WriteStart = 0x61, WriteEnd = 0x62, ReadByte = 0x68;

    public ushort DataPort, StatusPort;
    KcsPorts _io;
    ulong _deadline;
    /// <summary>The status code the last error exit read back (0x01 aborted, 0x02 illegal control code, ...).</summary>
    public byte LastErrorCode;

    public Kcs(ushort dataPort, ushort statusPort, KcsPorts io)
    {
        DataPort = dataPort;
        StatusPort = statusPort;
        _io = io;
        _deadline = 0;
        LastErrorCode = 0;
    }

    public readonly byte Status => _io.In(StatusPort);

    static int State(byte status) => status >> 6;

    /// <summary>Whether anything answers (an absent device's floating bus reads 0xFF).</summary>
    public readonly bool Present => Status != 0xFF;

    /// <summary>
    /// One request and its response (network function and LUN, command, data; the response repeats
    /// them with the completion code third), within boundUs in all. A transaction another user left
    /// half-done is ended with the error exit first.
    /// </summary>
    public KcsResult Transact(ReadOnlySpan<byte> request, Span<byte> response, out int length, ulong boundUs)
    {
        length = 0;
        _deadline = Clock.DeadlineAfterUs(boundUs);
        byte status = Status;
        if (status == 0xFF) return KcsResult.Absent;
        if (State(status) != StateIdle || (status & StatusObf) != 0)
        {
            KcsResult abort = ErrorExit();
            if (abort != KcsResult.Ok) return abort;
        }
        KcsResult r = Write(request);
        if (r == KcsResult.Ok) r = Read(response, out length);
        if (r == KcsResult.StateError) ErrorExit();
        return r;
    }

    /// <summary>Figure 9-6: WRITE_START, every byte but the last, WRITE_END, the last byte.</summary>
    KcsResult Write(ReadOnlySpan<byte> request)
    {
        if (request.Length == 0) return KcsResult.StateError;
        if (!WaitIbfClear()) return KcsResult.Timeout;
        ClearObf();
        _io.Out(StatusPort, WriteStart);
        for (int i = 0; i < request.Length; i++)
        {
            bool last = i == request.Length - 1;
            if (last)
            {
                KcsResult e = ExpectWrite();
                if (e != KcsResult.Ok) return e;
                _io.Out(StatusPort, WriteEnd);
            }
            KcsResult w = ExpectWrite();
            if (w != KcsResult.Ok) return w;
            _io.Out(DataPort, request[i]);
        }
        return KcsResult.Ok;
    }

    /// <summary>Waits for IBF, checks the state is WRITE, and drains OBF (a BMC may post a byte there on every step).</summary>
    KcsResult ExpectWrite()
    {
        if (!WaitIbfClear()) return KcsResult.Timeout;
        if (State(Status) != StateWrite) return KcsResult.StateError;
        ClearObf();
        return KcsResult.Ok;
    }

    /// <summary>Figure 9-7: a byte per READ while the state is READ; IDLE ends it with one dummy byte to drain.</summary>
    KcsResult Read(Span<byte> response, out int length)
    {
        length = 0;
        while (true)
        {
            if (!WaitIbfClear()) return KcsResult.Timeout;
            int state = State(Status);
            if (state == StateRead)
            {
                if (!WaitObfSet()) return KcsResult.Timeout;
                byte b = _io.In(DataPort);
                if (length >= response.Length) return KcsResult.Overflow;
                response[length++] = b;
                _io.Out(DataPort, ReadByte);
            }
            else if (state == StateIdle)
            {
                if (!WaitObfSet()) return KcsResult.Timeout;
                _io.In(DataPort);
                return KcsResult.Ok;
            }
            else
            {
                return KcsResult.StateError;
            }
        }
    }

    /// <summary>
    /// Figure 9-8, the error exit: GET_STATUS/ABORT, a 0 byte, the status code read back, READ,
    /// the final dummy byte. Leaves the interface IDLE; LastErrorCode says why it was not.
    /// </summary>
    public KcsResult ErrorExit()
    {
        if (!WaitIbfClear()) return KcsResult.Timeout;
        _io.Out(StatusPort, GetStatusAbort);
        if (!WaitIbfClear()) return KcsResult.Timeout;
        ClearObf();
        _io.Out(DataPort, 0);
        if (!WaitIbfClear()) return KcsResult.Timeout;
        if (State(Status) != StateRead) return KcsResult.StateError;
        if (!WaitObfSet()) return KcsResult.Timeout;
        LastErrorCode = _io.In(DataPort);
        _io.Out(DataPort, ReadByte);
        if (!WaitIbfClear()) return KcsResult.Timeout;
        if (State(Status) != StateIdle) return KcsResult.StateError;
        if (!WaitObfSet()) return KcsResult.Timeout;
        _io.In(DataPort);
        return KcsResult.Ok;
    }

    /// <summary>The error exit on its own, within boundUs: for a driver taking over an interface in an unknown state.</summary>
    public KcsResult Recover(ulong boundUs)
    {
        _deadline = Clock.DeadlineAfterUs(boundUs);
        byte status = Status;
        if (status == 0xFF) return KcsResult.Absent;
        return State(status) == StateIdle && (status & StatusObf) == 0 ? KcsResult.Ok : ErrorExit();
    }

    readonly bool WaitIbfClear()
    {
        while ((Status & StatusIbf) != 0)
        {
            if (Clock.Passed(_deadline)) return false;
            Clock.CpuRelax();
        }
        return true;
    }

    readonly bool WaitObfSet()
    {
        while ((Status & StatusObf) == 0)
        {
            if (Clock.Passed(_deadline)) return false;
            Clock.CpuRelax();
        }
        return true;
    }

    readonly void ClearObf()
    {
        if ((Status & StatusObf) != 0) _io.In(DataPort);
    }
}
