// Files that hold guest memory are owner-only whatever the umask: created 0600, and set to 0600
// again where a umask took a bit away. The umask is process-wide, so these run alone.
using System.Runtime.InteropServices;

namespace Nmidump.Inspector.Tests;

[CollectionDefinition("umask", DisableParallelization = true)]
public class UmaskCollection;

[Collection("umask")]
public class PrivateFileTests : IDisposable
{
    readonly TempDir _dir = new();
    public void Dispose() => _dir.Dispose();

    [DllImport("libc", SetLastError = true)]
    static extern uint umask(uint mask);

    [Theory]
    [InlineData(0u)]        // a umask that lets everyone read what open(2) asks for
    [InlineData(0x12u)]     // 022, the usual
    [InlineData(0xBFu)]     // 0277: even the owner's write bit goes
    public void Create_IsOwnerOnly_WhateverTheUmask(uint mask)
    {
        if (OperatingSystem.IsWindows()) return;
        string path = _dir.File("vmcore.window");
        File.WriteAllText(path, "an older, world-readable file");
        File.SetUnixFileMode(path, (UnixFileMode)0x1B6);
        uint old = umask(mask);
        try
        {
            PrivateFile.Prepare(path, 1 << 20);
        }
        finally
        {
            umask(old);
        }
        Assert.Equal(PrivateFile.Mode, File.GetUnixFileMode(path));
        Assert.Equal(1 << 20, new FileInfo(path).Length);
        Assert.Equal(new byte[16], File.ReadAllBytes(path)[..16]);
    }

    [Fact]
    public void ReceivedVmcore_IsOwnerOnly_UnderAPermissiveUmask()
    {
        if (OperatingSystem.IsWindows()) return;
        string stream = _dir.Write("vmcore.debugcon", Channel.Encode(FakeCrash.Default, 1 << 20));
        string vmcore = _dir.File("vmcore");
        uint old = umask(0);
        try
        {
            Assert.True(DumpReceiver.Receive(stream, vmcore).Ok);
        }
        finally
        {
            umask(old);
        }
        Assert.Equal(PrivateFile.Mode, File.GetUnixFileMode(vmcore));
    }
}
