// Writes .eh_frame bytes the way GNU as and ILC do (LSB 5.0 "Exception Frames"): version-1 CIEs with
// augmentation "zR" (or "zRS" for trap frames), pc-relative sdata4 FDE pointers, code alignment 1,
// data alignment -8, return address in DWARF register 16; entries padded with DW_CFA_nop to 8.
namespace Nmidump.Inspector.Tests;

sealed class EhFrameBuilder(ulong address)
{
    readonly List<byte> _bytes = [];
    readonly ulong _address = address;

    /// <summary>Instructions of the x86-64 default CIE: CFA = rsp + 8, return address at CFA - 8.</summary>
    public static readonly byte[] DefaultInitial = [0x0C, 7, 8, 0x90, 1];

    public byte[] Bytes => [.. _bytes];

    /// <summary>Adds a CIE; returns its offset, which FDEs refer to.</summary>
    public int Cie(byte[] initial, bool signalFrame = false, string? augmentation = null, byte[]? augmentationData = null)
    {
        int at = _bytes.Count;
        var body = new List<byte> { 0, 0, 0, 0, 1 };                 // CIE id 0, version 1
        string aug = augmentation ?? (signalFrame ? "zRS" : "zR");
        body.AddRange(System.Text.Encoding.ASCII.GetBytes(aug));
        body.Add(0);
        body.Add(1);                                                 // code alignment factor
        body.Add(0x78);                                              // data alignment factor -8 (sleb128)
        body.Add(16);                                                // return address register: rip
        byte[] data = augmentationData ?? [0x1B];                    // R: DW_EH_PE_pcrel | DW_EH_PE_sdata4
        body.Add((byte)data.Length);
        body.AddRange(data);
        body.AddRange(initial);
        Entry(body);
        return at;
    }

    /// <summary>Adds an FDE for [start, start + length) under the CIE at <paramref name="cie"/>.</summary>
    public void Fde(int cie, ulong start, uint length, params byte[] instructions)
    {
        int at = _bytes.Count;
        var body = new List<byte>();
        body.AddRange(BitConverter.GetBytes((uint)(at + 4 - cie)));  // CIE pointer: back from this field
        ulong field = _address + (ulong)(at + 8);
        body.AddRange(BitConverter.GetBytes((int)(long)(start - field)));
        body.AddRange(BitConverter.GetBytes(length));
        body.Add(0);                                                 // no augmentation data
        body.AddRange(instructions);
        Entry(body);
    }

    public void Terminator() => _bytes.AddRange(new byte[4]);

    void Entry(List<byte> body)
    {
        while ((body.Count + 4) % 8 != 0) body.Add(0);               // DW_CFA_nop
        _bytes.AddRange(BitConverter.GetBytes((uint)body.Count));
        _bytes.AddRange(body);
    }

    // A few call frame instructions, encoded (DWARF 4 section 7.23).
    public static byte[] AdvanceLoc(int delta) => [(byte)(0x40 | delta)];
    public static byte[] DefCfaOffset(int offset) => [0x0E, .. Uleb((ulong)offset)];
    public static byte[] DefCfa(int register, int offset) => [0x0C, (byte)register, .. Uleb((ulong)offset)];
    public static byte[] DefCfaRegister(int register) => [0x0D, (byte)register];
    /// <summary>register saved at CFA - 8 * n.</summary>
    public static byte[] Offset(int register, int n) => register < 64 ? [(byte)(0x80 | register), (byte)n] : [0x05, (byte)register, (byte)n];
    public static byte[] Undefined(int register) => [0x07, (byte)register];
    public static byte[] Restore(int register) => [(byte)(0xC0 | register)];

    public static byte[] Concat(params byte[][] parts) => [.. parts.SelectMany(p => p)];

    public static byte[] Uleb(ulong v)
    {
        var bytes = new List<byte>();
        do
        {
            byte b = (byte)(v & 0x7F);
            v >>= 7;
            bytes.Add(v != 0 ? (byte)(b | 0x80) : b);
        } while (v != 0);
        return [.. bytes];
    }
}
