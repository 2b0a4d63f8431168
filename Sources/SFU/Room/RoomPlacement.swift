/// A room's home core: a stable hash of its name. The home remembers which core owns the room
/// (placed there by load, `RoomManager+Placement`), so every core finds the owner of any room
/// through one mailbox hop, with no shared directory and no lock.
public enum RoomPlacement {
    /// FNV-1a over the UTF-8 bytes of the name, reduced to a core index.
    public static func core(forRoom name: String, cores: Int) -> Int {
        precondition(cores > 0, "at least one core")
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in name.utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x100_0000_01b3
        }
        return Int(hash % UInt64(cores))
    }
}
