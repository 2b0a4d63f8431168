import Reactor
import Testing

@testable import SFU

/// A real `RoomManager` on a real event loop over loopback UDP, with the project's own
/// client peers doing ICE, DTLS and SRTP against it: publish, play, DELETE, tear-down.
@Suite("Room end to end on loopback", .serialized)
struct RoomEndToEndTests {
    /// Every viewer got exactly `ids` in order, on the room's SSRC with its own payload type,
    /// with sequence numbers one apart.
    func expectStream(_ v: TestClient, ids: [UInt32], roomSSRC: UInt32, sourceLocation: SourceLocation = #_sourceLocation) {
        let got = v.recorder.media
        #expect(got.map(\.id) == ids, "viewer \(v.sessionID)", sourceLocation: sourceLocation)
        #expect(v.recorder.unexpected == 0, sourceLocation: sourceLocation)
        #expect(v.peer.unprotectFailures == 0, sourceLocation: sourceLocation)
        #expect(v.recorder.mediaSSRC == roomSSRC, sourceLocation: sourceLocation)
        for (a, b) in zip(got, got.dropFirst()) {
            #expect(b.sequenceNumber == a.sequenceNumber &+ 1, sourceLocation: sourceLocation)
            #expect(b.timestamp &- a.timestamp < 0x8000_0000, "timestamps never go back", sourceLocation: sourceLocation)
        }
    }

    @Test(
        "every packet of the publisher reaches each of three viewers, decrypted, on the room's SSRC, in order, with continuous sequence numbers and that viewer's payload type"
    )
    func publisherAndThreeViewers() throws {
        let server = try LoopbackRoomServer(tapBatches: true)
        defer { server.close() }
        let publisher = try server.publisher(room: "live")
        let viewers = [
            try server.viewer(room: "live"),
            try server.viewer(room: "live", videoPayloadType: 120),  // Firefox's VP8 numbering
            try server.viewer(room: "live", videoPayloadType: 100),
        ]
        try #require(server.connect([publisher] + viewers))
        let roomSSRC = try #require(server.room("live")?.video.ssrc)
        #expect(viewers.map { $0.recorder.payloadType } == [96, 120, 100])
        server.tap?.reset()

        for _ in 0..<6 { #expect(server.publish(8, from: publisher)) }
        #expect(server.loop.run(until: { viewers.allSatisfy { $0.recorder.media.count >= 48 } }, timeout: .seconds(10)))
        server.settle(.milliseconds(50))
        for v in viewers { expectStream(v, ids: publisher.sentIDs, roomSSRC: roomSSRC) }

        // The fan-out happens when the receive batch ends: everything a batch of publisher
        // packets produced for the viewers was queued by `batchEnded` at the latest (nothing
        // stays held for a later batch), and in most batches all of it in `batchEnded`.
        // (A batch may also hold a late ICE check or RTCP, whose replies count too.)
        let media = try #require(server.tap?.batches.filter { $0.rtp > 0 })
        #expect(media.reduce(0) { $0 + $1.rtp } == 48)
        for b in media {
            let queued = b.queuedWhileReceiving + b.queuedAtBatchEnd
            #expect(b.other == 0 ? queued == b.rtp * 3 : queued >= b.rtp * 3)
        }
        #expect(media.contains { $0.queuedWhileReceiving == 0 && $0.rtp > 1 && $0.queuedAtBatchEnd == $0.rtp * 3 })

        let snapshot = try #require(server.manager.snapshot(now: server.loop.now).first)
        #expect(snapshot.viewers == 3 && snapshot.connectedViewers == 3)
        #expect(snapshot.publisher?.packets == 48)
        #expect(snapshot.tracks.first { $0.kind == "video" }?.packetsOut == 48 * 3)
        #expect(server.serverSocket.pendingSendCount == 0)
    }

    @Test("a batch of large packets bigger than the track's history arena still reaches every viewer whole and in order")
    func batchLargerThanHistoryArena() throws {
        var configuration = RoomManagerConfiguration()
        configuration.videoHistoryStartBytes = TrackFanout.minimumHistoryBytes
        let server = try LoopbackRoomServer(configuration: configuration)
        defer { server.close() }
        let publisher = try server.publisher(room: "big")
        publisher.payloadBytes = 1150
        let viewers = [try server.viewer(room: "big"), try server.viewer(room: "big")]
        try #require(server.connect([publisher] + viewers))
        let roomSSRC = try #require(server.room("big")?.video.ssrc)
        // 40 × ~1.2 KB in one flush: more than the smallest arena, which this track starts
        // with, so the held batch is fanned out in parts before the arena comes round to it.
        for _ in 0..<3 { #expect(server.publish(40, from: publisher)) }
        #expect(server.loop.run(until: { viewers.allSatisfy { $0.recorder.media.count >= 120 } }, timeout: .seconds(10)))
        server.settle(.milliseconds(50))
        for v in viewers { expectStream(v, ids: publisher.sentIDs, roomSSRC: roomSSRC) }
        #expect(TrackFanout.minimumHistoryBytes < 40 * 1150)
    }

    @Test("a viewer that joined before the publisher gets its media once it arrives")
    func viewerBeforePublisher() throws {
        let server = try LoopbackRoomServer()
        defer { server.close() }
        let early = try server.viewer(room: "early")
        try #require(server.connect([early]))
        #expect(server.manager.snapshot(now: server.loop.now).first?.connectedViewers == 1)
        server.settle(.milliseconds(50))
        #expect(early.recorder.media.isEmpty)

        let publisher = try server.publisher(room: "early")
        try #require(server.connect([publisher]))
        for _ in 0..<3 { #expect(server.publish(5, from: publisher)) }
        #expect(server.loop.run(until: { early.recorder.media.count >= 15 }, timeout: .seconds(10)))
        let ssrc = try #require(server.room("early")?.video.ssrc)
        expectStream(early, ids: publisher.sentIDs, roomSSRC: ssrc)
    }

    @Test("DELETE ends a session at once: the viewer gets close_notify and no later packet; the room goes when empty")
    func deleteTearsDown() throws {
        let server = try LoopbackRoomServer()
        defer { server.close() }
        let publisher = try server.publisher(room: "del")
        let a = try server.viewer(room: "del")
        let b = try server.viewer(room: "del")
        try #require(server.connect([publisher, a, b]))
        #expect(server.publish(10, from: publisher))
        #expect(server.loop.run(until: { a.recorder.media.count == 10 && b.recorder.media.count == 10 }))

        #expect(server.manager.endSession(room: "del", id: a.sessionID, now: server.loop.now))
        #expect(server.loop.run(until: { a.peer.dtlsClosed }), "the viewer is told (DTLS close_notify)")
        #expect(!server.manager.endSession(room: "del", id: a.sessionID, now: server.loop.now), "a second DELETE: 404")
        #expect(!server.manager.endSession(room: "other", id: b.sessionID, now: server.loop.now), "wrong room: 404")
        #expect(server.manager.snapshot(now: server.loop.now).first?.viewers == 1)
        #expect(server.publish(10, from: publisher))
        #expect(server.loop.run(until: { b.recorder.media.count == 20 }))
        server.settle(.milliseconds(50))
        #expect(a.recorder.media.count == 10, "no packet after DELETE")
        #expect(a.peer.rtpReceived == 10)

        // The publisher leaves; the waiting viewer keeps the room; its DELETE empties it.
        #expect(server.manager.endSession(room: "del", id: publisher.sessionID, now: server.loop.now))
        let room = try #require(server.manager.snapshot(now: server.loop.now).first)
        #expect(room.publisher == nil && room.viewers == 1)
        #expect(server.manager.endSession(room: "del", id: b.sessionID, now: server.loop.now))
        #expect(server.manager.snapshot(now: server.loop.now).isEmpty)
        #expect(server.room("del") == nil)
        #expect(server.manager.sessionCount == 0)
        #expect(server.loop.run(until: { server.manager.routedAddressCount == 0 && b.peer.dtlsClosed }))
        #expect(server.manager.counters.sessionsEnded[.deleted] == 3)

        // The old publisher's packets are now from an unknown source, dropped and counted.
        let before = server.manager.counters.droppedUnknownSource
        for i in 0..<5 { publisher.sendVideoPacket(id: 9000 + UInt32(i)) }
        publisher.socket.flush()
        #expect(server.loop.run(until: { server.manager.counters.droppedUnknownSource == before + 5 }))
        server.settle(.milliseconds(30))
        #expect(b.recorder.media.count == 20)
    }

    @Test("closeRoom ends the publisher and every viewer, removes the room and stops all media")
    func closeRoomTearsDown() throws {
        let server = try LoopbackRoomServer()
        defer { server.close() }
        let publisher = try server.publisher(room: "gone")
        let viewers = [try server.viewer(room: "gone"), try server.viewer(room: "gone")]
        let bystanderPublisher = try server.publisher(room: "stays", videoSSRC: 0x0C0C_0001)
        let bystander = try server.viewer(room: "stays")
        try #require(server.connect([publisher, bystanderPublisher, bystander] + viewers))
        #expect(server.publish(6, from: publisher))
        #expect(server.loop.run(until: { viewers.allSatisfy { $0.recorder.media.count == 6 } }))

        #expect(server.manager.closeRoom("gone", now: server.loop.now))
        #expect(!server.manager.closeRoom("gone", now: server.loop.now), "already gone")
        #expect(server.room("gone") == nil)
        #expect(server.manager.snapshot(now: server.loop.now).map(\.name) == ["stays"])
        #expect(server.manager.sessionCount == 2)
        #expect(server.manager.counters.sessionsEnded[.roomClosed] == 3)
        #expect(server.loop.run(until: { ([publisher] + viewers).allSatisfy { $0.peer.dtlsClosed } }))
        // A late DELETE from a client of the closed room still succeeds (it ended by itself).
        #expect(server.manager.endSession(room: "gone", id: viewers[0].sessionID, now: server.loop.now))

        for i in 0..<6 { publisher.sendVideoPacket(id: 5000 + UInt32(i)) }
        publisher.socket.flush()
        #expect(server.publish(4, from: bystanderPublisher))
        #expect(server.loop.run(until: { bystander.recorder.media.count == 4 }))
        server.settle(.milliseconds(50))
        #expect(viewers.allSatisfy { $0.recorder.media.count == 6 }, "no late packets")
    }

    @Test("a publisher that reconnects with a new SSRC and sequence base keeps the viewers' SSRC and sequence continuity")
    func publisherReconnects() throws {
        let server = try LoopbackRoomServer()
        defer { server.close() }
        let first = try server.publisher(room: "re", videoSSRC: 0x1111_0000, firstSequence: 1000)
        let viewers = [try server.viewer(room: "re"), try server.viewer(room: "re", videoPayloadType: 120)]
        try #require(server.connect([first] + viewers))
        #expect(server.publish(12, from: first))
        #expect(server.loop.run(until: { viewers.allSatisfy { $0.recorder.media.count == 12 } }))

        // The first publisher goes away as a browser tab closes: DTLS close_notify.
        first.peer.close(now: server.loop.now)
        first.socket.flush()
        #expect(server.loop.run(until: { server.room("re")?.publisher == nil }))
        #expect(server.manager.counters.sessionsEnded[.dtlsClosed] == 1)
        #expect(server.manager.snapshot(now: server.loop.now).first?.connectedViewers == 2, "viewers wait")

        let second = try server.publisher(room: "re", videoSSRC: 0x2222_0000, firstSequence: 50_000)
        try #require(server.connect([second]))
        #expect(server.publish(12, from: second))
        #expect(server.loop.run(until: { viewers.allSatisfy { $0.recorder.media.count == 24 } }))
        let ssrc = try #require(server.room("re")?.video.ssrc)
        for v in viewers { expectStream(v, ids: first.sentIDs + second.sentIDs, roomSSRC: ssrc) }
    }

    @Test("a packet landing on a held packet's history slot within one batch does not overwrite it")
    func heldSlotCollision() throws {
        let server = try LoopbackRoomServer()
        defer { server.close() }
        let publisher = try server.publisher(room: "slot")
        let viewer = try server.viewer(room: "slot")
        try #require(server.connect([publisher, viewer]))
        #expect(server.publish(4, from: publisher))
        #expect(server.loop.run(until: { viewer.recorder.media.count == 4 }))

        // Two packets 256 apart (the video history starts with 256 slots: the same slot), sent
        // in one flush so they usually arrive in one receive batch.
        let first = publisher.nextSequence
        publisher.sendVideoPacket(id: 7001)
        publisher.nextSequence = first &+ 256
        publisher.sendVideoPacket(id: 7002)
        publisher.socket.flush()
        #expect(server.loop.run(until: { viewer.recorder.media.count == 6 }))
        let got = viewer.recorder.media.suffix(2).map(\.id)
        #expect(got == [7001, 7002], "each packet keeps its own bytes: \(got)")
    }

    @Test("a publisher's last packets before its BYE in the same receive batch still reach the viewers")
    func packetsBeforeByeAreDelivered() throws {
        let server = try LoopbackRoomServer()
        defer { server.close() }
        let publisher = try server.publisher(room: "tail")
        let viewer = try server.viewer(room: "tail")
        try #require(server.connect([publisher, viewer]))
        for i in 0..<5 { publisher.sendVideoPacket(id: UInt32(i)) }
        publisher.peer.sendRTCP { w in
            w.addReceiverReport(ssrc: 0x0B0B_0001, reports: [RTCPReportBlock]())
            w.addBye(ssrcs: [0x0B0B_0001])
        }
        publisher.socket.flush()
        #expect(server.loop.run(until: { viewer.recorder.media.count == 5 }, timeout: .seconds(2)))
        #expect(viewer.recorder.media.map(\.id) == publisher.sentIDs)
        #expect(server.manager.mediaCounters.droppedPublisherLeft == 0)
    }

    @Test("a room refuses viewers beyond MAX_SUBS_PER_ROOM connected ones, and takes one again when a place frees")
    func maxViewersPerRoom() throws {
        var configuration = RoomManagerConfiguration()
        configuration.maxViewersPerRoom = 2
        let server = try LoopbackRoomServer(configuration: configuration)
        defer { server.close() }
        let a = try server.viewer(room: "small")
        let b = try server.viewer(room: "small")
        try #require(server.connect([a, b]))
        #expect(throws: RoomError.roomFull(limit: 2)) { try server.viewer(room: "small") }
        #expect(server.manager.counters.refusedRoomFull == 1)
        #expect(server.manager.sessionCount == 2, "the refused offer left no session behind")
        _ = try server.viewer(room: "other")  // another room is not affected
        try #require(server.connect(server.clients))

        #expect(server.manager.endSession(room: "small", id: a.sessionID, now: server.loop.now))
        let c = try server.viewer(room: "small")
        #expect(server.connect([c]))
        #expect(server.manager.snapshot(now: server.loop.now).first { $0.name == "small" }?.connectedViewers == 2)
    }

    @Test("pliSent counts only the PLIs that went out: one that found no send buffer is not counted")
    func pliSentCountsOnlySent() throws {
        let server = try LoopbackRoomServer()
        defer { server.close() }
        let publisher = try server.publisher(room: "pli")
        let viewer = try server.viewer(room: "pli")
        try #require(server.connect([publisher, viewer]))
        #expect(server.publish(5, from: publisher))  // the room learns the publisher's video SSRC
        server.settle(.milliseconds(50))
        let pliSent = { server.manager.mediaCounters.pliSent }
        let before = pliSent()
        // No keyframe came, so the throttle asks again after `retryAfter` (1 s): with every
        // send buffer of the core taken, that PLI cannot be queued.
        let pool = server.loop.pool
        var taken: [BufferPool.Slot] = []
        while let slot = pool.take() { taken.append(slot) }
        server.manager.tick(now: server.loop.now + .seconds(2))
        #expect(pliSent() == before, "a PLI that was not sent is not counted")
        for slot in taken { pool.give(slot) }
        server.manager.tick(now: server.loop.now + .seconds(4))
        #expect(pliSent() == before + 1)
        #expect(server.serverSocket.pendingSendCount > 0)
    }

    @Test("datagrams from unknown sources and garbage are counted by reason and dropped; nothing reaches a viewer")
    func unknownSourcesAndGarbage() throws {
        let server = try LoopbackRoomServer()
        defer { server.close() }
        let publisher = try server.publisher(room: "junk")
        let viewer = try server.viewer(room: "junk")
        try #require(server.connect([publisher, viewer]))
        let stranger = try server.loop.openUDP(bind: SocketAddress(ip: "127.0.0.1", port: 0)!, receiver: Silent())
        let to = server.serverAddress
        func send(_ bytes: [UInt8], from socket: UDPSocket) { _ = bytes.withUnsafeBytes { socket.send($0, to: to) } }

        var rtp = [UInt8](repeating: 0, count: 60)
        rtp[0] = 0x80
        rtp[1] = 96
        var rtcp = rtp
        rtcp[1] = 200
        var dtls = [UInt8](repeating: 0, count: 40)
        dtls[0] = 22
        var stun = [UInt8](repeating: 0, count: 20)
        stun[1] = 1  // a binding request without USERNAME
        let garbage: [[UInt8]] = [[0xFF, 1, 2, 3], [0x40], [4, 5, 6, 7, 8], []]
        for d in [rtp, rtp, rtcp, dtls] { send(d, from: stranger) }
        send(stun, from: stranger)
        for g in garbage { send(g, from: stranger) }
        // From the publisher's own address: SRTP that does not authenticate.
        let publisherSocket = publisher.socket
        send(rtp, from: publisherSocket)
        send(rtcp, from: publisherSocket)
        stranger.flush()
        publisherSocket.flush()

        let c = { server.manager.mediaCounters }
        #expect(
            server.loop.run(until: {
                c().droppedUnknownSource == 4 && c().droppedGarbage >= 3 && c().stunUnknownUfrag == 1
                    && c().droppedSRTPErrors == 2
            }), "\(c())")
        #expect(server.manager.counters.droppedUnknownSource == 4)
        #expect(server.manager.snapshot(now: server.loop.now).first?.publisher?.srtpErrors == 2)
        #expect(c().droppedByReason.first { $0.0 == "garbage" }?.1 == c().droppedGarbage)

        // The room still works, and the viewer saw only the real media.
        #expect(server.publish(5, from: publisher))
        #expect(server.loop.run(until: { viewer.recorder.media.count == 5 }))
        server.settle(.milliseconds(30))
        #expect(viewer.recorder.media.map(\.id) == publisher.sentIDs)
        #expect(viewer.recorder.unexpected == 0 && viewer.peer.unprotectFailures == 0)
    }
}

/// A receiver that ignores everything (a stranger's socket).
final class Silent: UDPReceiver {
    func received(_ d: UnsafeMutableRawBufferPointer, from: SocketAddress, on: UDPSocket, now: Instant) {}
    func batchEnded(on: UDPSocket, now: Instant) {}
}
