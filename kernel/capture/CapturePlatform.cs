// What the capture kernel does besides the dump, for the machine it runs on: the text screen the
// first kernel mirrored its console on (the report continues below the panic), and the test
// triggers that make the capture kernel fail or hang (capture_test=).
using System;

static unsafe class CapturePlatform
{
    /// <summary>The first kernel's text screen (VMCOREINFO VGA_TEXT_*), kept as it is, the log so far replayed below it.</summary>
    public static void UseScreen(ReadOnlySpan<byte> vmcoreinfo)
    {
        if (!Vmcoreinfo.FindHex(vmcoreinfo, "VGA_TEXT_BUFFER", out ulong buffer)
            || !Vmcoreinfo.FindUnsigned(vmcoreinfo, "VGA_TEXT_COLUMNS", out ulong columns)
            || !Vmcoreinfo.FindUnsigned(vmcoreinfo, "VGA_TEXT_ROWS", out ulong rows)
            || columns > BiosDataArea.MaxColumns || rows > BiosDataArea.MaxRows
            || buffer == 0 || buffer + columns * rows * 2 > PageTableBits.IdentityMapEnd)
            return;
        if (VgaText.Enable(buffer, (int)columns, (int)rows, keepContents: true)) Log.ReplayOnScreen();
    }

    /// <summary>capture_test= on the module line: FAIL takes the failure path at once, HANG stops this CPU for good (interrupts off).</summary>
    public static void TestFailure()
    {
        switch ((CaptureTest)Params.Current.Choice(BootParam.CaptureTest))
        {
            case CaptureTest.Fail:
                Log.Emerg("capture: capture_test=FAIL: failing at once");
                Capture.Fail();
                break;
            case CaptureTest.Hang:
                Log.Emerg("capture: capture_test=HANG: hanging with interrupts off");
                Cpu.DisableInterrupts();
                Cpu.HaltForever();
                break;
        }
    }
}

/// <summary>capture_test=: same order as the table's words (None: not given).</summary>
public enum CaptureTest { None = -1, Fail, Hang }
