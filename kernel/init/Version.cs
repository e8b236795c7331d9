// The kernel's name and release, printed in the banner and carried in VMCOREINFO (OSRELEASE=).
static class Version
{
    public const string Name = "nmidump";
    public const string Release = "0.1.0";
}
