// Which channels the capture kernel sends the vmcore on, from dump_channels= and what it found:
// the shared-memory window when there is one (hundreds of MB/s), debugcon otherwise or besides;
// or the second serial port (COM2 at 115200 baud, a real machine's channel) when asked for. Pure
// logic, so host tests cover every combination.

/// <summary>dump_channels=: where the capture kernel sends the vmcore; same order as the table's words (Auto: not given).</summary>
public enum DumpChannels
{
    Auto = -1,
    Window,
    Debugcon,
    Both,
    None,
    Serial,
}

/// <summary>The channels one export uses.</summary>
public struct ExportPlan
{
    public bool ToWindow;
    public bool ToDebugcon;
    public bool ToSerial;
    /// <summary>dump_channels=window was asked for but no usable window was found: debugcon instead.</summary>
    public bool WindowMissing;
    /// <summary>dump_channels=serial was asked for but the firmware lists no COM2: nothing is sent (one line says so).</summary>
    public bool SerialMissing;

    public readonly bool Sends => ToWindow || ToDebugcon || ToSerial;
}

public static class ExportChannels
{
    /// <summary>Whether the window is worth looking for (PCI scan, BAR mapping) at all.</summary>
    public static bool WantsWindow(DumpChannels wanted) =>
        wanted != DumpChannels.Debugcon && wanted != DumpChannels.None && wanted != DumpChannels.Serial;

    /// <summary>
    /// The plan for what was asked, whether a window big enough for the stream was found and whether
    /// the serial port is there. A missing window falls back to debugcon (QEMU's own port); a missing
    /// COM2 falls back to nothing: the machine that asked for it has no debugcon either.
    /// </summary>
    public static ExportPlan Choose(DumpChannels wanted, bool windowUsable, bool serialPresent = false)
    {
        ExportPlan plan = default;
        if (wanted == DumpChannels.None) return plan;
        if (wanted == DumpChannels.Serial)
        {
            plan.ToSerial = serialPresent;
            plan.SerialMissing = !serialPresent;
            return plan;
        }
        plan.ToWindow = windowUsable && wanted != DumpChannels.Debugcon;
        plan.ToDebugcon = wanted == DumpChannels.Debugcon || wanted == DumpChannels.Both || !windowUsable;
        plan.WindowMissing = wanted == DumpChannels.Window && !windowUsable;
        return plan;
    }
}
