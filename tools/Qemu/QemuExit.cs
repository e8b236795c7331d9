// What QEMU's exit status says about how the guest stopped. The kernel powers off through ACPI S5
// (status 0) or writes to isa-debug-exit at 0x501, which makes QEMU exit with (value << 1) | 1.
namespace Nmidump.Qemu;

/// <summary>Decodes the exit status of a QEMU started by <see cref="QemuMachine"/>.</summary>
public static class QemuExit
{
    /// <summary>ACPI S5 power-off; also a guest reset under -no-reboot, or a QMP quit.</summary>
    public const int AcpiPowerOff = 0;

    /// <summary>isa-debug-exit written with 0: power-off without ACPI.</summary>
    public const int CleanPowerOff = (0 << 1) | 1;

    /// <summary>isa-debug-exit written with 1: the kernel detected a failure.</summary>
    public const int KernelFailure = (1 << 1) | 1;

    /// <summary>True for the statuses of a guest that stopped on purpose (0 and 1).</summary>
    public static bool IsClean(int status) => status is AcpiPowerOff or CleanPowerOff;

    /// <summary>One line for logs and failure messages, e.g. "kernel-detected failure
    /// (isa-debug-exit 1, status 3)".</summary>
    public static string Describe(int status) => status switch
    {
        AcpiPowerOff => "ACPI power-off (status 0; also a reset under -no-reboot or a QMP quit)",
        CleanPowerOff => "clean power-off (isa-debug-exit 0, status 1)",
        KernelFailure => "kernel-detected failure (isa-debug-exit 1, status 3)",
        // .NET reports a process killed by signal N as 128 + N (SIGKILL: 137).
        > 128 and < 128 + 65 => $"killed by signal {status - 128} (status {status})",
        _ => $"killed/other status {status}",
    };
}
