/// The 8-byte header of a message on a `CoreRing` between a room's owner core and its
/// shards: which room (the owner's `Room.shardID`), what it is, which track, and flags.
/// A media message's body is one rewritten RTP packet; a sender report's is its NTP time and
/// RTP timestamp; a keyframe request (shard to owner) has none.
struct ShardMessage {
    enum Kind: UInt8 {
        case media = 0
        case senderReport = 1
        case keyframeRequest = 2
    }

    var roomID: UInt32
    var kind: Kind
    /// 0: audio; 1 + layer: video.
    var track: UInt8
    var keyframe: Bool

    init(roomID: UInt32, kind: Kind, track: UInt8, keyframe: Bool = false) {
        self.roomID = roomID
        self.kind = kind
        self.track = track
        self.keyframe = keyframe
    }

    /// Nil for a header this build does not know (never written by it: counted, skipped).
    init?(header: UInt64) {
        guard let kind = Kind(rawValue: UInt8(truncatingIfNeeded: header >> 32)) else { return nil }
        roomID = UInt32(truncatingIfNeeded: header)
        self.kind = kind
        track = UInt8(truncatingIfNeeded: header >> 40)
        keyframe = header >> 48 & 1 == 1
    }

    var header: UInt64 {
        UInt64(roomID) | UInt64(kind.rawValue) << 32 | UInt64(track) << 40 | (keyframe ? 1 << 48 : 0)
    }

    /// The track byte of a kind and video layer.
    static func track(_ kind: TrackKind, layer: Int) -> UInt8 { kind == .audio ? 0 : UInt8(truncatingIfNeeded: 1 + layer) }
}
