// `./build.sh receive <channel file> <vmcore>`: turn a saved transfer (window or debugcon file)
// into a vmcore, or say exactly what is wrong with it (truncated, damaged chunk, no header).
namespace Nmidump.Build;

public static class ReceiveCommand
{
    public static int Run(string[] args)
    {
        if (args.Length != 2) throw new UsageException("receive: expected 'receive <channel file> <vmcore>'");
        var r = Nmidump.Inspector.DumpReceiver.Receive(args[0], args[1]);
        if (r.Ok) { Console.WriteLine($"receive: {r.Message}"); return 0; }
        Console.Error.WriteLine($"receive: {r.Message}");
        return 2;
    }
}
