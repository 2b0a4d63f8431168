/// What a room's publisher sends now, as a shard needs it: each kind's negotiated media (nil
/// without a publisher) and its video layer count, and the codecs of a publisher still
/// setting up (for viewers' answers meanwhile).
public struct ShardSources: Sendable {
    var audio: NegotiatedMedia?
    var video: NegotiatedMedia?
    var layers: Int
    var pendingAudioCodec: SDPCodec?
    var pendingVideoCodec: SDPCodec?
}

/// A room's owner placing a viewer on another core: what that core needs to open its shard.
public struct ShardOpen: Sendable {
    public let owner: Int
    let roomID: UInt32
    public let room: RoomName
    let sources: ShardSources
}

/// The control messages between a room's owner core and its shards, and from an owner to the
/// room's home core, through the mailbox (rare, and in order with each other: one producer per
/// direction). Media and keyframe requests go through the `CoreRing`s instead.
public enum ShardControl: Sendable {
    /// Owner → shard: the publisher (or an edge's relay) came, changed or left.
    case sources(roomID: UInt32, ShardSources)
    /// Owner → shard: the room closed (admin close, publisher grace over): its viewers end.
    case close(roomID: UInt32)
    /// Shard → owner: a viewer placed there ended, or never came to be.
    case viewerLeft(roomID: UInt32)
    /// Owner → the room's home core: the room is gone here after request `seq`.
    case roomForgotten(name: String, seq: UInt64)
}
