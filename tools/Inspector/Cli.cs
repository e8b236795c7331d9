namespace Nmidump.Inspector; public static class Cli { public static int Run(string[] a) => 0; }
