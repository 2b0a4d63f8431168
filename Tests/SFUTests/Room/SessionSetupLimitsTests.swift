import Reactor
import Testing

@testable import SFU

/// What a session must achieve, and by when, before it counts as connected; and what one
/// client can hold while it has not. Set-up runs on loopback with the project's own client;
/// every timeout is reached with a virtual `now` handed to `tick`, never by waiting.
@Suite("Session set-up: nomination, timeouts and per-client limits", .serialized)
struct SessionSetupLimitsTests {
    static let setupTimeout = RoomManagerConfiguration().setupTimeout

    @Test("a session that completes DTLS without a nomination ends at the set-up timeout and frees its room name")
    func unnominatedDTLSEnds() throws {
        let server = try LoopbackRoomServer()
        defer { server.close() }
        let squatter = try server.publisher(room: "held")
        // Checks without USE-CANDIDATE: the client runs DTLS once a check succeeds, as a
        // browser may before it nominates, but never nominates.
        squatter.peer.ice.nominates = false
        try #require(server.loop.run(until: { squatter.peer.isConnected }, timeout: .seconds(20)))
        let session = try #require(server.room("held")?.publisher)
        server.settle(.milliseconds(50))
        #expect(session.dtls.state == .connected)
        #expect(session.state == .connecting, "DTLS alone does not connect a session")
        #expect(session.address == nil)
        #expect(server.manager.pendingCount == 1)
        #expect(throws: RoomError.publisherExists) { try server.publisher(room: "held") }

        server.manager.tick(now: session.createdAt + .milliseconds(Self.setupTimeout.nanoseconds / 1_000_000 - 1000))
        #expect(server.room("held")?.publisher === session, "still within the set-up timeout")
        server.manager.tick(now: session.createdAt + Self.setupTimeout)
        #expect(session.state == .closed)
        #expect(server.manager.counters.setupTimeouts == 1)
        #expect(server.manager.counters.sessionsEnded[.setupTimeout] == 1)
        #expect(server.room("held") == nil)
        #expect(server.manager.sessionCount == 0 && server.manager.pendingCount == 0)
        #expect(server.manager.routedAddressCount == 0)
        server.drop(squatter)

        let real = try server.publisher(room: "held")
        #expect(server.connect([real]), "the room name is free for the real publisher")
    }

    @Test("a client that nominates only after DTLS (regular nomination) connects then, and media flows")
    func nominationAfterDTLS() throws {
        let server = try LoopbackRoomServer()
        defer { server.close() }
        let publisher = try server.publisher(room: "late")
        let viewer = try server.viewer(room: "late")
        for c in [publisher, viewer] {
            c.peer.ice.nominates = false
            c.peer.ice.consentInterval = .milliseconds(100)
        }
        try #require(server.loop.run(until: { publisher.peer.isConnected && viewer.peer.isConnected }))
        #expect(server.manager.pendingCount == 2)
        #expect(server.manager.snapshot(now: server.loop.now).first?.connectedViewers == 0)
        for c in [publisher, viewer] { c.peer.ice.nominates = true }  // the next check nominates
        try #require(server.connect([publisher, viewer]))
        #expect(server.room("late")?.publisher?.state == .connected)
        #expect(server.publish(5, from: publisher))
        #expect(server.loop.run(until: { viewer.recorder.media.count == 5 }))
    }

    @Test("connected sessions whose peers go silent end on consent expiry")
    func consentExpiry() throws {
        let server = try LoopbackRoomServer()
        defer { server.close() }
        let publisher = try server.publisher(room: "quiet")
        let viewer = try server.viewer(room: "quiet")
        try #require(server.connect([publisher, viewer]))
        let session = try #require(server.room("quiet")?.viewersByID.values.first)
        let last = try #require(session.ice.lastConsent)
        let publisherSession = try #require(server.room("quiet")?.publisher)
        server.drop(viewer)
        server.drop(publisher)
        server.manager.tick(now: last + .seconds(29))
        #expect(session.state == .connected)
        server.manager.tick(now: last + IceLiteAgent.consentTimeout + .seconds(5))
        #expect(session.state == .closed && publisherSession.state == .closed)
        #expect(server.manager.counters.sessionsEnded[.consentExpired] == 2)
        #expect(server.room("quiet") == nil)
    }

    // MARK: - Per-client-IP cap

    static func configuration(perIP: Int = 50, maxViewers: Int = 0) -> RoomManagerConfiguration {
        var c = RoomManagerConfiguration()
        c.maxPendingSessionsPerIP = perIP
        c.maxViewersPerRoom = maxViewers
        return c
    }

    static let clientA = SocketAddress(ip: "198.51.100.7", port: 40001)!
    static let clientB = SocketAddress(ip: "203.0.113.9", port: 40001)!

    @Test("the (N+1)th unconnected session from one IP is refused with 429 + Retry-After; another IP is served")
    func perIPCap() throws {
        let server = try LoopbackRoomServer(configuration: Self.configuration(perIP: 3))
        defer { server.close() }
        // Another port of the same IP (a new connection) counts the same; rooms differ.
        func portOfA(_ i: Int) -> SocketAddress { SocketAddress(ip: "198.51.100.7", port: UInt16(41000 + i))! }
        let connecting = try server.viewer(room: "room0", client: portOfA(0))
        let ghost = try server.viewer(room: "room1", client: portOfA(1))
        server.drop(ghost)  // never connects
        server.drop(try server.publisher(room: "room2", client: portOfA(2)))
        let refused = RoomError.tooManyPendingSessions(limit: 3, retryAfter: 2)
        #expect(throws: refused) { try server.viewer(room: "room0", client: Self.clientA) }
        #expect(throws: refused) { try server.publisher(room: "fresh", client: Self.clientA) }
        #expect(refused.status == 429 && refused.retryAfterSeconds == 2)
        #expect(refused.description.contains("too many sessions being set up"))
        #expect(server.manager.counters.refusedPendingPerIP == 2)
        #expect(server.manager.counters.refusedByReason.first { $0.0 == "pending_per_ip" }?.1 == 2)
        #expect(server.room("fresh") == nil, "a refused offer leaves no room behind")
        #expect(server.manager.sessionCount == 3)

        let other = try server.viewer(room: "room0", client: Self.clientB)
        #expect(server.manager.pendingClientCount == 2)

        // A session that connects frees its place; so does one that ends.
        try #require(server.connectOnly([connecting, other]))
        #expect(server.manager.pendingClientCount == 1)
        server.drop(try server.viewer(room: "room0", client: Self.clientA))
        #expect(throws: refused) { try server.viewer(room: "room0", client: Self.clientA) }
        #expect(server.manager.endSession(room: "room1", id: ghost.sessionID, now: server.loop.now))
        _ = try server.viewer(room: "room1", client: Self.clientA)
        #expect(server.manager.counters.refusedPendingPerIP == 3)
    }

    @Test("never-connecting sessions free their per-IP places at the set-up timeout")
    func perIPCapAfterTimeout() throws {
        let server = try LoopbackRoomServer(configuration: Self.configuration(perIP: 2))
        defer { server.close() }
        let a = try server.viewer(room: "r", client: Self.clientA)
        _ = try server.viewer(room: "r", client: Self.clientA)
        for c in server.clients { server.drop(c) }
        #expect(throws: RoomError.self) { try server.viewer(room: "r", client: Self.clientA) }
        let created = try #require(server.room("r")?.viewersByID[a.sessionID]?.createdAt)
        server.manager.tick(now: created + Self.setupTimeout)
        #expect(server.manager.pendingClientCount == 0)
        _ = try server.viewer(room: "r", client: Self.clientA)
    }

    @Test("IPv6 clients of one /64 share a cap; IPv4-mapped IPv6 counts as the IPv4 address")
    func perIPKeys() {
        let k = PendingSessionsByIP.key
        #expect(k(SocketAddress(ip: "2001:db8:1:2::1", port: 1)!) == k(SocketAddress(ip: "2001:db8:1:2:ffff::9", port: 2)!))
        #expect(k(SocketAddress(ip: "2001:db8:1:2::1", port: 1)!) != k(SocketAddress(ip: "2001:db8:1:3::1", port: 1)!))
        #expect(k(SocketAddress(ip: "::ffff:198.51.100.7", port: 1)!) == k(Self.clientA))
        #expect(k(Self.clientA) != k(Self.clientB))
    }

    @Test("with the default configuration one IP gets 50 unconnected sessions on a core, and the 51st is refused")
    func defaultCap() throws {
        let server = try LoopbackRoomServer()
        defer { server.close() }
        #expect(RoomManagerConfiguration().maxPendingSessionsPerIP == 50)
        let parameters = OfferParameters(
            iceUfrag: "capU", icePassword: "cappassword0123456789012",
            fingerprint: server.clientIdentity.localFingerprint.value, sessionID: 7, cname: "cap", streamID: "cap-stream")
        let offer = OfferBuilder.viewerOffer(parameters).session
        let room = try RoomName(validating: "crowd")
        for _ in 0..<50 {
            _ = try server.manager.play(room: room, offer: offer, client: Self.clientA, now: server.loop.now)
        }
        #expect(throws: RoomError.tooManyPendingSessions(limit: 50, retryAfter: 2)) {
            try server.manager.play(room: room, offer: offer, client: Self.clientA, now: server.loop.now)
        }
        _ = try server.manager.play(room: room, offer: offer, client: Self.clientB, now: server.loop.now)
        // No address known (a caller that does not pass one): not capped.
        _ = try server.manager.play(room: room, offer: offer, now: server.loop.now)
    }

    // MARK: - MAX_SUBS_PER_ROOM counts connected viewers

    @Test("connected viewers count toward MAX_SUBS_PER_ROOM; never-connecting ones only within the set-up allowance")
    func roomLimitCountsConnected() throws {
        let server = try LoopbackRoomServer(configuration: Self.configuration(maxViewers: 3))
        defer { server.close() }
        #expect(server.manager.configuration.viewerSetupAllowance == 2)
        // Never-connecting viewers: limit + allowance are admitted, no more.
        var ghosts: [TestClient] = []
        for _ in 0..<5 { ghosts.append(try server.viewer(room: "small")) }
        for g in ghosts { server.drop(g) }
        #expect(throws: RoomError.roomFull(limit: 3)) { try server.viewer(room: "small") }
        let created = try #require(server.room("small")?.viewersByID.values.map(\.createdAt).max())
        server.manager.tick(now: created + Self.setupTimeout)
        #expect(server.room("small") == nil, "the ghosts timed out")

        // Two connected viewers and two ghosts: a third real viewer still gets in.
        let a = try server.viewer(room: "small")
        let b = try server.viewer(room: "small")
        try #require(server.connect([a, b]))
        for g in [try server.viewer(room: "small"), try server.viewer(room: "small")] { server.drop(g) }
        let c = try server.viewer(room: "small")
        #expect(server.connectOnly([c]))
        // Three connected: the room is full whatever is still setting up.
        #expect(throws: RoomError.roomFull(limit: 3)) { try server.viewer(room: "small") }
        #expect(server.manager.snapshot(now: server.loop.now).first?.connectedViewers == 3)
        #expect(server.room("small")?.connectedViewers == 3)
        #expect(server.manager.endSession(room: "small", id: a.sessionID, now: server.loop.now))
        #expect(server.room("small")?.connectedViewers == 2)
        let d = try server.viewer(room: "small")
        #expect(server.connectOnly([d]))
    }

    @Test("viewers admitted within the allowance that connect into a full room are ended: the limit is never passed")
    func overbookedViewersEnded() throws {
        let server = try LoopbackRoomServer(configuration: Self.configuration(maxViewers: 3))
        defer { server.close() }
        let publisher = try server.publisher(room: "busy")
        let viewers = try (0..<5).map { _ in try server.viewer(room: "busy") }
        #expect(throws: RoomError.roomFull(limit: 3)) { try server.viewer(room: "busy") }
        try #require(server.loop.run(until: { server.manager.pendingCount == 0 }))
        #expect(server.room("busy")?.connectedViewers == 3)
        #expect(server.manager.counters.sessionsEnded[.roomFull] == 2)
        #expect(server.manager.counters.refusedRoomFull == 3)
        #expect(server.loop.run(until: { viewers.filter { $0.peer.dtlsClosed }.count == 2 }), "told by close_notify")
        let served = viewers.filter { !$0.peer.dtlsClosed }
        #expect(served.count == 3)
        #expect(server.publish(4, from: publisher))
        #expect(server.loop.run(until: { served.allSatisfy { $0.recorder.media.count == 4 } }))
    }

    @Test("the set-up allowance is max(2, 10 % of MAX_SUBS_PER_ROOM)")
    func allowance() {
        var c = RoomManagerConfiguration()
        for (limit, allowance) in [(0, 2), (1, 2), (25, 2), (30, 3), (1000, 100)] {
            c.maxViewersPerRoom = limit
            #expect(c.viewerSetupAllowance == allowance, "\(limit)")
        }
    }
}
