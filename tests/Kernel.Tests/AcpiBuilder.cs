// Synthetic ACPI tables for the parser's tests: RSDP, RSDT/XSDT, MADT entries, FADTs of any
// revision and length, and DSDTs with \_S5 in each AML encoding. Layouts follow ACPI 6.5 chapter 5;
// every builder sets the checksums, and tests break them on purpose afterwards.
using System.Buffers.Binary;
using System.Text;

namespace Kernel.Tests;

static class AcpiBuilder
{
    // ---- Checksums and headers ----

    public static byte Sum(ReadOnlySpan<byte> bytes)
    {
        byte s = 0;
        foreach (byte b in bytes) s += b;
        return s;
    }

    /// <summary>Makes the byte sum of a table (its Length bytes) zero through the checksum at offset 9.</summary>
    public static void FixChecksum(Span<byte> table)
    {
        table[9] = 0;
        table[9] = (byte)-Sum(table);
    }

    public static byte[] Table(string signature, byte revision, ReadOnlySpan<byte> body)
    {
        var t = new byte[Acpi.HeaderLength + body.Length];
        Encoding.ASCII.GetBytes(signature).CopyTo(t, 0);
        BinaryPrimitives.WriteUInt32LittleEndian(t.AsSpan(4), (uint)t.Length);
        t[8] = revision;
        Encoding.ASCII.GetBytes("TESTOE").CopyTo(t, 10);
        Encoding.ASCII.GetBytes("TESTTABL").CopyTo(t, 16);
        BinaryPrimitives.WriteUInt32LittleEndian(t.AsSpan(24), 1);
        Encoding.ASCII.GetBytes("TEST").CopyTo(t, 28);
        BinaryPrimitives.WriteUInt32LittleEndian(t.AsSpan(32), 1);
        body.CopyTo(t.AsSpan(Acpi.HeaderLength));
        FixChecksum(t);
        return t;
    }

    /// <summary>An RSDP: 20 bytes for revision 0, 36 with the XSDT address and extended checksum for 2.</summary>
    public static byte[] Rsdp(byte revision, uint rsdt, ulong xsdt = 0, string oem = "TESTOE")
    {
        var r = new byte[revision >= 2 ? 36 : 20];
        Encoding.ASCII.GetBytes("RSD PTR ").CopyTo(r, 0);
        Encoding.ASCII.GetBytes(oem).CopyTo(r, 9);
        r[15] = revision;
        BinaryPrimitives.WriteUInt32LittleEndian(r.AsSpan(16), rsdt);
        r[8] = (byte)-Sum(r.AsSpan(0, 20));
        if (revision >= 2)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(r.AsSpan(20), 36);
            BinaryPrimitives.WriteUInt64LittleEndian(r.AsSpan(24), xsdt);
            r[32] = (byte)-Sum(r);
        }
        return r;
    }

    public static byte[] Rsdt(params uint[] tables)
    {
        var body = new byte[tables.Length * 4];
        for (int i = 0; i < tables.Length; i++) BinaryPrimitives.WriteUInt32LittleEndian(body.AsSpan(i * 4), tables[i]);
        return Table("RSDT", 1, body);
    }

    public static byte[] Xsdt(params ulong[] tables)
    {
        var body = new byte[tables.Length * 8];
        for (int i = 0; i < tables.Length; i++) BinaryPrimitives.WriteUInt64LittleEndian(body.AsSpan(i * 8), tables[i]);
        return Table("XSDT", 1, body);
    }

    // ---- MADT (ACPI 6.5 5.2.12) ----

    public static byte[] Madt(uint localApic, params byte[][] entries)
    {
        var body = new List<byte>();
        body.AddRange(BitConverter.GetBytes(localApic));
        body.AddRange(BitConverter.GetBytes(1u));  // PCAT_COMPAT
        foreach (var e in entries) body.AddRange(e);
        return Table("APIC", 5, body.ToArray());
    }

    public static byte[] LocalApic(byte uid, byte apicId, uint flags) =>
        [0, 8, uid, apicId, .. BitConverter.GetBytes(flags)];

    public static byte[] IoApic(byte id, uint address, uint gsiBase) =>
        [1, 12, id, 0, .. BitConverter.GetBytes(address), .. BitConverter.GetBytes(gsiBase)];

    /// <summary>An interrupt source override (type 2): the parser skips it by its length.</summary>
    public static byte[] SourceOverride(byte irq, uint gsi) =>
        [2, 10, 0, irq, .. BitConverter.GetBytes(gsi), 0, 0];

    public static byte[] LapicNmi(byte uid, ushort flags, byte lint) =>
        [4, 6, uid, .. BitConverter.GetBytes(flags), lint];

    public static byte[] LapicOverride(ulong address) =>
        [5, 12, 0, 0, .. BitConverter.GetBytes(address)];

    public static byte[] X2Apic(uint apicId, uint flags, uint uid) =>
        [9, 16, 0, 0, .. BitConverter.GetBytes(apicId), .. BitConverter.GetBytes(flags), .. BitConverter.GetBytes(uid)];

    public static byte[] X2ApicNmi(uint uid, ushort flags, byte lint) =>
        [0xA, 12, .. BitConverter.GetBytes(flags), .. BitConverter.GetBytes(uid), lint, 0, 0, 0];

    // ---- FADT (ACPI 6.5 5.2.9) ----

    public sealed record Fadt
    {
        public byte Revision { get; init; } = 6;
        /// <summary>Total table length: 116 for revision 1, 244 for 3, 276 for 6.</summary>
        public int Length { get; init; } = 276;
        public uint Dsdt { get; init; }
        public ulong XDsdt { get; init; }
        public uint Pm1aControl { get; init; }
        public uint Pm1bControl { get; init; }
        public byte XPm1aSpace { get; init; } = 1;
        public ulong XPm1aControl { get; init; }
        public uint Flags { get; init; }
        public byte Century { get; init; }
        public byte ResetSpace { get; init; } = 1;
        public ulong ResetAddress { get; init; }
        public byte ResetValue { get; init; }

        public byte[] Build()
        {
            var t = new byte[276];
            BinaryPrimitives.WriteUInt32LittleEndian(t.AsSpan(40), Dsdt);
            BinaryPrimitives.WriteUInt32LittleEndian(t.AsSpan(64), Pm1aControl);
            BinaryPrimitives.WriteUInt32LittleEndian(t.AsSpan(68), Pm1bControl);
            t[108] = Century;
            BinaryPrimitives.WriteUInt32LittleEndian(t.AsSpan(112), Flags);
            Gas(t.AsSpan(116), ResetSpace, 8, ResetAddress);
            t[128] = ResetValue;
            BinaryPrimitives.WriteUInt64LittleEndian(t.AsSpan(140), XDsdt);
            if (XPm1aControl != 0) Gas(t.AsSpan(172), XPm1aSpace, 16, XPm1aControl);
            var table = Table("FACP", Revision, t.AsSpan(Acpi.HeaderLength, Length - Acpi.HeaderLength));
            return table;
        }

        static void Gas(Span<byte> g, byte space, byte width, ulong address)
        {
            g[0] = space;
            g[1] = width;
            g[3] = 1;  // byte access
            BinaryPrimitives.WriteUInt64LittleEndian(g.Slice(4), address);
        }
    }

    // ---- DSDT and AML ----

    public static byte[] Dsdt(params byte[][] aml) => Table("DSDT", 2, aml.SelectMany(a => a).ToArray());

    /// <summary>Some AML that is not \_S5: a scope with a method, so the scan has bytes to walk over.</summary>
    public static readonly byte[] Filler =
        [0x10, 0x0D, (byte)'\\', (byte)'_', (byte)'S', (byte)'B', (byte)'_', 0x14, 0x06, (byte)'F', (byte)'O', (byte)'O', (byte)'_', 0x00, 0xA4, 0x01];

    /// <summary>An element of the package: ZeroOp, OneOp, BytePrefix byte, WordPrefix word or a bare byte.</summary>
    public static byte[] Zero => [0x00];
    public static byte[] One => [0x01];
    public static byte[] Byte(byte v) => [0x0A, v];
    public static byte[] Word(ushort v) => [0x0B, (byte)v, (byte)(v >> 8)];
    public static byte[] Bare(byte v) => [v];

    /// <summary>
    /// Name (_S5_, Package (n) { elements }): NameOp, optional root '\', "_S5_", PackageOp, a
    /// PkgLength in <paramref name="pkgLengthBytes"/> bytes (1-4), NumElements, the elements.
    /// </summary>
    public static byte[] S5(int pkgLengthBytes = 1, bool rootPrefix = false, int? numElements = null, params byte[][] elements)
    {
        var contents = new List<byte> { (byte)(numElements ?? elements.Length) };
        foreach (var e in elements) contents.AddRange(e);
        var aml = new List<byte> { 0x08 };
        if (rootPrefix) aml.Add((byte)'\\');
        aml.AddRange("_S5_"u8.ToArray());
        aml.Add(0x12);
        aml.AddRange(PkgLength(contents.Count + pkgLengthBytes, pkgLengthBytes));
        aml.AddRange(contents);
        return aml.ToArray();
    }

    /// <summary>AML PkgLength (ACPI 6.5 20.2.4) of <paramref name="value"/> in exactly <paramref name="bytes"/> bytes.</summary>
    public static byte[] PkgLength(int value, int bytes)
    {
        if (bytes == 1)
        {
            if (value > 0x3F) throw new ArgumentOutOfRangeException(nameof(value));
            return [(byte)value];
        }
        var r = new byte[bytes];
        r[0] = (byte)(((bytes - 1) << 6) | (value & 0x0F));
        for (int k = 1; k < bytes; k++) r[k] = (byte)(value >> (4 + 8 * (k - 1)));
        return r;
    }
}
