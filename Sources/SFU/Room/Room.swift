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
    let video: TrackFanout
    let createdAt: Instant
    /// When the last publisher left (viewers wait for a new one until the grace period ends).
    var publisherLeftAt: Instant?
    var publisherSessions: UInt64 = 0
    /// Viewers whose set-up has completed (`MAX_SUBS_PER_ROOM` counts these; the others are
    /// still setting up).
    var connectedViewers = 0

    init(name: String, now: Instant, videoHistoryStartBytes: Int = 256 * 1024, instantStartMaxBytes: Int = 0) {
        self.name = name
        let streamID = "livesfu-\(name)"
        let cname = RandomToken.hex(bytes: 8)
        // Audio: 4 s of Opus until its rate is measured.
        audio = TrackFanout(kind: .audio, streamID: streamID, cname: cname, historyStartBytes: 32 * 1024)
        video = TrackFanout(
            kind: .video, streamID: streamID, cname: cname, historyStartBytes: videoHistoryStartBytes,
            instantStartMaxBytes: instantStartMaxBytes)
        createdAt = now
    }

    func fanout(_ kind: TrackKind) -> TrackFanout { kind == .audio ? audio : video }

    var viewerCount: Int { viewersByID.count }

    /// Viewers still setting up (answer sent, not yet connected).
    var viewersInSetup: Int { viewersByID.count - connectedViewers }

    var isEmpty: Bool { publisher == nil && viewersByID.isEmpty }

    func addViewer(_ session: PeerSession) { viewersByID[session.id] = session }

    func removeViewer(_ session: PeerSession) {
        guard viewersByID.removeValue(forKey: session.id) != nil else { return }
        if session.connectedAt != nil { connectedViewers -= 1 }
        audio.remove(session: session)
        video.remove(session: session)
    }
}
