// `./build.sh params`: the kernel's boot parameters, printed from the kernel's own table
// (kernel/params/ is compiled into this tool), so the listing cannot drift from the kernel.
using System.Text;

namespace Nmidump.Build;

public static class ParamsCommand
{
    public static int Run()
    {
        Console.WriteLine("Kernel boot parameters (Linux syntax: name, name=value, name=\"quoted value\", -- ends them):");
        for (var p = (BootParam)0; p < BootParam.Count; p++)
        {
            var usage = BootParams.FormatUsage(p);
            Console.WriteLine("  " + Encoding.ASCII.GetString(usage.AsSpan().ToArray()));
            Console.WriteLine("      " + Encoding.ASCII.GetString(BootParams.Spec(p).Help));
            for (int part = 0; BootParams.FormatNames(p, part) is var names && names.Length > 0; part++)
                Console.WriteLine("      " + Encoding.ASCII.GetString(names.AsSpan().ToArray()));
        }
        return 0;
    }
}
