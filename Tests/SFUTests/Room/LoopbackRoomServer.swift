import CAllocCounter
import Reactor
import Testing

@testable import SFU

/// The room layer of one core as `Server` wires it — a `RoomManager` receiving on a UDP
/// socket bound to 127.0.0.1 of a real `EventLoop`, ticked every 20 ms — with the project's
/// own client peers (`ClientPeer`) on sockets of the same loop, driven every 5 ms. Tests run
/// the loop until a condition holds (generous timeouts, never timing assertions).
final class LoopbackRoomServer {
    let loop: EventLoop
    let manager: RoomManager
    let serverSocket: UDPSocket
    /// In front of the manager when the test watches receive batches; nil: the manager is the
    /// socket's receiver, exactly as in production.
    let tap: BatchTap?
    let clientIdentity: DTLSIdentity
    private(set) var clients: [TestClient] = []
    private var timers: [TimerHandle] = []
    private var nextIndex = 0
    /// Payload ids are unique across a test's publishers (a reconnect continues them).
    private var nextPayloadID: UInt32 = 0
    /// Called from the 5 ms driver after the clients are driven (a test's periodic work).
    var onDrive: ((Instant) -> Void)?

    /// Whether `close` closes the loop (not when it was given: another server owns it).
    private let ownsLoop: Bool

    /// `loop`: another server's, to run two servers (an origin and an edge, or two cores of
    /// one server) on one loop; `coreIndex`: the manager's core.
    init(
        configuration: RoomManagerConfiguration = RoomManagerConfiguration(), tapBatches: Bool = false,
        on sharedLoop: EventLoop? = nil, coreIndex: Int = 0
    ) throws {
        ownsLoop = sharedLoop == nil
        loop = try sharedLoop ?? EventLoop(pool: BufferPool(slotSize: 2048, slotCount: 2048))
        var c = configuration
        c.candidateIPs = ["127.0.0.1"]
        let queue = loop.makeDatagramQueue()
        manager = RoomManager(coreIndex: coreIndex, identity: try DTLSIdentity.generate(), configuration: c, output: queue)
        let tap = tapBatches ? BatchTap(manager: manager) : nil
        self.tap = tap
        serverSocket = try loop.openUDP(
            bind: SocketAddress(ip: "127.0.0.1", port: 0)!, endpoint: tap.map { $0 as DatagramEndpoint } ?? manager,
            queue: queue)
        manager.mediaPort = serverSocket.localAddress.port
        clientIdentity = try DTLSIdentity.generate()
        let tickInterval = Duration.milliseconds(20)
        var tick: TimerHandle?
        tick = loop.scheduleTimer(after: tickInterval) { [unowned self] in
            manager.tick(now: loop.now)
            if let tick { loop.reschedule(tick, at: loop.now + tickInterval) }
        }
        var drive: TimerHandle?
        drive = loop.scheduleTimer(after: .milliseconds(1)) { [unowned self] in
            let now = loop.now
            for c in clients { c.peer.drive(now: now) }
            onDrive?(now)
            if let drive { loop.reschedule(drive, at: loop.now + .milliseconds(5)) }
        }
        timers = [tick, drive].compactMap { $0 }
    }

    /// Stops the timers and closes every socket (the loop's own close).
    func close() {
        for t in timers { loop.cancelTimer(t) }
        timers = []
        onDrive = nil
        for c in clients { c.peer.onRTP = nil }
        clients = []
        if ownsLoop { loop.close() } else { serverSocket.close() }
    }

    var serverAddress: SocketAddress { serverSocket.localAddress }

    // MARK: - Clients

    /// A WHIP publisher of one VP8 video track (and an Opus audio track) in `room`.
    func publisher(
        room: String, videoSSRC: UInt32 = 0x0B0B_0001, firstSequence: UInt16 = 1000, client: SocketAddress? = nil
    ) throws -> TestClient {
        let i = nextIndex
        let tracks = [
            ClientTrack(kind: .audio, trackID: "mic\(i)", ssrc: videoSSRC &+ 0x100),
            ClientTrack(kind: .video, trackID: "cam\(i)", ssrc: videoSSRC, rtxSSRC: videoSSRC &+ 1),
        ]
        let made = try makeClient(.publisher, room: room, client: client) { OfferBuilder.publisherOffer($0, tracks: tracks) }
        made.videoSSRC = videoSSRC
        made.nextSequence = firstSequence
        return made
    }

    /// A WHEP viewer of `room`; `videoPayloadType` renumbers its VP8 (and RTX + 1) in the
    /// offer, as a client with another numbering than the publisher's (Firefox uses 120).
    /// `lossy` puts a seeded loss/reorder filter on its receive path.
    func viewer(
        room: String, videoPayloadType: UInt8? = nil, lossy: LossyLink? = nil, client: SocketAddress? = nil
    ) throws -> TestClient {
        try makeClient(.viewer, room: room, lossy: lossy, client: client) { p in
            var offer = OfferBuilder.viewerOffer(p)
            if let pt = videoPayloadType { offer.renumberVideo(payloadType: pt) }
            return offer
        }
    }

    /// Makes the offer, calls `publish`/`play` (the HTTP handler's job), reads the answer and
    /// opens the client's socket. Throws what the manager throws (e.g. a full room).
    /// `client`: the HTTP request's remote address, as the handler passes it (per-IP caps).
    /// `create`: makes the session instead of this server's `publish`/`play` (a viewer placed on
    /// another core's shard).
    func makeClient(
        _ role: ClientPeer.Role, room: String, lossy: LossyLink? = nil, client: SocketAddress? = nil,
        create: ((SessionDescription) throws -> SessionCreated)? = nil,
        offer build: (OfferParameters) -> ClientOffer
    ) throws -> TestClient {
        let index = nextIndex
        nextIndex += 1
        let ufrag = "tc\(index)u"
        let password = "testclientpassword\(100_000 + index)"
        let parameters = OfferParameters(
            iceUfrag: ufrag, icePassword: password, fingerprint: clientIdentity.localFingerprint.value,
            sessionID: UInt64(1000 + index), cname: "test-\(index)", streamID: "test-stream-\(index)")
        let offer = build(parameters)
        let name = try RoomName(validating: room)
        let created =
            try create?(offer.session)
            ?? (role == .publisher
                ? try manager.publish(room: name, offer: offer.session, client: client, now: loop.now)
                : try manager.play(room: name, offer: offer.session, client: client, now: loop.now))
        let negotiation = try AnswerReader.read(created.answer, offer: offer)
        let peer = try ClientPeer(
            role: role, offer: offer, negotiation: negotiation, iceUfrag: ufrag, icePassword: password,
            identity: clientIdentity, tieBreaker: 0xC0FF_EE00 &+ UInt64(index), output: loop.makeDatagramQueue())
        lossy?.peer = peer
        let socket = try loop.openUDP(
            bind: SocketAddress(ip: "127.0.0.1", port: 0)!, endpoint: lossy.map { $0 as DatagramEndpoint } ?? peer,
            queue: peer.output)
        let client = TestClient(peer: peer, socket: socket, room: room, sessionID: created.sessionID)
        client.lossy = lossy
        if role == .viewer { client.startRecording() }
        clients.append(client)
        return client
    }

    /// Forgets a client (its socket closes; the server only learns from DELETE or DTLS).
    func drop(_ client: TestClient) {
        client.peer.onRTP = nil
        client.socket.close()
        clients.removeAll { $0 === client }
    }

    /// Runs the loop until every client given is connected (ICE + DTLS + SRTP) and the server
    /// has no set-up pending.
    func connect(_ peers: [TestClient], timeout: Duration = .seconds(20)) -> Bool {
        loop.run(
            until: { peers.allSatisfy { $0.peer.isConnected || $0.peer.failed != nil } && manager.pendingCount == 0 },
            timeout: timeout) && peers.allSatisfy { $0.peer.isConnected }
    }

    /// Runs the loop until every client given is connected and the server counts each of their
    /// sessions as connected; other sessions may still be setting up.
    func connectOnly(_ peers: [TestClient], timeout: Duration = .seconds(20)) -> Bool {
        loop.run(
            until: { peers.allSatisfy { $0.peer.isConnected && self.session(of: $0)?.state == .connected } },
            timeout: timeout)
    }

    /// The server's session of a client (while it has one).
    func session(of client: TestClient) -> PeerSession? {
        guard let room = manager.rooms[client.room] else { return nil }
        if let p = room.publisher, p.id == client.sessionID { return p }
        return room.viewersByID[client.sessionID]
    }

    /// Runs the loop for about `duration` (lets in-flight datagrams land).
    func settle(_ duration: Duration = .milliseconds(100)) {
        _ = loop.run(until: { false }, timeout: duration)
    }

    // MARK: - Server-side figures (the test target sees internals)

    func room(_ name: String) -> Room? { manager.rooms[name] }

    /// Video packets the room's fan-out has taken from its publisher(s).
    func videoPacketsIn(_ name: String) -> UInt64 { manager.rooms[name]?.video.packetsIn ?? 0 }

    /// Sends `count` video packets from `publisher` in one flush, then runs the loop until
    /// the server has taken them (or `timeout`). False if not all were sent and taken.
    @discardableResult
    func publish(_ count: Int, from publisher: TestClient, timeout: Duration = .seconds(10)) -> Bool {
        let before = videoPacketsIn(publisher.room)
        var sent = 0
        for _ in 0..<count where publisher.sendVideoPacket(id: nextPayloadID) {
            nextPayloadID += 1
            sent += 1
        }
        publisher.socket.flush()
        let target = before + UInt64(sent)
        return sent == count && loop.run(until: { self.videoPacketsIn(publisher.room) >= target }, timeout: timeout)
    }
}

/// One client peer of a test, with what it received (viewers) or sent (publisher).
final class TestClient {
    let peer: ClientPeer
    /// The peer's socket on the test's loop (the peer itself is sans-IO).
    let socket: UDPSocket
    let room: String
    let sessionID: String
    var lossy: LossyLink?

    // Publisher side.
    var videoSSRC: UInt32 = 0
    var nextSequence: UInt16 = 0
    var timestamp: UInt32 = 90_000
    /// Ids of the packets this publisher sent; the id is written in the payload.
    private(set) var sentIDs: [UInt32] = []
    /// Payload bytes of each video packet (descriptor, header byte, id, filler).
    var payloadBytes = 196
    /// The frames sent are VP8 keyframes (P bit clear) rather than inter frames.
    var sendsKeyframes = false

    // Viewer side.
    let recorder = RTPRecorder()
    /// The first sequence number this viewer must get (connected before the media started);
    /// nil: from the first one it received.
    var expectsFrom: UInt16?

    init(peer: ClientPeer, socket: UDPSocket, room: String, sessionID: String) {
        self.peer = peer
        self.socket = socket
        self.room = room
        self.sessionID = sessionID
    }

    var video: NegotiatedMedia? { peer.negotiation.media.first { $0.kind == .video } }

    func startRecording() {
        guard let video, let ssrc = video.remoteSSRC else { return }
        let recorder = self.recorder
        recorder.mediaSSRC = ssrc
        recorder.rtxSSRC = video.remoteRTXSSRC
        recorder.payloadType = video.payloadType
        peer.onRTP = { packet in recorder.record(packet) }
    }

    /// One VP8-like packet (frame start every 4th), payload: descriptor, VP8 header byte,
    /// then the 4-byte id and filler up to `payloadBytes`.
    @discardableResult
    func sendVideoPacket(id: UInt32) -> Bool {
        guard let video else { return false }
        let seq = nextSequence
        let ts = timestamp
        let ssrc = videoSSRC
        let first = seq % 4 == 0
        let ok = peer.sendRTP { slot in
            var b = RTPPacketBuilder(
                into: slot, payloadType: video.payloadType, marker: seq % 4 == 3, sequenceNumber: seq, timestamp: ts,
                ssrc: ssrc)
            var payload = [UInt8](repeating: 0x5A, count: payloadBytes)
            payload[0] = first ? 0x10 : 0x00
            payload[1] = sendsKeyframes ? 0x00 : 0x01  // VP8 P bit: 0 = keyframe
            payload[2] = UInt8(truncatingIfNeeded: id >> 24)
            payload[3] = UInt8(truncatingIfNeeded: id >> 16)
            payload[4] = UInt8(truncatingIfNeeded: id >> 8)
            payload[5] = UInt8(truncatingIfNeeded: id)
            return payload.withUnsafeBytes { (try? b.finish(payload: $0)) ?? 0 }
        }
        guard ok else { return false }
        sentIDs.append(id)
        nextSequence &+= 1
        if seq % 4 == 3 { timestamp &+= 3000 }
        return true
    }
}

/// What a viewer received on the room's video stream, decrypted: media packets in arrival
/// order, and repairs (RTX, unwrapped back to the original).
final class RTPRecorder {
    struct Packet: Equatable {
        var sequenceNumber: UInt16
        var timestamp: UInt32
        var id: UInt32
    }

    var mediaSSRC: UInt32 = 0
    var rtxSSRC: UInt32?
    var payloadType: UInt8 = 0
    private(set) var media: [Packet] = []
    private(set) var repairs: [Packet] = []
    /// Packets on another SSRC or payload type than the viewer's answer announced.
    private(set) var unexpected = 0

    func record(_ packet: RTPPacket) {
        if packet.ssrc == mediaSSRC, packet.payloadType == payloadType {
            media.append(Self.read(packet))
        } else if let rtxSSRC, packet.ssrc == rtxSSRC,
            let n = try? RTXPacketizer.unwrap(packet, ssrc: mediaSSRC, payloadType: payloadType),
            let original = try? RTPPacket(parsing: UnsafeMutableRawBufferPointer(rebasing: packet.buffer[0..<n]))
        {
            repairs.append(Self.read(original))
        } else {
            unexpected += 1
        }
    }

    private static func read(_ p: RTPPacket) -> Packet {
        let b = p.payload
        let id = b.count >= 6 ? UInt32(b[2]) << 24 | UInt32(b[3]) << 16 | UInt32(b[4]) << 8 | UInt32(b[5]) : .max
        return Packet(sequenceNumber: p.sequenceNumber, timestamp: p.timestamp, id: id)
    }

    /// Every sequence number received, media or repair.
    var sequenceNumbers: Set<UInt16> { Set(media.map(\.sequenceNumber)).union(repairs.map(\.sequenceNumber)) }
    var ids: Set<UInt32> { Set(media.map(\.id)).union(repairs.map(\.id)) }

    /// Sequence numbers missing between `start` (default: the first received) and `last`
    /// (default: the highest received).
    func missing(from start: UInt16? = nil, through last: UInt16? = nil) -> [UInt16] {
        guard let first = start ?? media.first?.sequenceNumber else { return [] }
        let have = sequenceNumbers
        let highest = last ?? have.max { SequenceNumber($1).isNewer(than: SequenceNumber($0)) } ?? first
        var out: [UInt16] = []
        var s = first
        while s != highest &+ 1 {
            if !have.contains(s) { out.append(s) }
            s &+= 1
        }
        return out
    }
}

/// The viewer's receive path under loss and reordering, from a seed: drops a share of the
/// RTP datagrams (media and repairs) and holds back others until the next one has passed.
/// Other datagrams (STUN, DTLS, RTCP) pass, so set-up and tear-down stay quick.
final class LossyLink: DatagramEndpoint {
    weak var peer: ClientPeer?
    var rng: SplitMixRandom
    let dropPercent: UInt64
    let reorderPercent: UInt64
    private var held: [UInt8]?
    private(set) var dropped = 0
    private(set) var reordered = 0

    init(seed: UInt64, dropPercent: UInt64, reorderPercent: UInt64) {
        rng = SplitMixRandom(seed: seed)
        self.dropPercent = dropPercent
        self.reorderPercent = reorderPercent
    }

    func received(
        _ datagram: UnsafeMutableRawBufferPointer, from source: SocketAddress, now: Instant
    ) {
        guard let peer else { return }
        guard PacketKind.classify(UnsafeRawBufferPointer(datagram)) == .rtp else {
            peer.received(datagram, from: source, now: now)
            return
        }
        if rng.next() % 100 < dropPercent {
            dropped += 1
            return
        }
        if held == nil, rng.next() % 100 < reorderPercent {
            held = Array(datagram)
            reordered += 1
            return
        }
        peer.received(datagram, from: source, now: now)
        if var h = held {
            held = nil
            h.withUnsafeMutableBytes { peer.received($0, from: source, now: now) }
        }
    }

    func batchEnded(now: Instant) {}
}

/// Sits between the server socket and the manager, forwarding every call unchanged, and
/// notes per receive batch how many publisher RTP datagrams came in and how many datagrams
/// the manager queued while receiving them and in `batchEnded` (the fan-out).
final class BatchTap: DatagramEndpoint {
    struct Batch {
        var rtp = 0
        var other = 0
        var queuedWhileReceiving = 0
        var queuedAtBatchEnd = 0
    }

    let manager: RoomManager
    private(set) var batches: [Batch] = []
    /// While set, the heap allocations (this thread's) made receiving RTP are counted.
    var countsAllocations = false
    private(set) var rtpAllocations: UInt64 = 0
    private(set) var rtpCounted = 0
    private var current = Batch()
    private var queuedBefore = 0

    init(manager: RoomManager) { self.manager = manager }

    func received(
        _ datagram: UnsafeMutableRawBufferPointer, from source: SocketAddress, now: Instant
    ) {
        let isRTP = PacketKind.classify(UnsafeRawBufferPointer(datagram)) == .rtp
        if isRTP { current.rtp += 1 } else { current.other += 1 }
        let before = manager.output.pendingCount
        let allocated = lsfu_alloc_count()
        manager.received(datagram, from: source, now: now)
        if isRTP, countsAllocations {
            rtpAllocations += lsfu_alloc_count() - allocated
            rtpCounted += 1
        }
        current.queuedWhileReceiving += manager.output.pendingCount - before
    }

    func batchEnded(now: Instant) {
        let before = manager.output.pendingCount
        manager.batchEnded(now: now)
        current.queuedAtBatchEnd = manager.output.pendingCount - before
        batches.append(current)
        current = Batch()
    }

    func reset() { batches = [] }
}

extension ClientOffer {
    /// Renumbers the video m-line's first codec to `payloadType` and its RTX to the next one.
    mutating func renumberVideo(payloadType pt: UInt8) {
        guard let i = session.media.firstIndex(where: { $0.kind == .video }) else { return }
        var m = session.media[i]
        guard let media = m.codecs.first(where: { !$0.isRTX }) else { return }
        let old = media.payloadType
        var map: [UInt8: UInt8] = [old: pt]
        var next = pt &+ 1
        for c in m.codecs where c.payloadType != old {
            map[c.payloadType] = next
            next &+= 1
        }
        m.codecs = m.codecs.map { c in
            var c = c
            c.payloadType = map[c.payloadType] ?? c.payloadType
            c.parameters = c.parameters.map { p in
                guard p.key == "apt", let v = p.value.flatMap({ UInt8($0) }), let n = map[v] else { return p }
                var p = p
                p.value = String(n)
                return p
            }
            return c
        }
        m.formats = m.codecs.map { String($0.payloadType) }
        session.media[i] = m
    }
}
