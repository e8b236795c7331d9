namespace Nmidump.Inspector.Tests;

public class InspectOutputTests
{
    [Fact]
    public void Dump()
    {
        using var dir = new TempDir();
        string path = dir.Write("vmcore", FakeCrash.Default);
        var run = CliRun.Of(path);
        File.WriteAllText("/tmp/inspect-out.txt", run.Out + "\n---stderr---\n" + run.Err);
        Assert.Equal(0, run.Exit);
    }
}
