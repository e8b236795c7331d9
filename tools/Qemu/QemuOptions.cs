// What one QEMU machine is started with. The defaults match how the project always runs its
// kernel: TCG, the i440FX "pc" board, serial console on COM1, isa-debug-exit for the exit status.
namespace Nmidump.Qemu;

/// <summary>Settings for <see cref="QemuMachine.Start"/>.</summary>
public sealed record QemuOptions
{
    /// <summary>Multiboot ELF passed with <c>-kernel</c>. Null boots the firmware alone (SeaBIOS
    /// then waits for a boot device forever), which the library's own smoke test uses.</summary>
    public string? Kernel { get; init; }

    /// <summary>Kernel command line (<c>-append</c>). QEMU's multiboot loader hands the kernel
    /// "&lt;kernel path&gt; &lt;append&gt;".</summary>
    public string? Append { get; init; }

    /// <summary>Multiboot modules, each "path args" (the path may not contain a space or a comma:
    /// QEMU splits the module string at the first space and the list at commas). Joined with ','
    /// into one <c>-initrd</c>.</summary>
    public IReadOnlyList<string> Modules { get; init; } = [];

    /// <summary>Number of virtual CPUs (<c>-smp</c>).</summary>
    public int Smp { get; init; } = 1;

    /// <summary>Guest RAM in MiB (<c>-m</c>).</summary>
    public int MemoryMiB { get; init; } = 128;

    /// <summary>Add <c>-no-reboot</c>: a guest reset (triple fault, keyboard-controller reset)
    /// ends QEMU with status 0 instead of rebooting forever.</summary>
    public bool NoReboot { get; init; } = true;

    /// <summary>Hard limit for the whole machine, measured from start: when it passes QEMU is
    /// killed and every wait fails with a message saying so. <see cref="System.Threading.Timeout.InfiniteTimeSpan"/>
    /// sets no limit (an interactive run).</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Appended last to QEMU's arguments (e.g. <c>-debugcon file:PATH</c>).</summary>
    public IReadOnlyList<string> ExtraArgs { get; init; } = [];

    /// <summary>Copy each serial line to <see cref="Console.Out"/> as it arrives.</summary>
    public bool EchoSerial { get; init; }

    /// <summary>Also hand each serial line to this callback as it arrives (e.g. xunit's
    /// ITestOutputHelper.WriteLine). Called on the reader thread; must not block.</summary>
    public Action<string>? SerialLineSink { get; init; }

    /// <summary>File that receives the serial output byte for byte (created or truncated).</summary>
    public string? SerialLogPath { get; init; }

    /// <summary>The emulator to run: a name looked up on PATH or a path. Tests substitute a
    /// script here.</summary>
    public string QemuBinary { get; init; } = "qemu-system-x86_64";

    /// <summary>Directory for the QMP socket. Null: a fresh temporary directory that
    /// <see cref="QemuMachine.Dispose"/> removes. A given directory is left in place.</summary>
    public string? WorkDirectory { get; init; }
}
