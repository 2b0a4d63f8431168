import Reactor

/// Every session of one core and the three ways to find one: by id (the HTTP API), by local
/// ICE ufrag (a first STUN check from a new address) and by source address (every other
/// datagram). It also keeps who is still being set up (per client IP, for the set-up cap),
/// who is confirming a new address, and who ended lately (so a late DELETE gets a 200).
/// Every map is bounded by the sessions a core may hold, `recentlyEnded` by its own limit.
final class SessionRegistry {
    private(set) var byID: [String: PeerSession] = [:]
    private var byUfrag: [String: PeerSession] = [:]
    private var byAddress: [SocketAddress: PeerSession] = [:]
    /// Sessions whose set-up is still running (DTLS retransmits, the set-up timeout): every
    /// session until DTLS is done *and* ICE has nominated an address.
    private(set) var pending: [PeerSession] = []
    /// Sessions in set-up per client IP (`RoomManagerConfiguration.maxPendingSessionsPerIP`).
    private var pendingByIP = PendingSessionsByIP()
    /// Sessions confirming a new address before media moves there (`IceLiteAgent.pollProbe`).
    private(set) var probing: [PeerSession] = []
    /// Sessions that ended by themselves (DTLS close, BYE, timeouts) in the last minute, by id
    /// and room, so a client's late DELETE still gets a 200 rather than a 404.
    private var recentlyEnded: [String: (room: String, at: Instant)] = [:]
    static let recentlyEndedLimit = 10_000
    static let recentlyEndedFor: Duration = .seconds(60)
    /// The addresses one session may be reached from at once (a client trying many interfaces).
    static let maxRoutesPerSession = 8

    var count: Int { byID.count }
    var routedAddressCount: Int { byAddress.count }
    var pendingClientCount: Int { pendingByIP.clientCount }

    func session(id: String) -> PeerSession? { byID[id] }
    func session(at address: SocketAddress) -> PeerSession? { byAddress[address] }
    func session(ufrag: String) -> PeerSession? { byUfrag[ufrag] }

    /// A local ICE ufrag no session of this core uses.
    func freshUfrag() -> String {
        var ufrag = RandomToken.iceString(length: 8)
        while byUfrag[ufrag] != nil { ufrag = RandomToken.iceString(length: 8) }
        return ufrag
    }

    func pendingCount(for key: PendingSessionsByIP.Key) -> Int { pendingByIP.count(for: key) }

    /// A new session, in set-up; `setupClient` is the client IP it counts against.
    func add(_ s: PeerSession, setupClient: PendingSessionsByIP.Key?) {
        byID[s.id] = s
        byUfrag[s.ice.localUfrag] = s
        pending.append(s)
        if let setupClient {
            s.setupClient = setupClient
            pendingByIP.add(setupClient)
        }
    }

    /// An ICE restart gave the session a new local ufrag.
    func changeUfrag(of s: PeerSession, from old: String, to new: String) {
        byUfrag[old] = nil
        byUfrag[new] = s
    }

    /// Datagrams from `address` now go to `s` (ICE validated it), at most
    /// `maxRoutesPerSession` addresses per session: the oldest route that is not the
    /// selected one is dropped.
    func route(_ address: SocketAddress, to s: PeerSession) {
        guard byAddress[address] !== s else { return }
        if let previous = byAddress[address] { previous.routedAddresses.removeAll { $0 == address } }
        byAddress[address] = s
        s.routedAddresses.append(address)
        if s.routedAddresses.count > Self.maxRoutesPerSession {
            let old = s.routedAddresses.removeFirst()
            if byAddress[old] === s, old != s.ice.selectedAddress { byAddress[old] = nil }
        }
    }

    /// The session is no longer being set up (connected or ended).
    func leaveSetup(_ s: PeerSession) {
        pending.removeAll { $0 === s }
        if let key = s.setupClient {
            pendingByIP.remove(key)
            s.setupClient = nil
        }
    }

    func startProbing(_ s: PeerSession) {
        if !probing.contains(where: { $0 === s }) { probing.append(s) }
    }

    /// Drops the sessions that ended or have no address left to confirm.
    func pruneProbing() {
        probing.removeAll { $0.state == .closed || $0.ice.probeAddress == nil }
    }

    /// Forgets an ending session everywhere; unless the client asked for it (`deleted`), it
    /// is remembered for a minute for its late DELETE.
    func remove(_ s: PeerSession, rememberAt now: Instant?) {
        byID[s.id] = nil
        byUfrag[s.ice.localUfrag] = nil
        for a in s.routedAddresses where byAddress[a] === s { byAddress[a] = nil }
        s.routedAddresses.removeAll()
        leaveSetup(s)
        probing.removeAll { $0 === s }
        if let now, recentlyEnded.count < Self.recentlyEndedLimit {
            recentlyEnded[s.id] = (s.roomName, now)
        }
    }

    /// The room of a session that ended lately by itself (and forgets it), for a late DELETE.
    func takeRecentlyEnded(id: String) -> String? { recentlyEnded.removeValue(forKey: id)?.room }

    func expireRecentlyEnded(now: Instant) {
        if !recentlyEnded.isEmpty {
            recentlyEnded = recentlyEnded.filter { now - $0.value.at < Self.recentlyEndedFor }
        }
    }
}
