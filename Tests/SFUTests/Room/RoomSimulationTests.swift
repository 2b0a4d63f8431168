import Reactor
import Testing

@testable import SFU

/// A whole room under loss, reordering and churn, from a seed: viewers join and leave while
/// media flows, each viewer's receive path drops and reorders RTP, and viewers NACK what is
/// missing as a browser does. Outcomes a user would notice are checked — every packet, or
/// its repair, reaches every viewer that stays — and that nothing is left behind once
/// everyone has left. The seed is in every failure message; the schedule (which packet is
/// dropped, who joins or leaves when) replays from it, the wall-clock interleaving does not.
@Suite("Room simulation: loss, reordering and churn from a seed", .serialized)
struct RoomSimulationTests {
    /// Sends each viewer's NACK for what it misses, at most every 60 ms per viewer and each
    /// sequence number at most every 150 ms (beyond the server's repeat suppression).
    final class Nacker {
        var lastSent: [ObjectIdentifier: Instant] = [:]
        var askedAt: [ObjectIdentifier: [UInt16: Instant]] = [:]
        var nacksSent = 0

        /// `last`: the newest sequence number sent (a browser learns of a lost tail from the
        /// packets and sender reports that follow; here the test tells it).
        func run(_ viewers: [TestClient], through last: UInt16, now: Instant) {
            for v in viewers where v.peer.isConnected && !v.peer.dtlsClosed {
                let key = ObjectIdentifier(v)
                if let last = lastSent[key], now - last < .milliseconds(60) { continue }
                var asked = askedAt[key] ?? [:]
                let due = v.recorder.missing(from: v.expectsFrom, through: last).filter { seq in
                    asked[seq].map { now - $0 >= .milliseconds(150) } ?? true
                }.prefix(40)
                guard !due.isEmpty, let media = v.video?.remoteSSRC else { continue }
                let sender = 0x5EED_0000 | UInt32(truncatingIfNeeded: key.hashValue & 0xFFFF)
                if v.peer.sendRTCP({ $0.addNack(senderSSRC: sender, mediaSSRC: media, lost: due) }) {
                    v.peer.socket?.flush()
                    for s in due { asked[s] = now }
                    lastSent[key] = now
                    nacksSent += 1
                }
                askedAt[key] = asked
            }
        }
    }

    func simulate(seed: UInt64) throws {
        var rng = SplitMixRandom(seed: seed)
        let server = try LoopbackRoomServer()
        defer { server.close() }
        let room = "sim"
        let publisher = try server.publisher(room: room)
        func lossy() -> LossyLink { LossyLink(seed: rng.next(), dropPercent: 8, reorderPercent: 6) }
        var stayers = try (0..<3).map { _ in try server.viewer(room: room, lossy: lossy()) }
        for v in stayers { v.expectsFrom = publisher.nextSequence }
        try #require(server.connect([publisher] + stayers), "seed \(seed): set-up")
        let nacker = Nacker()
        var churners: [TestClient] = []
        var everyone: [TestClient] = stayers
        server.onDrive = { now in nacker.run(stayers + churners, through: publisher.nextSequence &- 1, now: now) }

        let rounds = 28
        var churnLeft = 0
        for round in 0..<rounds {
            #expect(server.publish(8, from: publisher), "seed \(seed): round \(round) not taken")
            // Churn: a viewer joins (connecting while media flows) or one leaves, by DELETE or
            // by DTLS close_notify as a closing tab; one more viewer joins to stay, late.
            let r = rng.next() % 100
            if r < 30 {
                let c = try server.viewer(room: room, lossy: rng.next() % 2 == 0 ? lossy() : nil)
                churners.append(c)
                everyone.append(c)
            } else if r < 55, !churners.isEmpty {
                let c = churners.remove(at: Int(rng.next() % UInt64(churners.count)))
                if rng.next() % 2 == 0 || !c.peer.isConnected {
                    #expect(server.manager.endSession(room: room, id: c.sessionID, now: server.loop.now))
                } else {
                    c.peer.close(now: server.loop.now)
                    c.peer.socket?.flush()
                }
                churnLeft += 1
            }
            if round == rounds / 3 {
                let late = try server.viewer(room: room, lossy: lossy())
                stayers.append(late)
                everyone.append(late)
            }
            server.settle(.milliseconds(15))
        }
        let lastSequence = publisher.nextSequence &- 1  // the first publisher's numbers are kept
        // Viewers there from the start must have everything; the late one from its first packet.
        func missing(_ v: TestClient) -> [UInt16] { v.recorder.missing(from: v.expectsFrom, through: lastSequence) }

        // Repairs: every viewer that stayed ends with every packet (or its repair).
        let done = server.loop.run(until: { stayers.allSatisfy { missing($0).isEmpty } }, timeout: .seconds(15))
        #expect(done, "seed \(seed): repairs incomplete")
        for v in stayers {
            let missing = missing(v)
            #expect(missing.isEmpty, "seed \(seed): viewer \(v.sessionID) misses \(missing.prefix(20))")
            #expect(v.recorder.unexpected == 0 && v.peer.unprotectFailures == 0, "seed \(seed)")
            // What arrived is what was sent under those numbers (ids match sequence numbers).
            for p in v.recorder.media + v.recorder.repairs {
                #expect(publisher.sentIDs[Int(p.sequenceNumber &- 1000)] == p.id, "seed \(seed): seq \(p.sequenceNumber)")
            }
        }
        let dropped = stayers.compactMap(\.lossy).reduce(0) { $0 + $1.dropped }
        let repaired = stayers.reduce(0) { $0 + $1.recorder.repairs.count }
        #expect(dropped > 0 && repaired > 0 && nacker.nacksSent > 0, "seed \(seed): the loss was real and repaired")
        #expect(churnLeft > 0 || !churners.isEmpty, "seed \(seed): some churn happened")

        // Everyone leaves: viewers by DELETE, the publisher by close_notify.
        server.onDrive = nil
        for v in stayers + churners {
            server.manager.endSession(room: room, id: v.sessionID, now: server.loop.now)
        }
        publisher.peer.close(now: server.loop.now)
        publisher.peer.socket?.flush()
        let m = server.manager
        let clean = server.loop.run(
            until: {
                m.sessionCount == 0 && m.pendingCount == 0 && m.routedAddressCount == 0 && m.rooms.isEmpty
                    && server.serverSocket.pendingSendCount == 0
            }, timeout: .seconds(10))
        #expect(clean, "seed \(seed): sessions \(m.sessionCount), pending \(m.pendingCount), routes \(m.routedAddressCount)")
        #expect(m.snapshot(now: server.loop.now).isEmpty, "seed \(seed)")
        #expect(m.counters.sessionsCreated == UInt64(everyone.count + 1), "seed \(seed)")
        let ended = m.counters.sessionsEnded.values.reduce(0, +)
        #expect(ended == m.counters.sessionsCreated, "seed \(seed): every session ended exactly once")
        // Every pooled send slot came back once the queues drained.
        #expect(
            server.loop.run(until: { server.loop.pool.available == server.loop.pool.slotCount }, timeout: .seconds(2)),
            "seed \(seed): pool \(server.loop.pool.available)/\(server.loop.pool.slotCount)")
    }

    @Test("viewers joining and leaving while media flows, 8% loss and 6% reordering on their path, NACK repair: every viewer that stays gets every packet, and nothing leaks", arguments: [UInt64(0x5EED_0001), 0xC0FF_EE42])
    func lossReorderChurn(seed: UInt64) throws {
        try simulate(seed: seed)
    }
}
