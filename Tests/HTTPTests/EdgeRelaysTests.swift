import Cluster
import Reactor
import SFU
import Testing

@testable import HTTP

/// `EdgeRelays` on a real loop and room layer, its links to origins and to the directory
/// replaced by fakes the test answers: how viewers' WHEPs wait for, share and learn the fate of
/// one relay set-up, and when the edge asks the directory again.
@Suite("Edge relays: one set-up per room, its waiting viewers, and asking the directory again", .serialized)
final class EdgeRelaysTests {
    /// Records what the relays ask; the test answers.
    final class FakeLinks: @unchecked Sendable {
        // Touched on the test's thread only (the loop runs there): `@unchecked` for the closures.
        var exchanges: [(request: RelayHTTPClient.Request, deliver: @Sendable (RelayHTTPClient.Outcome) -> Void)] = []
        var locates: [(room: String, deliver: @Sendable (DirectoryReply) -> Void)] = []

        func links(node: String) -> EdgeRelays.Links {
            let settings = ClusterSettings(
                redis: RedisEndpoint(host: "127.0.0.1"), nodeID: node, nodeURL: NodeURL(validating: "http://10.9.9.2:8080")!,
                mode: .edge, token: "tok")
            return EdgeRelays.Links(
                settings: settings, exchange: { [self] in exchanges.append(($0, $1)) },
                locate: { [self] in locates.append(($0, $1)) })
        }

        /// Play requests only (DELETEs of sessions left behind are not counted).
        var plays: [RelayHTTPClient.Request] { exchanges.map(\.request).filter { $0.method == "POST" } }
    }

    let loop: EventLoop
    let rooms: RoomManager
    let fake = FakeLinks()
    let relays: EdgeRelays
    let origin = NodeEntry(id: "a", url: NodeURL(validating: "http://10.9.9.1:8080"), load: 0.1, viewers: 3)
    let identity: DTLSIdentity

    init() throws {
        loop = try EventLoop(pool: BufferPool(slotSize: 2048, slotCount: 256))
        identity = try DTLSIdentity.generate()
        var c = RoomManagerConfiguration()
        c.candidateIPs = ["127.0.0.1"]
        rooms = RoomManager(coreIndex: 0, identity: identity, configuration: c, output: loop.makeDatagramQueue(), mediaPort: 9)
        relays = EdgeRelays(loop: loop, rooms: rooms, links: fake.links(node: "b"), bindIP: "127.0.0.1", log: { _ in })
    }

    deinit { loop.close() }

    /// A viewer of `room` on the edge, set up as far as its answer (no peer behind it); its session id.
    @discardableResult
    func viewer(_ room: String) throws -> String {
        let p = OfferParameters(
            iceUfrag: "view\(rooms.sessionCount)", icePassword: "viewerpasswordviewerpassword",
            fingerprint: identity.localFingerprint.value, sessionID: 7, cname: "v")
        return try rooms.play(room: RoomName(validating: room), offer: OfferBuilder.viewerOffer(p).session, now: loop.now)
            .sessionID
    }

    static func describe(_ o: EdgeRelays.Outcome) -> String {
        switch o {
        case .ready: "ready"
        case .failed(let why): "failed: \(why)"
        }
    }

    @Test("five viewers arriving together wait for one WHEP exchange with the origin, and share its failure")
    func oneExchangeForManyViewers() throws {
        var outcomes: [String] = []
        for _ in 0..<5 { relays.play(room: try RoomName(validating: "show"), origin: origin) { outcomes.append(Self.describe($0)) } }
        #expect(fake.plays.count == 1)
        let request = try #require(fake.plays.first)
        #expect(request.url == "http://10.9.9.1:8080/api/whep/play/show")
        #expect(request.headers.contains("X-Livesfu-Relay: b") && request.headers.contains("Authorization: Bearer tok"))
        fake.exchanges[0].deliver(.failure(.timeout))
        #expect(loop.run(until: { outcomes.count == 5 }, timeout: .seconds(5)))
        #expect(outcomes.allSatisfy { $0 == "failed: origin a (http://10.9.9.1:8080): no answer in time" }, "\(outcomes)")
        #expect(relays.setupsFailed == 1)
        // No viewer is left waiting here, so nothing is tried again; the next viewer starts over.
        relays.play(room: try RoomName(validating: "show"), origin: origin) { outcomes.append(Self.describe($0)) }
        #expect(fake.plays.count == 2)
    }

    @Test("an origin that refuses (508) or answers without a session URL: the waiting viewers get why")
    func refusals() throws {
        var outcomes: [String] = []
        relays.play(room: try RoomName(validating: "r1"), origin: origin) { outcomes.append(Self.describe($0)) }
        relays.play(room: try RoomName(validating: "r2"), origin: origin) { outcomes.append(Self.describe($0)) }
        fake.exchanges[0].deliver(.success(.init(status: 508, location: nil, body: "this node does not hold room r1")))
        fake.exchanges[1].deliver(.success(.init(status: 201, location: nil, body: "v=0\r\n")))
        #expect(loop.run(until: { outcomes.count == 2 }, timeout: .seconds(5)))
        #expect(outcomes.contains { $0.contains("answered 508: this node does not hold room r1") })
        #expect(outcomes.contains { $0.contains("no Location") })
    }

    @Test("a viewer playing a room no node holds: the edge asks again and pulls the room once a node holds it")
    func watchedRoomIsPulled() throws {
        try viewer("later")
        relays.watch(room: try RoomName(validating: "later"))
        #expect(fake.locates.isEmpty)  // asked after `watchInterval`, not at once
        #expect(loop.run(until: { !self.fake.locates.isEmpty }, timeout: .seconds(10)))
        #expect(fake.locates[0].room == "later")
        fake.locates[0].deliver(.located(nil))  // still nobody: asked again later
        #expect(loop.run(until: { self.fake.locates.count == 2 }, timeout: .seconds(10)))
        fake.locates[1].deliver(.located(origin))
        #expect(loop.run(until: { self.fake.plays.count == 1 }, timeout: .seconds(5)))
        #expect(fake.plays[0].url == "http://10.9.9.1:8080/api/whep/play/later")
    }

    @Test("a viewer that arrives while the directory is asked again learns it is unavailable, not left waiting")
    func waiterAnsweredWhenTheDirectoryIsDown() throws {
        try viewer("down")
        relays.watch(room: try RoomName(validating: "down"))
        #expect(loop.run(until: { !self.fake.locates.isEmpty }, timeout: .seconds(10)))
        var outcomes: [String] = []
        relays.play(room: try RoomName(validating: "down"), origin: origin) { outcomes.append(Self.describe($0)) }
        fake.locates[0].deliver(.unavailable(reason: "cluster directory unavailable (redis down)"))
        #expect(loop.run(until: { !outcomes.isEmpty }, timeout: .seconds(5)))
        #expect(outcomes == ["failed: cluster directory unavailable (redis down)"])
        // The room still has a viewer waiting: the edge asks again, and that is no failed attempt.
        #expect(loop.run(until: { self.fake.locates.count == 2 }, timeout: .seconds(10)))
        #expect(relays.setupsFailed == 0)
    }

    @Test("a viewer that arrives while the edge asks where an emptied room is joins it and the edge keeps watching")
    func waiterOfAnEmptiedRoom() throws {
        let first = try viewer("emptied")
        relays.watch(room: try RoomName(validating: "emptied"))
        #expect(loop.run(until: { !self.fake.locates.isEmpty }, timeout: .seconds(10)))
        #expect(rooms.endSession(room: "emptied", id: first, now: loop.now))  // the room is gone meanwhile
        var outcomes: [String] = []
        relays.play(room: try RoomName(validating: "emptied"), origin: origin) { [self] outcome in
            outcomes.append(Self.describe(outcome))
            if case .ready = outcome { _ = try? viewer("emptied") }  // as RoomRoutes.playOnEdge does
        }
        fake.locates[0].deliver(.located(nil))
        #expect(loop.run(until: { !outcomes.isEmpty }, timeout: .seconds(5)))
        #expect(outcomes == ["ready"])
        #expect(loop.run(until: { self.fake.locates.count == 2 }, timeout: .seconds(10)))
    }
}
