// Which channels the capture kernel sends the vmcore on, from dump_channels= and what it found:
// the shared-memory window when there is one (hundreds of MB/s), debugcon otherwise or besides.
// Pure logic, so host tests cover every combination.

/// <summary>dump_channels=: where the capture kernel sends the vmcore; same order as the table's words (Auto: not given).</summary>
public enum DumpChannels
{
    Auto = -1,
    Window,
    Debugcon,
    Both,
    None,
}

/// <summary>The channels one export uses.</summary>
public struct ExportPlan
{
    public bool ToWindow;
    public bool ToDebugcon;
    /// <summary>dump_channels=window was asked for but no usable window was found: debugcon instead.</summary>
    public bool WindowMissing;
}

public static class ExportChannels
{
    /// <summary>Whether the window is worth looking for (PCI scan, BAR mapping) at all.</summary>
    public static bool WantsWindow(DumpChannels wanted) => wanted != DumpChannels.Debugcon && wanted != DumpChannels.None;

    /// <summary>The plan for what was asked and whether a window big enough for the stream was found.</summary>
    public static ExportPlan Choose(DumpChannels wanted, bool windowUsable)
    {
        ExportPlan plan = default;
        if (wanted == DumpChannels.None) return plan;
        plan.ToWindow = windowUsable && wanted != DumpChannels.Debugcon;
        plan.ToDebugcon = wanted == DumpChannels.Debugcon || wanted == DumpChannels.Both || !windowUsable;
        plan.WindowMissing = wanted == DumpChannels.Window && !windowUsable;
        return plan;
    }
}
