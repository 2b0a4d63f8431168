import CAllocCounter
import Reactor
import Testing

@testable import SFU

/// The edge role (`CLUSTER_MODE=edge`) on two real room layers — an origin and an edge, each a
/// `RoomManager` on its own UDP socket of one loop — with the relay made as `EdgeRelays`
/// makes it, minus HTTP: the edge's relay offer is played on the origin, the answer attached
/// on the edge, the `RelaySource` connected to a socket of its own.
@Suite("Edge relay: a room played from its origin by one client-role viewer", .serialized)
final class EdgeRelayTests {
    let origin: LoopbackRoomServer
    let edge: LoopbackRoomServer
    var relaySockets: [UDPSocket] = []
    /// Relays the edge's manager reported as ended.
    var ended: [RelaySource] = []

    init() throws {
        origin = try LoopbackRoomServer(tapBatches: true)  // counts the publisher path's allocations
        edge = try LoopbackRoomServer(on: origin.loop)
        edge.manager.relayEnded = { [unowned self] relay in ended.append(relay) }
    }

    deinit {
        edge.close()
        origin.close()
    }

    var loop: EventLoop { origin.loop }

    /// The relay of `room` from the origin to the edge; returns it with its session id on the origin.
    /// `front`: an endpoint put between the relay's socket and the relay (given the relay).
    func relay(
        _ room: String, creatingRoom: Bool = true, reconnects: Int = 0,
        front: ((RelaySource) -> DatagramEndpoint)? = nil
    ) throws -> (RelaySource, String) {
        let offer = try edge.manager.makeRelayOffer()
        let created = try origin.manager.play(
            room: RoomName(validating: room), offer: offer.offer.session, relayFor: "edge-1", now: loop.now)
        let queue = loop.makeDatagramQueue()
        let relay = try edge.manager.attachRelay(
            room: RoomName(validating: room), offer: offer, answer: created.answer, origin: "origin-1", output: queue,
            reconnects: reconnects, creatingRoom: creatingRoom, now: loop.now)
        relaySockets.append(
            try loop.openUDP(bind: SocketAddress(ip: "127.0.0.1", port: 0)!, endpoint: front?(relay) ?? relay, queue: queue))
        return (relay, created.sessionID)
    }

    func relayViewersOnOrigin(_ room: String) -> [String] {
        origin.manager.snapshot(now: loop.now).first { $0.name == room }?.relayViewers ?? []
    }

    func received(_ viewers: [TestClient], atLeast n: Int) -> Bool {
        loop.run(until: { viewers.allSatisfy { $0.recorder.media.count >= n } }, timeout: .seconds(20))
    }

    @Test("three viewers on the edge get every packet of the origin's publisher through one relay session")
    func fanOutThroughOneRelay() throws {
        let publisher = try origin.publisher(room: "show")
        #expect(origin.connect([publisher]))
        let (relay, _) = try relay("show")
        let viewers = try (0..<3).map { _ in try edge.viewer(room: "show") }
        #expect(edge.connect(viewers))
        #expect(loop.run(until: { relay.isConnected }, timeout: .seconds(20)))

        #expect(origin.publish(40, from: publisher))
        #expect(received(viewers, atLeast: 40))
        for v in viewers {
            #expect(Set(v.recorder.media.map(\.id)) == Set(publisher.sentIDs))
            #expect(v.recorder.unexpected == 0)
        }
        // The origin serves the edge one session, whatever the edge's viewer count.
        #expect(relayViewersOnOrigin("show") == ["edge-1"])
        #expect(origin.room("show")?.viewerCount == 1)
        #expect(relay.packetsIn >= 40)
        let snapshot = try #require(edge.manager.snapshot(now: loop.now).first { $0.name == "show" })
        #expect(snapshot.relay?.origin == "origin-1" && snapshot.relay?.state == "connected")
        #expect(edge.manager.mediaCounters.relayPacketsIn >= 40)
    }

    @Test("keyframe requests of the edge's viewers go upstream through the relay, throttled to one")
    func keyframeRequestsUpstream() throws {
        let publisher = try origin.publisher(room: "kf")
        var plis = 0
        publisher.peer.onRTCP = { compound in
            for packet in compound {
                if case .pli = packet { plis += 1 }
            }
        }
        #expect(origin.connect([publisher]))
        let (relay, _) = try relay("kf")
        let viewers = try (0..<3).map { _ in try edge.viewer(room: "kf") }
        #expect(edge.connect(viewers))
        #expect(loop.run(until: { relay.isConnected }, timeout: .seconds(20)))
        #expect(origin.publish(8, from: publisher))
        #expect(received(viewers, atLeast: 8))

        let throttle = try #require(edge.room("kf")).video.keyframeThrottle
        let suppressedBefore = throttle.requestsSuppressed
        let sentBefore = throttle.requestsSent
        let plisBefore = plis
        // All three ask in one flush: the edge's throttle lets at most one of them up.
        for v in viewers {
            let media = try #require(v.video?.remoteSSRC)
            v.peer.sendRTCP { $0.addPictureLossIndication(senderSSRC: 1, mediaSSRC: media) }
            v.socket.flush()
        }
        #expect(loop.run(until: { plis > plisBefore }, timeout: .seconds(10)))
        let after = try #require(edge.room("kf")).video.keyframeThrottle
        #expect(after.requestsSuppressed - suppressedBefore >= 2)
        #expect(after.requestsSent - sentBefore <= 1 + 1)  // one now, or one held back and sent at the interval
        #expect(relay.keyframeRequestsSent >= 1)
    }

    @Test("the origin ending the relay leaves the edge's viewers waiting; a new relay resumes them without a new WHEP")
    func relayEndsAndComesBack() throws {
        let publisher = try origin.publisher(room: "again")
        #expect(origin.connect([publisher]))
        let (first, sessionID) = try relay("again")
        let viewers = try (0..<2).map { _ in try edge.viewer(room: "again") }
        #expect(edge.connect(viewers))
        #expect(loop.run(until: { first.isConnected }, timeout: .seconds(20)))
        #expect(origin.publish(10, from: publisher))
        #expect(received(viewers, atLeast: 10))

        // The origin closes the relay's session (DTLS close_notify): the edge is told.
        #expect(origin.manager.endSession(room: "again", id: sessionID, now: loop.now))
        #expect(loop.run(until: { self.ended.contains { $0 === first } }, timeout: .seconds(10)))
        #expect(first.endReason != nil)
        let room = try #require(edge.room("again"))
        #expect(room.relay == nil && room.video.source == nil && room.publisherLeftAt != nil)
        #expect(room.viewerCount == 2)
        #expect(edge.manager.wantsRelay(room: "again"))
        #expect(relayViewersOnOrigin("again").isEmpty)

        // The owner sets a relay up again (it would after its back-off): same viewers, media again.
        let (second, _) = try relay("again", creatingRoom: false, reconnects: 1)
        #expect(loop.run(until: { second.isConnected }, timeout: .seconds(20)))
        let before = viewers.map { $0.recorder.media.count }
        #expect(origin.publish(10, from: publisher))
        #expect(loop.run(until: { zip(viewers, before).allSatisfy { $0.recorder.media.count >= $1 + 10 } }, timeout: .seconds(20)))
        #expect(relayViewersOnOrigin("again") == ["edge-1"])
        #expect(edge.manager.snapshot(now: loop.now).first { $0.name == "again" }?.relay?.reconnects == 1)
    }

    @Test("the last viewer leaving the edge closes the relay, and the origin's relay session ends at once")
    func lastViewerLeaves() throws {
        let publisher = try origin.publisher(room: "bye")
        #expect(origin.connect([publisher]))
        let (relay, _) = try relay("bye")
        let viewer = try edge.viewer(room: "bye")
        #expect(edge.connect([viewer]))
        #expect(loop.run(until: { relay.isConnected }, timeout: .seconds(20)))
        #expect(relayViewersOnOrigin("bye") == ["edge-1"])

        #expect(edge.manager.endSession(room: "bye", id: viewer.sessionID, now: loop.now))
        #expect(edge.room("bye") == nil)
        #expect(ended.contains { $0 === relay } && relay.endReason == "no viewers left")
        #expect(loop.run(until: { self.relayViewersOnOrigin("bye").isEmpty }, timeout: .seconds(10)))
        #expect(origin.room("bye")?.publisher != nil)
    }

    @Test("a relay is refused for a room with a publisher on the edge itself")
    func noRelayOverALocalPublisher() throws {
        let publisher = try edge.publisher(room: "mine")
        let offer = try edge.manager.makeRelayOffer()
        #expect(throws: RoomError.publisherExists) {
            try edge.manager.attachRelay(
                room: RoomName(validating: "mine"), offer: offer, answer: "v=0\r\n", origin: "o", output: loop.makeDatagramQueue(),
                creatingRoom: true, now: loop.now)
        }
        _ = publisher
    }

    @Test("a publisher arriving on the edge ends the relay: it is the room's source now")
    func publisherMovesToTheEdge() throws {
        let far = try origin.publisher(room: "moving")
        #expect(origin.connect([far]))
        let (relay, _) = try relay("moving")
        let viewer = try edge.viewer(room: "moving")
        #expect(edge.connect([viewer]))
        #expect(loop.run(until: { relay.isConnected }, timeout: .seconds(20)))

        let near = try edge.publisher(room: "moving", videoSSRC: 0x0C0C_0001)
        #expect(ended.contains { $0 === relay })
        #expect(!edge.manager.wantsRelay(room: "moving"))
        #expect(edge.connect([near]))
        let before = viewer.recorder.media.count
        #expect(edge.publish(10, from: near))
        #expect(loop.run(until: { viewer.recorder.media.count >= before + 10 }, timeout: .seconds(20)))
    }
    @Test("an origin that goes silent (dead) ends the relay at its consent timeout; the edge's viewers stay")
    func silentOriginEndsTheRelay() throws {
        let publisher = try origin.publisher(room: "silent")
        #expect(origin.connect([publisher]))
        var front: DroppingFront?
        let (relay, _) = try relay("silent") { relay in
            let f = DroppingFront(relay, dropping: [])
            front = f
            return f
        }
        let viewer = try edge.viewer(room: "silent")
        #expect(edge.connect([viewer]))
        #expect(loop.run(until: { relay.isConnected }, timeout: .seconds(20)))
        front?.droppingEverything = true  // as if the origin had died: not even consent answers
        #expect(loop.run(until: { self.ended.contains { $0 === relay } }, timeout: .seconds(30)))
        #expect(relay.endReason == "ICE failed")
        #expect(edge.room("silent")?.viewerCount == 1 && edge.manager.wantsRelay(room: "silent"))
    }

    @Test("the edge's relay path (unprotect, rewrite, history) allocates no more per packet than the publisher path")
    func relayPathAllocations() throws {
        let publisher = try origin.publisher(room: "alloc")
        #expect(origin.connect([publisher]))
        var counter: AllocationCountingFront?
        let (relay, _) = try relay("alloc") { relay in
            let f = AllocationCountingFront(relay)
            counter = f
            return f
        }
        let viewers = try (0..<3).map { _ in try edge.viewer(room: "alloc") }
        #expect(edge.connect(viewers))
        #expect(loop.run(until: { relay.isConnected }, timeout: .seconds(20)))
        #expect(origin.publish(200, from: publisher))  // the history and the send paths warm up
        #expect(received(viewers, atLeast: 200))
        let f = try #require(counter)
        let tap = try #require(origin.tap)
        f.counting = true
        tap.countsAllocations = true
        #expect(origin.publish(400, from: publisher))
        #expect(received(viewers, atLeast: 600))
        f.counting = false
        tap.countsAllocations = false
        #expect(f.rtpCounted == 400 && tap.rtpCounted == 400)
        // The same packets through the origin's publisher path and the edge's relay path. (The
        // unoptimised test build allocates a few times per packet in both, in glue that a release
        // build, as perf/FanoutBench measures it, does not have; the relay must add none.)
        #expect(f.inReceive <= tap.rtpAllocations, "relay \(f.inReceive), publisher path \(tap.rtpAllocations)")
    }

    @Test("packets lost between origin and edge are NACKed upstream by the relay and reach the edge's viewers")
    func relayHopLossRepaired() throws {
        let publisher = try origin.publisher(room: "lossy")
        #expect(origin.connect([publisher]))
        var front: DroppingFront?
        let (relay, _) = try relay("lossy") { relay in
            let f = DroppingFront(relay, dropping: [10, 20, 30, 40])
            front = f
            return f
        }
        let viewer = try edge.viewer(room: "lossy")
        #expect(edge.connect([viewer]))
        #expect(loop.run(until: { relay.isConnected }, timeout: .seconds(20)))

        #expect(origin.publish(60, from: publisher))
        #expect(loop.run(until: { viewer.recorder.ids.isSuperset(of: publisher.sentIDs) }, timeout: .seconds(20)))
        #expect(front?.dropped == 4)
        #expect(relay.nacksSent >= 1)
        #expect((origin.room("lossy")?.video.nacksAnswered ?? 0) >= 4)
    }

    @Test("an H.264 room: the edge's first viewer, answered while the relay still connects, gets H.264 and the media")
    func h264ThroughTheRelay() throws {
        let tracks = [ClientTrack(kind: .video, trackID: "cam", ssrc: 0x0E0E_0001, rtxSSRC: 0x0E0E_0002)]
        let publisher = try origin.makeClient(.publisher, room: "avc") {
            OfferBuilder.publisherOffer($0, tracks: tracks, videoCodecs: [.h264])
        }
        publisher.videoSSRC = 0x0E0E_0001
        publisher.nextSequence = 500
        #expect(origin.connect([publisher]))
        let (relay, _) = try relay("avc")
        // Not connected yet: the edge's room has no source, only the relay's answer.
        #expect(!relay.isConnected)
        let viewer = try edge.makeClient(.viewer, room: "avc") { OfferBuilder.viewerOffer($0, videoCodecs: [.vp8, .h264]) }
        #expect(viewer.video?.codecName == .h264)
        #expect(edge.connect([viewer]))
        #expect(loop.run(until: { relay.isConnected }, timeout: .seconds(20)))
        #expect(origin.publish(12, from: publisher))
        #expect(loop.run(until: { viewer.recorder.media.count >= 12 }, timeout: .seconds(20)))
    }

    @Test("a viewer (an edge's relay) arriving while the publisher sets up is answered with the publisher's codec")
    func codecOfAPublisherSettingUp() throws {
        let tracks = [ClientTrack(kind: .video, trackID: "cam", ssrc: 0x0D0D_0001, rtxSSRC: 0x0D0D_0002)]
        _ = try origin.makeClient(.publisher, room: "h264") { OfferBuilder.publisherOffer($0, tracks: tracks, videoCodecs: [.h264]) }
        // Not connected yet: the room's fan-out has no source.
        #expect(origin.room("h264")?.video.source == nil)
        let viewer = try origin.makeClient(.viewer, room: "h264") { OfferBuilder.viewerOffer($0, videoCodecs: [.vp8, .h264]) }
        #expect(viewer.video?.codecName == .h264)
        let offer = try edge.manager.makeRelayOffer()
        let created = try origin.manager.play(room: RoomName(validating: "h264"), offer: offer.offer.session, now: loop.now)
        let negotiation = try AnswerReader.read(created.answer, offer: offer.offer)
        #expect(negotiation.media.first { $0.kind == .video }?.codecName == .h264)
    }
}

/// Drops the RTP datagrams with the given indices (1-based, counted over every RTP datagram)
/// on their way to the relay; everything else passes.
final class DroppingFront: DatagramEndpoint {
    let inner: DatagramEndpoint
    let dropping: Set<Int>
    private var rtp = 0
    private(set) var dropped = 0
    /// Drops every datagram from now on.
    var droppingEverything = false

    init(_ inner: DatagramEndpoint, dropping: Set<Int>) {
        self.inner = inner
        self.dropping = dropping
    }

    func received(_ datagram: UnsafeMutableRawBufferPointer, from source: SocketAddress, now: Instant) {
        if droppingEverything { return }
        if PacketKind.classify(UnsafeRawBufferPointer(datagram)) == .rtp {
            rtp += 1
            if dropping.contains(rtp) {
                dropped += 1
                return
            }
        }
        inner.received(datagram, from: source, now: now)
    }

    func batchEnded(now: Instant) { inner.batchEnded(now: now) }
}

/// Counts the heap allocations (this thread's, CAllocCounter) made while the relay handles RTP
/// datagrams, while `counting`.
final class AllocationCountingFront: DatagramEndpoint {
    let inner: DatagramEndpoint
    var counting = false
    private(set) var inReceive: UInt64 = 0
    private(set) var rtpCounted = 0

    init(_ inner: DatagramEndpoint) { self.inner = inner }

    func received(_ datagram: UnsafeMutableRawBufferPointer, from source: SocketAddress, now: Instant) {
        guard counting, PacketKind.classify(UnsafeRawBufferPointer(datagram)) == .rtp else {
            inner.received(datagram, from: source, now: now)
            return
        }
        rtpCounted += 1
        let before = lsfu_alloc_count()
        inner.received(datagram, from: source, now: now)
        inReceive += lsfu_alloc_count() - before
    }

    func batchEnded(now: Instant) { inner.batchEnded(now: now) }
}
