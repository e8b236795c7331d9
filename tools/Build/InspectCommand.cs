// `./build.sh inspect <vmcore> [dmesg] [--kernel out/kernel.elf] [--cpu N] [--json]`: the inspector (tools/Inspector).
namespace Nmidump.Build;

public static class InspectCommand
{
    public static int Run(string[] args) => Nmidump.Inspector.Cli.Run(args);
}
