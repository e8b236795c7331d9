// `./build.sh inspect <vmcore> [--kernel out/kernel.elf]`: the inspector (tools/Inspector).
namespace Nmidump.Build;

public static class InspectCommand
{
    public static int Run(string[] args) => Nmidump.Inspector.Cli.Run(args);
}
