// Small formatting helpers shared by the failure messages.
using System.Globalization;
using System.Text.RegularExpressions;

namespace Nmidump.Qemu;

internal static partial class Text
{
    /// <summary>"250 ms", "1.5 s".</summary>
    public static string Duration(TimeSpan t) => t < TimeSpan.FromSeconds(1)
        ? ((int)t.TotalMilliseconds).ToString(CultureInfo.InvariantCulture) + " ms"
        : t.TotalSeconds.ToString("0.0##", CultureInfo.InvariantCulture) + " s";

    /// <summary>The start of a possibly long text, on one line, for an error message.</summary>
    public static string Preview(string text, int max = 200)
    {
        var flat = text.Replace("\r", "\\r").Replace("\n", "\\n");
        return flat.Length <= max ? "'" + flat + "'" : "'" + flat[..max] + "'...";
    }

    /// <summary>Quotes one argument for a POSIX shell, so a printed command line can be pasted.</summary>
    public static string ShellQuote(string arg) =>
        arg.Length > 0 && PlainArgument().IsMatch(arg) ? arg : "'" + arg.Replace("'", "'\\''") + "'";

    [GeneratedRegex(@"^[A-Za-z0-9_@%+=:,./-]+$")]
    private static partial Regex PlainArgument();
}
