// The capture kernel's side of the BMC (Linux: the kdump kernel's ipmi_watchdog heartbeat): it takes
// over the KCS interface the first kernel named in VMCOREINFO (IPMI_KCS_*), reads back the SEL
// record purgatory wrote, pets the watchdog purgatory armed (CRASH_WATCHDOG=) while the export
// progresses and stops it when the export is done: a capture kernel that hangs is reset, one that
// finishes is not.
using System;

static class CaptureBmc
{
    /// <summary>How often the export pets the watchdog (crash_watchdog= is at least 1 s).</summary>
    const ulong PetIntervalUs = 500_000;

    static bool s_watchdog;
    static ulong s_nextPet;
    static int s_pets;

    public static void Attach(ReadOnlySpan<byte> info)
    {
        if (!Vmcoreinfo.FindHex(info, "IPMI_KCS_DATA", out ulong data) || !Vmcoreinfo.FindHex(info, "IPMI_KCS_STATUS", out ulong status))
        {
            Log.Info("capture: BMC: the first kernel found none; no SEL, no watchdog");
            return;
        }
        if (!Bmc.Attach((ushort)data, (ushort)status, "capture: BMC: ")) return;
        if (Vmcoreinfo.FindUnsigned(info, "CRASH_WATCHDOG", out ulong seconds) && seconds > 0)
        {
            s_watchdog = true;
            bool petted = Bmc.PetWatchdog();
            s_nextPet = Clock.DeadlineAfterUs(PetIntervalUs);
            if (petted) Log.Info($"capture: BMC watchdog ({seconds} s, armed before the jump) petted while the export runs");
            else Log.Warn($"capture: BMC watchdog ({seconds} s) does not take a pet; it may reset the machine mid-export");
        }
        LogLine l = default;
        l.Append("capture: BMC SEL: ");
        if (Bmc.NewestSel(out SelEntry e)) Ipmi.DescribeRecord(ref l, in e);
        else l.Append("no record read back (the SEL is empty or the BMC did not answer)");
        Log.Info(ref l);
    }

    /// <summary>Called as the export progresses: a pet when the interval has passed.</summary>
    public static void Tick()
    {
        if (!s_watchdog || !Clock.Passed(s_nextPet)) return;
        if (Bmc.PetWatchdog()) s_pets++;
        s_nextPet = Clock.DeadlineAfterUs(PetIntervalUs);
    }

    /// <summary>The export is over (or there was none): the watchdog is not needed any more.</summary>
    public static void Done()
    {
        if (!s_watchdog) return;
        s_watchdog = false;
        if (Bmc.StopWatchdog()) Log.Info($"capture: BMC watchdog stopped ({s_pets} pets during the export)");
        else Log.Warn("capture: the BMC watchdog could not be stopped; it will reset the machine");
    }
}
