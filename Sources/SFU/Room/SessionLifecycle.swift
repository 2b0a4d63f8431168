import Reactor

/// The set-up milestones of one core's sessions: offer → connected and offer → first media
/// as fixed-bucket histograms (for `/metrics`), and every milestone as an event for whoever
/// listens (the tracing bridge). The room layer calls `note` where a milestone happens
/// (control plane: a few times per session, never per packet); first media is seen at the
/// next `tick` (tens of milliseconds at most while media flows) by looking at the counters
/// the media path keeps anyway, so the media path itself has nothing to do. Core-confined.
public final class SessionLifecycle {
    public enum Event: Sendable, Equatable {
        /// ICE nominated an address (USE-CANDIDATE), or moved to a new one.
        case iceConnected
        /// The DTLS handshake finished and the SRTP keys are installed.
        case dtlsConnected
        /// Both: media may flow.
        case connected
        /// The first RTP from a publisher, or the first RTP sent to a viewer.
        case firstMediaIn, firstMediaOut
        /// A PATCH restarted ICE with new credentials.
        case iceRestart
        case ended(PeerSession.EndReason)
    }

    /// Told of each milestone on this core; nil (no tracing) costs a nil check.
    public var observer: ((_ session: PeerSession, _ event: Event, _ now: Instant) -> Void)?

    private var connect = [
        FixedHistogram(boundsSeconds: FixedHistogram.setupBounds), FixedHistogram(boundsSeconds: FixedHistogram.setupBounds),
    ]
    private var firstMedia = [
        FixedHistogram(boundsSeconds: FixedHistogram.setupBounds), FixedHistogram(boundsSeconds: FixedHistogram.setupBounds),
    ]
    /// Connected sessions whose first media has not been seen yet, by id (bounded by the
    /// core's sessions; removed when seen or ended).
    private var awaitingFirstMedia: [String: PeerSession] = [:]
    private var seen: [PeerSession] = []

    public init() {}

    /// Offer → connected, by role.
    public func connectSeconds(_ role: PeerSession.Role) -> FixedHistogram { connect[Self.index(role)] }
    /// Offer → first media sent (viewer) or received (publisher).
    public func firstMediaSeconds(_ role: PeerSession.Role) -> FixedHistogram { firstMedia[Self.index(role)] }

    static func index(_ role: PeerSession.Role) -> Int { role == .publisher ? 0 : 1 }

    func note(_ s: PeerSession, _ event: Event, now: Instant) {
        switch event {
        case .connected:
            connect[Self.index(s.role)].record(now - s.createdAt)
            awaitingFirstMedia[s.id] = s
        case .firstMediaIn, .firstMediaOut:
            firstMedia[Self.index(s.role)].record(now - s.createdAt)
        case .ended:
            awaitingFirstMedia[s.id] = nil
        default:
            break
        }
        observer?(s, event, now)
    }

    /// From `tick`: the sessions whose first media came in or went out since the last call.
    func checkFirstMedia(now: Instant) {
        guard !awaitingFirstMedia.isEmpty else { return }
        for s in awaitingFirstMedia.values {
            let flowing = s.role == .publisher ? s.packetsIn > 0 : s.viewerTracks.contains { $0.packetsSent > 0 }
            if flowing { seen.append(s) }
        }
        for s in seen {
            awaitingFirstMedia[s.id] = nil
            note(s, s.role == .publisher ? .firstMediaIn : .firstMediaOut, now: now)
        }
        seen.removeAll(keepingCapacity: true)
    }
}
