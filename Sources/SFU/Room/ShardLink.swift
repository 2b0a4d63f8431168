import Reactor

/// On a room's owner: one other core with viewers of the room, and the ring its media goes
/// through (shared by every room the two cores share).
final class ShardLink {
    let core: Int
    let ring: CoreRing
    /// Viewers placed there and not yet reported gone: the shard lives while this is above 0.
    var placed = 0

    init(core: Int, ring: CoreRing) {
        self.core = core
        self.ring = ring
    }
}

/// On a shard core: the room's owner, its number for the room, and the ring back to it
/// (keyframe requests).
struct ShardSource {
    let owner: Int
    let roomID: UInt32
    let feedback: CoreRing
    var sources: ShardSources
}
