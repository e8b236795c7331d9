// The crash channel's message slots and the unload wait over them, as pure logic (host tests race
// threads through both). A slot models Hyper-V's per-CPU SynIC message page: one message at a
// time; the host delivers a new one only into an empty slot; only the slot's own CPU empties it
// (the end-of-message write), though any CPU may read any slot. Linux: vmbus_wait_for_unload in
// drivers/hv/channel_mgmt.c polls these pages for the unload response.
using System.Threading;

/// <summary>What a channel message is; stored in the low byte of the slot word (0: the slot is empty).</summary>
public enum ChannelMessageType
{
    None = 0,
    /// <summary>Ordinary traffic from the host (offers, ring-buffer signals): the host model's periodic post.</summary>
    Ordinary = 1,
    /// <summary>The host's answer to "unload" (CHANNELMSG_UNLOAD_RESPONSE).</summary>
    UnloadResponse = 2,
}

public static class ChannelSlot
{
    /// <summary>A message word: the type in bits 0-7, a sequence number above (never 0 for a message).</summary>
    public static ulong Message(ChannelMessageType type, ulong sequence) => (ulong)type | sequence << 8;

    public static ChannelMessageType TypeOf(ulong message) => (ChannelMessageType)(message & 0xFF);

    /// <summary>The host's delivery: lands only in an empty slot, by one compare-exchange, so two posters never overwrite each other.</summary>
    public static bool TryPost(ref ulong slot, ulong message) => Interlocked.CompareExchange(ref slot, message, 0) == 0;

    /// <summary>Any CPU may look at any slot.</summary>
    public static ulong Read(ref ulong slot) => Volatile.Read(ref slot);

    /// <summary>The slot's own CPU only: reads the message and empties the slot (Hyper-V's EOM), in one step.</summary>
    public static ulong Take(ref ulong ownSlot)
    {
        // Posters fill only an empty slot and no other CPU empties this one, so the message read
        // is still the one there when the slot is emptied.
        ulong message = Volatile.Read(ref ownSlot);
        if (message != 0) Volatile.Write(ref ownSlot, 0);
        return message;
    }

    /// <summary>
    /// One poll of the unload wait, by the panicking CPU. If it owns the channel it empties its own
    /// slot first (an older message there would keep the reply out); it never empties another
    /// CPU's. Then, playing the host, it delivers the reply into the owner's slot if that slot is
    /// empty. True when the reply landed. <paramref name="mySlot"/> is the panicking CPU's slot,
    /// <paramref name="ownerSlot"/> the owner's (the same slot when it owns the channel);
    /// <paramref name="taken"/> is a message the panicking CPU consumed from its own slot, or 0.
    /// </summary>
    public static bool UnloadStep(bool iOwnTheChannel, ref ulong mySlot, ref ulong ownerSlot, ulong reply, out ulong taken)
    {
        taken = 0;
        if (iOwnTheChannel && Read(ref mySlot) != 0) taken = Take(ref mySlot);
        return TryPost(ref ownerSlot, reply);
    }
}
