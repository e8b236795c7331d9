// `./build.sh run`: build if needed, boot the kernel in QEMU with the serial console on this
// terminal, and return when the kernel powers off (it is told to with poweroff_after_ms=).
using Nmidump.Qemu;

namespace Nmidump.Build;

public static class RunCommand
{
    public static int Run(string[] args)
    {
        var o = new Options(args, "--smp", "--mem", "--append", "--poweroff-ms", "--timeout");
        int smp = o.GetInt("--smp", 4, 1, 64);
        int mem = o.GetInt("--mem", 256, 16, 16384);
        int poweroffMs = o.GetInt("--poweroff-ms", 1000, 0, 3_600_000);
        int timeout = o.GetInt("--timeout", 120, 1, 86400);
        string append = ((o.Get("--append") ?? "") + $" poweroff_after_ms={poweroffMs}").Trim();

        string kernel = KernelBuild.Build();
        Prerequisites.Ensure(Prerequisites.Need.Run);
        Console.WriteLine($"run: qemu-system-x86_64 -smp {smp} -m {mem}M -kernel {Paths.Relative(kernel)} -append \"{append}\"");
        using var vm = QemuMachine.Start(new QemuOptions
        {
            Kernel = kernel,
            Append = append,
            Smp = smp,
            MemoryMiB = mem,
            EchoSerial = true,
            SerialLogPath = Path.Combine(Paths.Out, "serial.log"),
            Timeout = TimeSpan.FromSeconds(timeout),
        });
        int status;
        try
        {
            status = vm.WaitForExit(TimeSpan.FromSeconds(timeout));
        }
        catch (QemuWaitException e)
        {
            Console.Error.WriteLine($"run: {e.Message}");
            return 1;
        }
        Console.WriteLine($"run: QEMU exited with status {status}: {QemuExit.Describe(status)} (serial log in out/serial.log)");
        return QemuExit.IsClean(status) ? 0 : 1;
    }
}
