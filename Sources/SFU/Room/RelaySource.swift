import Reactor

/// The source of a room on an edge (`CLUSTER_MODE=edge`): the room as its origin node plays
/// it to one WHEP viewer, the SFU's own client role (`ClientPeer`), whose decrypted RTP enters
/// the room's fan-out exactly as a local publisher's does (`RoomManager.relayRTP`). One per
/// relayed room per edge, however many viewers the room has here.
///
/// It is the `DatagramEndpoint` of the relay's own UDP socket (its owner opens one on the
/// room's core with `openUDP(bind:endpoint:queue:)`, the peer's queue as the socket's queue):
/// datagrams go to the peer, and the end of a receive batch fans the room's held packets out
/// through the manager, as the core's own socket does for publishers. Sans-IO, core-confined.
public final class RelaySource: DatagramEndpoint {
    public let room: String
    /// The origin node's ID (from the directory), for views and logs.
    public let origin: String
    public let peer: ClientPeer
    /// The origin's streams, from its answer: what each kind carries (codec, payload type,
    /// extension ids, the origin's SSRC).
    let audio: NegotiatedMedia?
    let video: NegotiatedMedia?
    /// Read per packet, so taken out of the media once: the origin's SSRCs, the video codec
    /// (keyframe detection), whether the origin answers NACKs.
    let audioSSRC: UInt32?
    let videoSSRC: UInt32?
    let videoCodec: VideoCodec?
    let videoNacked: Bool
    /// Losses on the relay hop itself, NACKed upstream (the origin resends from its history).
    var videoNacks = NackGenerator()
    /// Times the owner had to set this relay up again for the room (0 for the first).
    public let reconnects: Int
    public let createdAt: Instant
    public internal(set) var connectedAt: Instant?
    /// When the origin's last RTP packet arrived (nil before the first).
    public internal(set) var lastPacketAt: Instant?
    /// Why it ended (nil while it runs).
    public internal(set) var endReason: String?
    /// When the peer was last driven (while it sets up it is driven every `setupDrive`).
    var lastDriven = Instant(nanoseconds: 0)
    /// The time of the datagram being handled (the peer's RTP/RTCP handlers carry none).
    var receivedAt = Instant(nanoseconds: 0)
    weak var manager: RoomManager?

    // Figures.
    public internal(set) var packetsIn: UInt64 = 0
    public internal(set) var bytesIn: UInt64 = 0
    public internal(set) var keyframeRequestsSent: UInt64 = 0
    public internal(set) var nacksSent: UInt64 = 0
    /// Packets of an SSRC the origin's answer did not announce.
    public internal(set) var droppedUnknownSSRC: UInt64 = 0

    /// How often a relay still setting up is driven (ICE checks are paced at 50 ms, DTLS
    /// starts as soon as ICE is up).
    static let setupDrive: Duration = .milliseconds(10)
    /// The relay's ICE consent checks, and how long without an answer ends it.
    static let consentInterval: Duration = .seconds(1)
    static let consentTimeout: Duration = .seconds(6)

    init(room: String, origin: String, peer: ClientPeer, reconnects: Int, now: Instant) {
        self.room = room
        self.origin = origin
        self.peer = peer
        self.reconnects = reconnects
        createdAt = now
        let received = peer.negotiation.media.filter { $0.direction.receives }
        audio = received.first { $0.kind == .audio }
        video = received.first { $0.kind == .video }
        audioSSRC = audio?.remoteSSRC
        videoSSRC = video?.remoteSSRC
        videoCodec = video.flatMap { VideoCodec($0.codecName) }
        videoNacked = video?.feedback.contains(.nack) ?? false
    }

    /// The kind of the origin's stream `ssrc`; nil for an SSRC its answer did not announce.
    func kind(ssrc: UInt32) -> TrackKind? {
        if ssrc == videoSSRC { return .video }
        if ssrc == audioSSRC { return .audio }
        return nil
    }

    public var isConnected: Bool { connectedAt != nil }

    /// The peer gave up or the origin closed the session.
    var hasEnded: Bool { peer.failed != nil || peer.dtlsClosed }

    public func received(_ datagram: UnsafeMutableRawBufferPointer, from source: SocketAddress, now: Instant) {
        guard let manager else { return }
        manager.relayReceived(datagram, from: source, relay: self, now: now)
    }

    public func batchEnded(now: Instant) {
        manager?.batchEnded(now: now)
    }
}
