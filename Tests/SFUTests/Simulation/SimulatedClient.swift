import Reactor

@testable import SFU

/// One WHIP publisher or WHEP viewer of the simulation: the project's own `ClientPeer`
/// (sans-IO, its datagrams in `peer.output`) at an address of the virtual network, with the
/// publisher's media or the viewer's playback attached.
final class SimulatedClient {
    let name: String
    let peer: ClientPeer
    let sessionID: String
    var address: SocketAddress
    /// The server core's address it was given (its answer's candidate).
    let server: SocketAddress
    var media: PublisherMedia?
    var playback: ViewerPlayback?
    var joinedAt: UInt64
    var connectedAt: UInt64?
    /// When it left (DELETE or close_notify) or went dark.
    var leftAt: UInt64?
    var isDark = false
    var wentDarkAt: UInt64?
    var reportedFailure = false

    init(name: String, peer: ClientPeer, sessionID: String, address: SocketAddress, server: SocketAddress, joinedAt: UInt64) {
        self.name = name
        self.server = server
        self.peer = peer
        self.sessionID = sessionID
        self.address = address
        self.joinedAt = joinedAt
    }

    var isActive: Bool { leftAt == nil && !isDark }
    var isPublisher: Bool { media != nil }
}
