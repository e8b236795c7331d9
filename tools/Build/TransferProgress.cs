// What `run` shows while the vmcore crosses from the guest: on a terminal, one status line redrawn
// in place (a bar, bytes, rate, time left), measured on the host as the receiver verifies chunks,
// with the guest's console lines printed above it; at the end, one summary line in any case.
using System.Diagnostics;

namespace Nmidump.Build;

public sealed class TransferProgress
{
    const int BarWidth = 24;
    static readonly TimeSpan RedrawEvery = TimeSpan.FromMilliseconds(100);

    readonly TextWriter _out;
    readonly bool _terminal;
    readonly object _gate = new();
    readonly Stopwatch _clock = new();
    TimeSpan? _lastDraw;
    string _bar = "";
    ulong _done, _total;

    /// <param name="terminal">Draw the status line (an interactive terminal); otherwise only the summary is printed.</param>
    public TransferProgress(TextWriter output, bool terminal)
    {
        _out = output;
        _terminal = terminal;
    }

    /// <summary>Host time since the first verified bytes.</summary>
    public TimeSpan Elapsed => _clock.Elapsed;
    public ulong Done { get { lock (_gate) return _done; } }

    /// <summary>A serial line from the guest: above the status line, which is drawn again under it.</summary>
    public void Line(string text)
    {
        lock (_gate)
        {
            if (_terminal && _bar.Length > 0) _out.Write("\r\u001b[K");
            _out.WriteLine(text);
            if (_terminal && _bar.Length > 0) _out.Write(_bar);
            _out.Flush();
        }
    }

    /// <summary>The receiver's report after each chunk.</summary>
    public void Update(ulong done, ulong total)
    {
        lock (_gate)
        {
            if (!_clock.IsRunning) _clock.Start();
            _done = done;
            _total = total;
            if (!_terminal) return;
            TimeSpan now = _clock.Elapsed;
            if (done < total && _lastDraw is TimeSpan last && now - last < RedrawEvery) return;
            _lastDraw = now;
            _bar = Format(done, total, now);
            _out.Write("\r\u001b[K" + _bar);
            _out.Flush();
        }
    }

    /// <summary>Removes the status line (before the summary and the report).</summary>
    public void Finish()
    {
        lock (_gate)
        {
            if (_terminal && _bar.Length > 0) _out.Write("\r\u001b[K");
            _bar = "";
            _out.Flush();
        }
    }

    /// <summary>"vmcore [#########...............]  412.0 of 1007.5 MiB  780 MB/s  0.8 s left".</summary>
    public static string Format(ulong done, ulong total, TimeSpan elapsed)
    {
        double fraction = total == 0 ? 1 : Math.Min(1.0, (double)done / total);
        int filled = (int)Math.Round(fraction * BarWidth);
        double seconds = elapsed.TotalSeconds;
        // The clock starts at the first chunk: until a little time has passed a rate means nothing.
        double rate = seconds >= 0.05 ? done / seconds : 0;
        string left = done >= total ? "done" : rate > 0 ? $"{(total - done) / rate:F1} s left" : "starting";
        string speed = rate > 0 ? $"{rate / 1e6:F0} MB/s" : "- MB/s";
        return $"vmcore [{new string('#', filled)}{new string('.', BarWidth - filled)}] {Mib(done)} of {Mib(total)} MiB  {speed}  {left}";
    }

    /// <summary>"run: received 1056443392 bytes (1007.5 MiB) in 1.38 s (765 MB/s) through the window; NMI to verified vmcore 1.62 s".</summary>
    public static string Summary(long bytes, TimeSpan transfer, TimeSpan nmiToVerified, string channel)
    {
        double rate = transfer.TotalSeconds > 0 ? bytes / 1e6 / transfer.TotalSeconds : 0;
        return $"run: received {bytes} bytes ({Mib((ulong)bytes)} MiB) in {transfer.TotalSeconds:F2} s ({rate:F0} MB/s) through {channel}; NMI to verified vmcore {nmiToVerified.TotalSeconds:F2} s";
    }

    static string Mib(ulong bytes) => (bytes / 1048576.0).ToString("F1", System.Globalization.CultureInfo.InvariantCulture);
}
