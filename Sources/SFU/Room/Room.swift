import Reactor

/// A room on its owning core: at most one publisher, any number of viewers, and one
/// outbound track per kind that viewers stay subscribed to across publisher changes.
final class Room {
    let name: String
    var publisher: PeerSession?
    /// On an edge: the room played from its origin node, its source instead of a publisher.
    var relay: RelaySource?
    private(set) var viewersByID: [String: PeerSession] = [:]
    let audio: TrackFanout
    /// The video track; with a simulcast publisher its first layer (`videoLayers`).
    let video: TrackFanout
    /// Simulcast: one track per layer of the publisher's, `video` first, all under `video`'s
    /// SSRCs; each viewer is on one of them (`ViewerTrack.layer`). Just `[video]` without.
    private(set) var videoLayers: [TrackFanout]
    private let instantStartMaxBytes: Int
    private let videoHistoryStartBytes: Int
    let createdAt: Instant
    /// When the last publisher left (viewers wait for a new one until the grace period ends).
    var publisherLeftAt: Instant?
    var publisherSessions: UInt64 = 0
    /// The last keyframe request sent upstream for a video layer: when, and for which
    /// (`RoomManager.keyframeRequestSpacing`).
    var lastKeyframeRequest: (at: Instant, layer: Int)?
    /// Viewers whose set-up has completed (`MAX_SUBS_PER_ROOM` counts these; the others are
    /// still setting up).
    var connectedViewers = 0
    /// The room's number on its owner core, in the messages to and from its shards.
    var shardID: UInt32 = 0
    /// On the room's owner: the other cores with viewers of it (fan-out shards).
    var shards: [ShardLink] = []
    /// On a shard core: the owner the room's media comes from (nil on the owner).
    var shardSource: ShardSource?
    /// The number of the last request its home core sent here for it (`RoomManager+Placement`).
    var placementSeq: UInt64 = 0

    init(name: String, now: Instant, videoHistoryStartBytes: Int = 256 * 1024, instantStartMaxBytes: Int = 0) {
        self.name = name
        let streamID = "livesfu-\(name)"
        let cname = RandomToken.hex(bytes: 8)
        // Audio: 4 s of Opus until its rate is measured.
        audio = TrackFanout(kind: .audio, streamID: streamID, cname: cname, historyStartBytes: 32 * 1024)
        video = TrackFanout(
            kind: .video, streamID: streamID, cname: cname, historyStartBytes: videoHistoryStartBytes,
            instantStartMaxBytes: instantStartMaxBytes)
        videoLayers = [video]
        self.instantStartMaxBytes = instantStartMaxBytes
        self.videoHistoryStartBytes = videoHistoryStartBytes
        createdAt = now
    }

    func fanout(_ kind: TrackKind) -> TrackFanout { kind == .audio ? audio : video }

    /// A kind's track for a simulcast layer (the first for audio, or a layer not there).
    func fanout(_ kind: TrackKind, layer: Int) -> TrackFanout {
        kind == .audio || layer >= videoLayers.count ? fanout(kind) : videoLayers[layer]
    }

    /// The track a viewer's subscription is on now.
    func fanout(of viewer: ViewerTrack) -> TrackFanout { fanout(viewer.kind, layer: viewer.layer) }

    /// Each video layer's bitrate now, by layer (what `LayerChoice` chooses from).
    func videoLayerBitrates(now: Instant) -> [UInt64] { videoLayers.map { $0.currentBitrate(now: now) } }

    /// Every track of the room: audio, then each video layer.
    var fanouts: [TrackFanout] { [audio] + videoLayers }

    /// A publisher with `count` video layers (1 without simulcast) is attached: layers are
    /// added, and layers it does not send are dropped, their viewers moved to the first (the
    /// last publisher's held packets went out when it ended: `RoomManager.end`).
    func setVideoLayers(_ count: Int) {
        while videoLayers.count < count {
            videoLayers.append(TrackFanout(
                kind: .video, streamID: video.streamID, cname: video.cname, historyStartBytes: videoHistoryStartBytes,
                instantStartMaxBytes: instantStartMaxBytes, layer: videoLayers.count, base: video))
        }
        while videoLayers.count > max(count, 1) {
            for v in videoLayers.removeLast().viewers {
                v.layer = 0
                v.targetLayer = nil
                v.catchingUp = false
                v.temporal?.restart()  // another layer's numbering
                video.add(v)
            }
        }
    }

    var viewerCount: Int { viewersByID.count }

    /// Viewers still setting up (answer sent, not yet connected).
    var viewersInSetup: Int { viewersByID.count - connectedViewers }

    var isEmpty: Bool { publisher == nil && viewersByID.isEmpty && shards.isEmpty }

    /// Viewers placed on shard cores (counted by the owner until each is reported gone).
    var viewersElsewhere: Int { shards.reduce(0) { $0 + $1.placed } }

    func addViewer(_ session: PeerSession) { viewersByID[session.id] = session }

    func removeViewer(_ session: PeerSession) {
        guard viewersByID.removeValue(forKey: session.id) != nil else { return }
        if session.connectedAt != nil { connectedViewers -= 1 }
        for f in fanouts { f.remove(session: session) }
    }
}
