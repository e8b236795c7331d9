// run's view of the transfer: on a terminal one status line redrawn in place (bar, bytes, rate,
// time left) with the guest's lines printed above it; redirected, no bar and no escape codes; a
// summary line either way.
using Nmidump.Build;
using Xunit;

namespace Nmidump.Qemu.Tests;

public class TransferProgressTests
{
    [Fact]
    public void Format_ShowsTheBarBytesRateAndTimeLeft()
    {
        Assert.Equal("vmcore [############............] 512.0 of 1024.0 MiB  537 MB/s  1.0 s left",
            TransferProgress.Format(512UL << 20, 1024UL << 20, TimeSpan.FromSeconds(1)));
        Assert.Equal("vmcore [########################] 1024.0 of 1024.0 MiB  537 MB/s  done",
            TransferProgress.Format(1024UL << 20, 1024UL << 20, TimeSpan.FromSeconds(2)));
        Assert.Equal("vmcore [........................] 0.0 of 1024.0 MiB  - MB/s  starting",
            TransferProgress.Format(0, 1024UL << 20, TimeSpan.Zero));
        Assert.Equal("vmcore [........................] 1.0 of 1024.0 MiB  - MB/s  starting",
            TransferProgress.Format(1UL << 20, 1024UL << 20, TimeSpan.FromMilliseconds(1)));
    }

    [Fact]
    public void Summary_IsOneLineWithSizeTimeRateAndTheNmiToVerifiedTime()
    {
        Assert.Equal("run: received 1056443392 bytes (1007.5 MiB) in 1.38 s (766 MB/s) through the window; NMI to verified vmcore 1.62 s",
            TransferProgress.Summary(1056443392, TimeSpan.FromSeconds(1.38), TimeSpan.FromSeconds(1.62), "the window"));
    }

    [Fact]
    public void OnATerminal_TheBarIsRedrawnAndGuestLinesGoAboveIt()
    {
        var output = new StringWriter();
        var p = new TransferProgress(output, terminal: true);
        p.Update(1 << 20, 4 << 20);
        p.Line("capture: export: 1 of 4 MiB");
        p.Update(4 << 20, 4 << 20);
        p.Finish();
        string text = output.ToString();
        Assert.Contains("\r\u001b[K" + "capture: export: 1 of 4 MiB", text);
        Assert.Contains("vmcore [", text);
        Assert.EndsWith("\r\u001b[K", text);
        Assert.Equal(4UL << 20, p.Done);
    }

    [Fact]
    public void Redirected_ThereIsNoBarAndNoEscapeCode()
    {
        var output = new StringWriter();
        var p = new TransferProgress(output, terminal: false);
        p.Update(1 << 20, 4 << 20);
        p.Line("capture: export done");
        p.Update(4 << 20, 4 << 20);
        p.Finish();
        Assert.Equal("capture: export done" + Environment.NewLine, output.ToString());
    }
}
