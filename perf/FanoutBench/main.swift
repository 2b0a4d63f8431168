// livesfu-fanout-bench: the SFU's media path end to end, in one process.
//
// A real RoomManager on a real EventLoop (127.0.0.1) and one publisher plus N viewers that
// complete ICE and DTLS against it over loopback UDP (client sockets on the same loop). The
// publisher then sends SRTP VP8-like packets of ~1200 bytes with header extensions, and the
// benchmark measures, on the server side only, the CPU time (CLOCK_THREAD_CPUTIME_ID) of
// `RoomManager.received` for each RTP datagram (unprotect, rewrite, per viewer: copy,
// payload type, extension ids, protect, queue) and of the socket flush that hands the queued
// datagrams to the kernel (sendmmsg). Heap allocations inside those calls are counted by the
// CAllocCounter malloc wrappers. Viewers' sockets are only drained (counted).
//
// Usage: livesfu-fanout-bench [--viewers N] [--packets M] [--warmup W] [--burst B] [--trap]
//   --trap raises SIGTRAP at the first allocation inside a measured call (run under gdb).
//
// --shard: two room layers (core 0, the room's owner, and core 1) on the one loop, joined by a
// real CoreRing, with the viewers placed as the server places them (SHARD_MIN_VIEWERS 1:
// about half on each); the shard reads its ring inside the owner's measured batch end, so
// the figures are both cores' work together, and the difference to a run without --shard is
// the cross-core hand-off (write, read, the shard's own rewrite and history) per packet.
//
// livesfu-fanout-bench --memory [--viewers N]: memory per connected viewer instead of CPU.
// Heap in use (glibc mallinfo2) and RSS with the publisher alone, with N viewers connected
// after media and RTCP flowed, and after all of them left; every call into the RoomManager
// is wrapped in a HeapLedger, so the server's heap is told apart from the clients' (same
// process, same thread). Then the DTLS transport and SRTP context alone (ComponentProbes).
import CAllocCounter
import COpenSSL
import CShim
import Glibc
import Reactor
import SFU
import Storage

// MARK: - Options

var viewerCount = 10
var packetCount = 0
var warmup = 300
var burst = 8
var trapAllocations = false
var backend = BackendKind.epoll
var memoryMode = false
var shardMode = false
/// `--simulcast top|moved|spread`: see BenchSimulcast.swift.
var simulcastMode: BenchSimulcast?
/// `--picture-id`: VP8 descriptors carry a 15-bit picture ID (always with --simulcast).
var pictureIDs = false
/// Record the room into this folder (the real writer thread), with a keyframe every 60 frames
/// so the recording starts and writes.
var recordDirectory: String?
var arguments = CommandLine.arguments.dropFirst().makeIterator()
while let a = arguments.next() {
    switch a {
    case "--viewers": viewerCount = Int(arguments.next() ?? "") ?? viewerCount
    case "--packets": packetCount = Int(arguments.next() ?? "") ?? packetCount
    case "--warmup": warmup = Int(arguments.next() ?? "") ?? warmup
    case "--burst": burst = Int(arguments.next() ?? "") ?? burst
    case "--trap": trapAllocations = true
    case "--uring": backend = .iouring
    case "--memory": memoryMode = true
    case "--shard": shardMode = true
    case "--record": recordDirectory = arguments.next()
    case "--picture-id": pictureIDs = true
    case "--simulcast":
        guard let mode = BenchSimulcast(rawValue: arguments.next() ?? "") else { fail("--simulcast is top, moved or spread") }
        simulcastMode = mode
        pictureIDs = true
    default:
        print("usage: livesfu-fanout-bench [--viewers N] [--packets M] [--warmup W] [--burst B] [--trap] [--uring] [--memory] [--record DIR] [--shard] [--picture-id] [--simulcast top|moved|spread]")
        exit(2)
    }
}
if simulcastMode != nil, shardMode || memoryMode { fail("--simulcast is not for --shard or --memory") }
if packetCount <= 0 { packetCount = min(max(400_000 / max(viewerCount, 1), 2_000), 100_000) }

func cpuNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
}

func fail(_ message: String) -> Never {
    print("livesfu-fanout-bench: \(message)")
    exit(1)
}

// MARK: - Server side: the production RoomManager behind a measuring shim

/// --shard: core 1's socket, counting its viewers' RTCP with the shim's (the bench waits for it).
final class ShardFront: DatagramEndpoint {
    let manager: RoomManager
    nonisolated(unsafe) static var rtcpSeen = 0
    init(_ manager: RoomManager) { self.manager = manager }
    func received(_ datagram: UnsafeMutableRawBufferPointer, from source: SocketAddress, now: Instant) {
        if PacketKind.classify(UnsafeRawBufferPointer(datagram)) == .rtcp { Self.rtcpSeen &+= 1 }
        manager.received(datagram, from: source, now: now)
    }
    func batchEnded(now: Instant) { manager.batchEnded(now: now) }
}

/// Passes every datagram to the RoomManager unchanged; while `measuring`, times each RTP
/// datagram's `received` call and each flush, and counts heap allocations inside them.
final class MeasuringReceiver: DatagramEndpoint {
    let manager: RoomManager
    /// The server's socket, flushed (and timed) here at the end of each batch.
    var socket: UDPSocket!
    var measuring = false
    var trap = false
    var rtpSeen = 0
    var measuredPackets = 0
    var receiveNanoseconds: UInt64 = 0
    var flushNanoseconds: UInt64 = 0
    var flushes = 0
    var allocations: UInt64 = 0
    var allocatedBytes: UInt64 = 0
    var flushAllocations: UInt64 = 0
    var rtcpSeen = 0
    var measuredRTCP = 0
    var rtcpNanoseconds: UInt64 = 0
    var rtcpAllocations: UInt64 = 0
    /// `--memory`: the server's net heap, from every call into the manager.
    let ledger = HeapLedger()
    /// `--shard`: core 1's room layer and the rings between the two.
    var shard: RoomManager?
    var rings: CoreRings?

    /// Each core reads the ring the other wrote (the shard at the owner's batch end).
    func readShardRing(now: Instant) {
        guard let shard, let rings else { return }
        if let ring = rings.ring(from: 0, to: 1), ring.hasMessages { shard.readRing(ring, now: now) }
        if let ring = rings.ring(from: 1, to: 0), ring.hasMessages { manager.readRing(ring, now: now) }
    }

    init(manager: RoomManager) { self.manager = manager }

    func received(_ datagram: UnsafeMutableRawBufferPointer, from source: SocketAddress, now: Instant) {
        if ledger.enabled {
            ledger.attribute { route(datagram, from: source, now: now) }
        } else {
            route(datagram, from: source, now: now)
        }
    }

    private func route(_ datagram: UnsafeMutableRawBufferPointer, from source: SocketAddress, now: Instant) {
        let kind = PacketKind.classify(UnsafeRawBufferPointer(datagram))
        let isRTP = kind == .rtp
        if isRTP { rtpSeen &+= 1 }
        if kind == .rtcp {
            rtcpSeen &+= 1
            guard measuring else {
                manager.received(datagram, from: source, now: now)
                return
            }
            let a0 = lsfu_alloc_count()
            if trap { lsfu_alloc_trap(1) }
            let t0 = cpuNanoseconds()
            manager.received(datagram, from: source, now: now)
            let t1 = cpuNanoseconds()
            lsfu_alloc_trap(0)
            rtcpAllocations &+= lsfu_alloc_count() &- a0
            rtcpNanoseconds &+= t1 &- t0
            measuredRTCP &+= 1
            return
        }
        guard measuring, isRTP else {
            manager.received(datagram, from: source, now: now)
            return
        }
        let a0 = lsfu_alloc_count()
        let b0 = lsfu_alloc_bytes()
        if trap { lsfu_alloc_trap(1) }
        let t0 = cpuNanoseconds()
        manager.received(datagram, from: source, now: now)
        let t1 = cpuNanoseconds()
        lsfu_alloc_trap(0)
        allocations &+= lsfu_alloc_count() &- a0
        allocatedBytes &+= lsfu_alloc_bytes() &- b0
        receiveNanoseconds &+= t1 &- t0
        measuredPackets &+= 1
    }

    func batchEnded(now: Instant) {
        guard measuring else {
            ledger.attribute { manager.batchEnded(now: now) }
            readShardRing(now: now)
            return
        }
        measuredBatchEnded(now: now)
    }

    /// A batch end while measuring (callgrind-fanout.sh counts inside this function only, so
    /// set-up, warm-up and layer moves are left out).
    @inline(never) func measuredBatchEnded(now: Instant) {
        // The fan-out itself runs here (the manager holds a batch's packets until it ends):
        // counted with the receive work; and with --shard the shard core's read of its ring.
        let f0 = lsfu_alloc_count()
        let fb0 = lsfu_alloc_bytes()
        if trap { lsfu_alloc_trap(1) }
        let ft0 = cpuNanoseconds()
        manager.batchEnded(now: now)
        readShardRing(now: now)
        let ft1 = cpuNanoseconds()
        lsfu_alloc_trap(0)
        allocations &+= lsfu_alloc_count() &- f0
        allocatedBytes &+= lsfu_alloc_bytes() &- fb0
        receiveNanoseconds &+= ft1 &- ft0
        // The loop flushes right after this call; doing it here (same code) lets us time it.
        guard measuring, socket.pendingSendCount > 0 else { return }
        let a0 = lsfu_alloc_count()
        let t0 = cpuNanoseconds()
        socket.flush()
        let t1 = cpuNanoseconds()
        flushAllocations &+= lsfu_alloc_count() &- a0
        flushNanoseconds &+= t1 &- t0
        flushes &+= 1
    }
}

// Positive control: the counter must see an allocation we know happens, or a 0 below means
// nothing (e.g. the wrappers were not linked in).
@inline(never) func allocateOnce(_ n: Int) -> Int { [UInt8](repeating: 1, count: n).reduce(0) { $0 &+ Int($1) } }
let controlBefore = lsfu_alloc_count()
_ = allocateOnce(Int(CommandLine.arguments.count) + 100)
guard lsfu_alloc_count() > controlBefore else { fail("the allocation counter does not see allocations") }

let loop: EventLoop
do { loop = try EventLoop(index: 0, backend: backend, pool: BufferPool(slotSize: 2048, slotCount: 8192)) } catch {
    fail("event loop: \(error)")
}
let serverIdentity: DTLSIdentity
let clientIdentity: DTLSIdentity
do {
    serverIdentity = try DTLSIdentity.generate()
    clientIdentity = try DTLSIdentity.generate()
} catch { fail("identity: \(error)") }

var roomConfiguration = RoomManagerConfiguration()
roomConfiguration.candidateIPs = ["127.0.0.1"]
roomConfiguration.setupTimeout = .seconds(120)
var recording: RecordingService?
if let dir = recordDirectory {
    do { recording = try RecordingService(directory: dir, log: { print("recording: \($0)") }) } catch { fail("\(error)") }
    roomConfiguration.recording = recording?.settings
}
if shardMode { roomConfiguration.shardMinViewers = 1 }
let serverQueue = loop.makeDatagramQueue()
let manager = RoomManager(
    coreIndex: 0, identity: serverIdentity, configuration: roomConfiguration, output: serverQueue)
/// --shard: core 1's room layer and the rings between the two.
let rings = CoreRings(cores: 2, bytes: 1 << 20)
var shardManager: RoomManager?
var shardFront: ShardFront?  // the socket holds its endpoint unowned
if shardMode {
    let queue = loop.makeDatagramQueue()
    let shard = RoomManager(coreIndex: 1, identity: serverIdentity, configuration: roomConfiguration, output: queue)
    let front = ShardFront(shard)
    shardFront = front
    do {
        let s = try loop.openUDP(bind: SocketAddress(ip: "127.0.0.1", port: 0)!, endpoint: front, queue: queue)
        shard.mediaPort = s.localAddress.port
    } catch { fail("shard socket: \(error)") }
    let board = CoreBoard(cores: 2)
    let managers = [manager, shard]
    for (i, m) in managers.enumerated() {
        m.shardRings = rings
        m.board = board
        m.shardControl = { core, message in
            let target = managers[core]
            loop.executeSoon { target.applyShardControl(message, from: i, now: loop.now) }
        }
    }
    shardManager = shard
}


let shim = MeasuringReceiver(manager: manager)
shim.shard = shardManager
shim.rings = rings
shim.trap = trapAllocations
do {
    shim.socket = try loop.openUDP(bind: SocketAddress(ip: "127.0.0.1", port: 0)!, endpoint: shim, queue: serverQueue)
    manager.mediaPort = shim.socket.localAddress.port
} catch { fail("server socket: \(error)") }
/// Each client's socket (the peers themselves are sans-IO).
var clientSockets: [ObjectIdentifier: UDPSocket] = [:]
@MainActor func socket(of peer: ClientPeer) -> UDPSocket? { clientSockets[ObjectIdentifier(peer)] }

// MARK: - Clients

let room: RoomName
do { room = try RoomName(validating: "bench") } catch { fail("room name: \(error)") }
let videoSSRC: UInt32 = 0x0B0B_0001

@MainActor func makeClient(_ role: ClientPeer.Role, index: Int) -> ClientPeer {
    let ufrag = "cli\(index)u"
    let password = "benchclientpassword\(100_000 + index)"
    let parameters = OfferParameters(
        iceUfrag: ufrag, icePassword: password, fingerprint: clientIdentity.localFingerprint.value,
        sessionID: UInt64(1000 + index), cname: "bench-\(index)", streamID: "bench-stream")
    var offer: ClientOffer
    switch role {
    case .publisher:
        offer = OfferBuilder.publisherOffer(
            parameters,
            tracks: [
                ClientTrack(kind: .audio, trackID: "mic", ssrc: 0x0A0A_0001),
                ClientTrack(kind: .video, trackID: "cam", ssrc: videoSSRC, rtxSSRC: 0x0B0B_0002),
            ])
        if simulcastMode != nil { offer = BenchSimulcast.offer(offer) }
    case .viewer:
        offer = OfferBuilder.viewerOffer(parameters)
    }
    let now = Instant.now()
    do {
        let created = try shim.ledger.attribute { () throws(RoomError) in
            if role == .publisher { return try manager.publish(room: room, offer: offer.session, now: now) }
            if let shard = shardManager, case .shard(_, let open) = manager.placeViewer(room: room, now: now) {
                return try shard.playOnShard(open, offer: offer.session, now: now)
            }
            return try manager.play(room: room, offer: offer.session, now: now)
        }
        let negotiation = try AnswerReader.read(created.answer, offer: offer)
        let peer = try ClientPeer(
            role: role, offer: offer, negotiation: negotiation, iceUfrag: ufrag, icePassword: password,
            identity: clientIdentity, tieBreaker: UInt64(0xC0FFEE00 + index), output: loop.makeDatagramQueue())
        peer.sessionID = created.sessionID
        clientSockets[ObjectIdentifier(peer)] = try loop.openUDP(
            bind: SocketAddress(ip: "127.0.0.1", port: 0)!, endpoint: peer, queue: peer.output)
        return peer
    } catch { fail("client \(index): \(error)") }
}

/// A viewer's periodic feedback: SRTCP compound RR + generic NACK about the room's video
/// stream, as a browser sends it. Returns false if it could not be queued.
@MainActor func sendFeedback(_ v: ClientPeer, senderSSRC: UInt32, lostSequence: UInt16) -> Bool {
    guard let media = v.negotiation.media.first(where: { $0.kind == .video }), let mediaSSRC = media.remoteSSRC
    else { return false }
    return v.sendRTCP { w in
        w.addReceiverReport(
            ssrc: senderSSRC, reports: CollectionOfOne(RTCPReportBlock(ssrc: mediaSSRC, extendedHighestSequence: 1000)))
        w.addNack(senderSSRC: senderSSRC, mediaSSRC: mediaSSRC, lost: CollectionOfOne(lostSequence))
    }
}

shim.ledger.enabled = memoryMode
let publisher = makeClient(.publisher, index: 0)
var viewers: [ClientPeer] = []
var clients = [publisher]

// Timers: every client's ICE/DTLS, and the manager's tick as in production (every 20 ms).
var lastTick = Instant(nanoseconds: 0)
@MainActor func driveAll(now: Instant) {
    for c in clients { c.drive(now: now) }
    if now - lastTick >= .milliseconds(20) {
        lastTick = now
        shim.ledger.attribute { manager.tick(now: now) }
    }
}
var driver: TimerHandle?
driver = loop.scheduleTimer(after: .milliseconds(1)) {
    driveAll(now: loop.now)
    if let driver { loop.reschedule(driver, at: loop.now + .milliseconds(5)) }
}

// `--memory` connects the publisher alone here and adds the viewers later (runMemoryMode).
if !memoryMode {
    viewers = (1...max(viewerCount, 1)).map { makeClient(.viewer, index: $0) }
    clients = [publisher] + viewers
}

let setupStart = Instant.now()
let allUp = loop.run(
    until: { clients.allSatisfy { $0.isConnected || $0.failed != nil } && manager.pendingCount == 0 },
    timeout: .seconds(120))
let setupTime = Instant.now() - setupStart
let failures = clients.compactMap(\.failed)
guard allUp, failures.isEmpty else {
    fail("set-up incomplete after \(setupTime): \(clients.filter(\.isConnected).count)/\(clients.count) connected, \(failures.prefix(3))")
}
guard let video = publisher.negotiation.media.first(where: { $0.kind == .video }), let publisherSRTP = publisher.srtp,
    let publisherSocket = socket(of: publisher), let serverAddress = publisher.ice.selectedAddress
else { fail("publisher has no video m-line") }
let profile = publisherSRTP.profile

// MARK: - Publisher: VP8-like packets with header extensions

/// One SSRC (or, with --simulcast, three layers sent in turn, one frame each).
var layers = simulcastMode == nil ? [BenchLayer(ssrc: videoSSRC, rid: nil, packetsPerFrame: 6)] : BenchSimulcast.initialLayers
var layerSending = 0
let payloadSize = 1150
var payload = [UInt8](repeating: 0, count: payloadSize)
for i in payload.indices { payload[i] = UInt8(truncatingIfNeeded: i &* 31 &+ 7) }
let midExtension = video.extensions.mid
let absSendTimeExtension = video.extensions.absSendTime
let ridExtension = video.extensions.rid
var packetLength = 0

@MainActor func sendVideoPacket() {
    var l = layers[layerSending]
    let marker = l.packetInFrame == l.packetsPerFrame - 1
    let first = l.packetInFrame == 0
    let keyframe = l.keyframeNext || (recordDirectory != nil && l.frames % 60 == 0)
    // VP8 descriptor: S=1 on the first packet of a frame (X and a 15-bit picture ID with
    // --picture-id); P=0 (keyframe) or 1 in the VP8 header.
    var header = 0
    if pictureIDs {
        payload[0] = 0x80 | (first ? 0x10 : 0x00)
        payload[1] = 0x80
        payload[2] = 0x80 | UInt8(truncatingIfNeeded: l.pictureID >> 8)
        payload[3] = UInt8(truncatingIfNeeded: l.pictureID)
        header = 4
    } else {
        payload[0] = first ? 0x10 : 0x00
        header = 1
    }
    payload[header] = keyframe ? 0x00 : 0x01
    let seq = l.sequence
    let ts = l.timestamp
    let ssrc = l.ssrc
    let rid = l.rid
    let queued = publisherSocket.send(to: serverAddress, capacity: 1500) { slot in
        var b = RTPPacketBuilder(
            into: slot, payloadType: video.payloadType, marker: marker, sequenceNumber: seq, timestamp: ts,
            ssrc: ssrc, extensionForm: .oneByte)
        var scratch: (UInt8, UInt8, UInt8) = (UInt8(truncatingIfNeeded: seq >> 8), UInt8(truncatingIfNeeded: seq), 0x42)
        withUnsafeBytes(of: &scratch) { bytes in
            if let id = absSendTimeExtension { b.addExtension(id: id, data: bytes) }
            if let id = midExtension {
                let mid = video.mid.utf8
                mid.withContiguousStorageIfAvailable { b.addExtension(id: id, data: UnsafeRawBufferPointer($0)) }
            }
            if let id = ridExtension, let rid {
                rid.utf8.withContiguousStorageIfAvailable { b.addExtension(id: id, data: UnsafeRawBufferPointer($0)) }
            }
        }
        guard let n = payload.withUnsafeBytes({ try? b.finish(payload: $0) }) else { return 0 }
        packetLength = max(packetLength, n)
        return (try? publisherSRTP.protectRTP(slot, length: n)) ?? 0
    }
    guard queued else { fail("publisher could not queue a packet") }
    l.sequence &+= 1
    l.packetInFrame += 1
    if shim.measuring { l.measured += 1 }
    if l.packetInFrame == l.packetsPerFrame {
        l.packetInFrame = 0
        l.frames += 1
        l.pictureID = (l.pictureID &+ 1) & 0x7FFF
        l.timestamp &+= 3000
        l.keyframeNext = false
        layers[layerSending] = l
        layerSending = (layerSending + 1) % layers.count
    } else {
        layers[layerSending] = l
    }
}

var sent = 0
var feedbackSent = 0
var feedbackViewer = 0
/// `--memory`: see the header. Prints the report and exits.
@MainActor func runMemoryMode() -> Never {
    // Baseline: the publisher connected and its media flowing (room, inbound streams,
    // packet history are the publisher's, not the viewers').
    publish(200)
    _ = lsfu_malloc_trim()
    let base = MemoryFigures.now()
    let baseServer = shim.ledger.bytes

    viewers = (1...max(viewerCount, 1)).map { makeClient(.viewer, index: $0) }
    clients = [publisher] + viewers
    let setupStart = Instant.now()
    guard loop.run(
        until: { viewers.allSatisfy { $0.isConnected || $0.failed != nil } && manager.pendingCount == 0 },
        timeout: .seconds(300)),
        viewers.allSatisfy(\.isConnected)
    else {
        fail("viewers did not connect: \(viewers.filter(\.isConnected).count)/\(viewers.count), \(Set(viewers.compactMap(\.failed)))")
    }
    let setupTime = Instant.now() - setupStart
    // Media and every viewer's first SRTCP (libsrtp adds its inbound stream then), then ticks.
    publish(100)
    for (i, v) in viewers.enumerated() where sendFeedback(v, senderSSRC: 0x5EED_0000 &+ UInt32(i), lostSequence: layers[0].sequence &- 3) {
        socket(of: v)?.flush()
        feedbackSent += 1
    }
    let feedbackTarget = feedbackSent
    guard loop.run(until: { shim.rtcpSeen + ShardFront.rtcpSeen >= feedbackTarget }, timeout: .seconds(10)) else { fail("RTCP incomplete") }
    publish(100)
    _ = loop.run(until: { viewers.allSatisfy { $0.rtpReceived >= 200 } }, timeout: .seconds(5))
    let delivered = viewers.map(\.rtpReceived).min() ?? 0
    let connected = MemoryFigures.now()
    let connectedServer = shim.ledger.bytes
    _ = lsfu_malloc_trim()
    let connectedTrimmed = MemoryFigures.now()

    // Everyone leaves (DELETE), close_notify goes out, ticks run.
    for v in viewers {
        _ = shim.ledger.attribute { manager.endSession(room: "bench", id: v.sessionID, now: loop.now) }
    }
    _ = loop.run(until: { false }, timeout: .milliseconds(200))
    let left = MemoryFigures.now()
    let leftServer = shim.ledger.bytes
    _ = lsfu_malloc_trim()
    let leftTrimmed = MemoryFigures.now()

    let n = Double(viewers.count)
    let serverPer = Double(connectedServer - baseServer) / n
    let processPer = Double(connected.heap - base.heap) / n
    let rssPer = Double(connected.rss - base.rss) / n
    let rssTrimmedPer = Double(connectedTrimmed.rss - base.rss) / n
    let serverLeftPer = Double(leftServer - baseServer) / n
    print("livesfu-fanout-bench --memory: \(viewers.count) viewers, profile \(profile), set-up \(setupTime.nanoseconds / 1_000_000) ms, min delivered \(delivered) packets")
    print("  server heap per connected viewer:   \(kib(serverPer)) KiB  (\(Int(serverPer)) B; RoomManager calls only)")
    print("  process heap per viewer (server + bench client): \(kib(processPer)) KiB → client side \(kib(processPer - serverPer)) KiB")
    print("  process RSS per viewer: \(kib(rssPer)) KiB, after malloc_trim \(kib(rssTrimmedPer)) KiB (process heap \(kib(Double(base.heap))) KiB → \(kib(Double(connected.heap))) KiB)")
    print("  after all left: server heap per viewer still held \(Int(serverLeftPer)) B; process heap \(kib(Double(left.heap - base.heap) / n)) KiB/viewer, RSS \(kib(Double(left.rss - base.rss) / n)) KiB/viewer, after trim \(kib(Double(leftTrimmed.rss - base.rss) / n)) KiB/viewer")
    let probes = 200
    do {
        let dtls = try ComponentProbes.dtlsPerTransport(count: probes, server: serverIdentity, client: clientIdentity)
        let ssrcs = viewers[0].negotiation.media.flatMap { m in [m.remoteSSRC, m.remoteRTXSSRC].compactMap { $0 } }
        let srtp = try ComponentProbes.srtpPerContext(count: probes, profile: profile, outboundSSRCs: ssrcs)
        print("  alone (\(probes) each): DTLSTransport \(Int(dtls)) B, SRTPContext (\(ssrcs.count) outbound SSRCs + 1 inbound SRTCP) \(Int(srtp)) B → rest of the viewer (sessions, tracks, maps) \(Int(serverPer - dtls - srtp)) B")
        print("{\"viewers\":\(viewers.count),\"serverHeapPerViewer\":\(Int(serverPer)),\"processHeapPerViewer\":\(Int(processPer)),\"rssPerViewer\":\(Int(rssPer)),\"rssTrimmedPerViewer\":\(Int(rssTrimmedPer)),\"serverHeapAfterLeavePerViewer\":\(Int(serverLeftPer)),\"dtlsTransport\":\(Int(dtls)),\"srtpContext\":\(Int(srtp))}")
    } catch { fail("probe: \(error)") }
    if let driver { loop.cancelTimer(driver) }
    manager.shutdown(now: Instant.now())
    loop.close()
    exit(0)
}

/// Sends `count` packets in bursts of `burst`, each burst fully received by the server
/// before the next (so the socket buffers never overflow and every packet is forwarded).
@MainActor func publish(_ count: Int) {
    var left = count
    while left > 0 {
        let k = min(burst, left)
        for _ in 0..<k { sendVideoPacket() }
        publisherSocket.flush()
        sent += k
        left -= k
        // One viewer's RR + NACK per burst, round-robin (the RTCP half of the media path).
        if viewers.isEmpty {
            let target = sent
            guard loop.run(until: { shim.rtpSeen >= target }, timeout: .seconds(10)) else { fail("publisher packets lost") }
            continue
        }
        let vi = feedbackViewer % viewers.count
        let v = viewers[vi]
        feedbackViewer += 1
        if sendFeedback(v, senderSSRC: 0x5EED_0000 &+ UInt32(vi), lostSequence: layers[0].sequence &- 3) {
            socket(of: v)?.flush()
            feedbackSent += 1
        }
        let target = sent
        let feedbackTarget = feedbackSent
        guard loop.run(until: { shim.rtpSeen >= target && shim.rtcpSeen + ShardFront.rtcpSeen >= feedbackTarget }, timeout: .seconds(10))
        else {
            fail("server saw \(shim.rtpSeen) of \(target) packets, \(shim.rtcpSeen) of \(feedbackTarget) RTCP")
        }
    }
}

if memoryMode { runMemoryMode() }

// --simulcast: the viewers moved where the mode wants them, through `selectLayer` as the API
// does, each step at the layers' next keyframes (then the moves' catch-ups), and checked.
if let mode = simulcastMode {
    for step in mode.steps(viewers: viewers.count) {
        for (i, layer) in step.enumerated() {
            guard let layer else { continue }
            let rid = BenchSimulcast.rids[layer]
            guard case .success = manager.selectLayer(room: "bench", id: viewers[i].sessionID, choice: .rid(rid), now: loop.now)
            else { fail("viewer \(i) could not select \(rid)") }
        }
        for l in layers.indices { layers[l].keyframeNext = true }
        publish(9 * 4)
        // A move starts the viewer from the keyframe, paced (instant start's catch-up): the
        // unpaced packets below would outrun it, so it finishes first, as in a live stream.
        _ = loop.run(until: { false }, timeout: .seconds(1))
    }
    let tracks = manager.snapshot(now: loop.now).first { $0.name == "bench" }?.tracks ?? []
    if let wrong = mode.misplaced(tracks, viewers: viewers.count) { fail(wrong) }
}
publish(warmup)
// Warm-up for RTCP too: libsrtp creates a viewer's inbound stream (three mallocs in
// srtp_stream_clone) on the first SRTCP packet of its SSRC, once per viewer.
for (i, v) in viewers.enumerated() where sendFeedback(v, senderSSRC: 0x5EED_0000 &+ UInt32(i), lostSequence: layers[0].sequence &- 3) {
    socket(of: v)?.flush()
    feedbackSent += 1
}
do {
    let target = feedbackSent
    guard loop.run(until: { shim.rtcpSeen + ShardFront.rtcpSeen >= target }, timeout: .seconds(10)) else { fail("RTCP warm-up incomplete") }
}
_ = loop.run(until: { viewers.allSatisfy { $0.rtpReceived >= (simulcastMode == nil ? warmup : 1) } }, timeout: .seconds(3))
let viewersBefore = viewers.map(\.rtpReceived)
shim.measuring = true
let wallStart = Instant.now()
publish(packetCount)
// Let the last flush happen inside the measured window.
_ = loop.run(until: { serverQueue.pendingCount == 0 }, timeout: .seconds(5))
shim.measuring = false
let wall = Instant.now() - wallStart
// Drain the viewers to check delivery: each must get every packet of its layer.
let expected = viewers.indices.map { layers[simulcastMode?.layer(ofViewer: $0) ?? 0].measured }
_ = loop.run(
    until: { viewers.indices.allSatisfy { viewers[$0].rtpReceived - viewersBefore[$0] >= expected[$0] } },
    timeout: .seconds(3))
let delivered = viewers.indices.map { viewers[$0].rtpReceived - viewersBefore[$0] }
let copies = Double(viewers.indices.reduce(0) { $0 + min(delivered[$1], expected[$1]) })
/// The fewest of its layer's packets a viewer missed (0 when every viewer got all).
let minDelivered = packetCount - (viewers.indices.map { expected[$0] - delivered[$0] }.max() ?? 0)
let shortViewers = viewers.indices.filter { delivered[$0] < expected[$0] }
if !shortViewers.isEmpty { print("  short: \(shortViewers.count) viewers, e.g. \(shortViewers.prefix(5).map { "#\($0): \(delivered[$0])/\(expected[$0])" })") }

// MARK: - Baseline: protect alone, same profile, same packet size, same thread

@MainActor func protectBaseline(iterations: Int) -> (copyProtect: Double, copy: Double) {
    let keyBytes = profile.keyingMaterialLength
    let keys = SRTPKeys(
        profile: profile, role: .server, clientWriteKey: (0..<keyBytes).map { UInt8($0 &* 3) },
        serverWriteKey: (0..<keyBytes).map { UInt8($0 &* 5 &+ 1) })
    guard let context = try? SRTPContext(keys: keys) else { fail("baseline SRTP context") }
    let template = UnsafeMutableRawBufferPointer.allocate(byteCount: 1500, alignment: 16)
    let work = UnsafeMutableRawBufferPointer.allocate(byteCount: 1500, alignment: 16)
    defer {
        template.deallocate()
        work.deallocate()
    }
    var b = RTPPacketBuilder(into: template, payloadType: 96, sequenceNumber: 1, timestamp: 1, ssrc: 0xABCD)
    let body = [UInt8](repeating: 0x5A, count: max(packetLength - 12, 1))  // same total length as forwarded
    let n = body.withUnsafeBytes { (try? b.finish(payload: $0)) ?? 0 }
    let source = UnsafeRawBufferPointer(rebasing: template[0..<n])
    var seq: UInt16 = 1
    var t0 = cpuNanoseconds()
    for _ in 0..<iterations {
        work.copyMemory(from: source)
        work[2] = UInt8(truncatingIfNeeded: seq >> 8)
        work[3] = UInt8(truncatingIfNeeded: seq)
        seq &+= 1
        _ = try? context.protectRTP(work, length: n)
    }
    let withProtect = cpuNanoseconds() - t0
    t0 = cpuNanoseconds()
    for _ in 0..<iterations {
        work.copyMemory(from: source)
        work[2] = UInt8(truncatingIfNeeded: seq >> 8)
        work[3] = UInt8(truncatingIfNeeded: seq)
        seq &+= 1
    }
    let copyOnly = cpuNanoseconds() - t0
    return (Double(withProtect) / Double(iterations), Double(copyOnly) / Double(iterations))
}

/// The kernel's share: the same datagrams (length, destinations in the same order) queued
/// on a plain Reactor socket of the same loop and flushed with sendmmsg, CPU of the flush
/// only, per datagram. On loopback this includes the receive side's enqueue (softirq in the
/// sender's context). Subtracted from the forwarding figure, it leaves the SFU's user-space
/// work per viewer.
final class Discard: UDPReceiver {
    func received(_ d: UnsafeMutableRawBufferPointer, from: SocketAddress, on: UDPSocket, now: Instant) {}
    func batchEnded(on: UDPSocket, now: Instant) {}
}

@MainActor func sendBaseline(datagrams total: Int, length: Int) -> Double {
    let destinations = viewers.compactMap { socket(of: $0)?.localAddress }
    guard let socket = try? loop.openUDP(bind: SocketAddress(ip: "127.0.0.1", port: 0)!, receiver: Discard()) else {
        fail("baseline socket")
    }
    defer { socket.close() }
    var nanoseconds: UInt64 = 0
    var sentCount = 0
    var next = 0
    var received = viewers.reduce(0) { $0 + $1.rtpReceived }
    while sentCount < total {
        var queued = 0
        while queued < 256 {
            let ok = socket.send(to: destinations[next], capacity: length) { slot in
                slot.storeBytes(of: 0x80, toByteOffset: 0, as: UInt8.self)
                slot.storeBytes(of: 96, toByteOffset: 1, as: UInt8.self)
                return length
            }
            if !ok { fail("baseline send queue") }
            queued += 1
            next = (next + 1) % destinations.count
        }
        let t0 = cpuNanoseconds()
        socket.flush()
        nanoseconds &+= cpuNanoseconds() &- t0
        sentCount += queued
        received += queued
        let target = received
        _ = loop.run(until: { viewers.reduce(0) { $0 + $1.rtpReceived } >= target }, timeout: .seconds(2))
    }
    return Double(nanoseconds) / Double(sentCount)
}

/// Cost of one pair of clock reads, subtracted from each measured call.
func clockOverhead() -> Double {
    let n = 20_000
    let t0 = cpuNanoseconds()
    for _ in 0..<n { _ = cpuNanoseconds() }
    return Double(cpuNanoseconds() - t0) / Double(n)
}

let baseline = protectBaseline(iterations: 100_000)
let clockCost = clockOverhead()
let sendPerDatagram = sendBaseline(datagrams: 50_000, length: packetLength + profile.rtpTrailerLength)

// MARK: - Report

let n = Double(viewers.count)
let packets = Double(shim.measuredPackets)
let receiveNet = Double(shim.receiveNanoseconds) - clockCost * packets
let flushNet = Double(shim.flushNanoseconds) - clockCost * Double(shim.flushes)
let perPacket = (receiveNet + flushNet) / packets
/// Per copy (one packet to one viewer): with --simulcast spread not every viewer gets every packet.
let perViewer = (receiveNet + flushNet) / copies
let receivePerViewer = receiveNet / copies
let protectAlone = baseline.copyProtect - baseline.copy

func fmt(_ v: Double, _ decimals: Int = 0) -> String {
    var scale = 1.0
    for _ in 0..<decimals { scale *= 10 }
    let r = (v * scale).rounded() / scale
    return decimals == 0 ? String(Int(r)) : String(r)
}

print("livesfu-fanout-bench: \(viewers.count) viewers, \(shim.measuredPackets) measured packets of \(packetLength) B RTP (+SRTP tag), profile \(profile), backend \(loop.backendKind)")
print("  set-up (ICE+DTLS, \(clients.count) peers): \(setupTime.nanoseconds / 1_000_000) ms; measured wall \(wall.nanoseconds / 1_000_000) ms")
print("  delivery: min \(minDelivered)/\(packetCount) per viewer")
print("  server CPU per publisher packet:  \(fmt(perPacket)) ns  (received \(fmt(receiveNet / packets)) + flush \(fmt(flushNet / packets)); \(shim.flushes) flushes)")
print("  server CPU per packet per viewer: \(fmt(perViewer)) ns  (received only \(fmt(receivePerViewer)) ns)")
print("  SRTP protect alone (same size/profile): \(fmt(protectAlone)) ns (copy+protect \(fmt(baseline.copyProtect)) ns); ratio per-viewer/protect \(fmt(perViewer / protectAlone, 2))")
let userPerViewer = perViewer - sendPerDatagram
print("  kernel sendmmsg per datagram (same length/destinations, plain socket): \(fmt(sendPerDatagram)) ns → SFU user space per viewer ≈ \(fmt(userPerViewer)) ns, ratio to protect \(fmt(userPerViewer / protectAlone, 2))")
print("  heap allocations in measured calls: \(shim.allocations) in received (\(shim.allocatedBytes) B), \(shim.flushAllocations) in flush → \(fmt(Double(shim.allocations + shim.flushAllocations) / packets, 4)) per packet")
let rtcpCPU = shim.measuredRTCP > 0 ? (Double(shim.rtcpNanoseconds) - clockCost * Double(shim.measuredRTCP)) / Double(shim.measuredRTCP) : 0
print("  viewer RTCP (SRTCP RR+NACK): \(shim.measuredRTCP) measured, \(fmt(rtcpCPU)) ns each, \(shim.rtcpAllocations) heap allocations")
print("  clock read cost subtracted: \(fmt(clockCost)) ns per call")
print(
    "{\"viewers\":\(viewers.count),\"packets\":\(shim.measuredPackets),\"copies\":\(Int(copies)),\"profile\":\"\(profile)\",\"nsPerPacket\":\(fmt(perPacket)),\"nsPerViewer\":\(fmt(perViewer)),\"nsReceivePerViewer\":\(fmt(receivePerViewer)),\"nsFlushPerPacket\":\(fmt(flushNet / packets)),\"nsProtect\":\(fmt(protectAlone)),\"nsSendPerDatagram\":\(fmt(sendPerDatagram)),\"nsUserPerViewer\":\(fmt(userPerViewer)),\"userRatio\":\(fmt(userPerViewer / protectAlone, 2)),\"ratio\":\(fmt(perViewer / protectAlone, 2)),\"allocations\":\(shim.allocations + shim.flushAllocations),\"rtcpPackets\":\(shim.measuredRTCP),\"nsPerRTCP\":\(fmt(rtcpCPU)),\"rtcpAllocations\":\(shim.rtcpAllocations),\"allocationsPerPacket\":\(fmt(Double(shim.allocations + shim.flushAllocations) / packets, 4)),\"minDelivered\":\(minDelivered),\"setupMs\":\(setupTime.nanoseconds / 1_000_000)}"
)
if let driver { loop.cancelTimer(driver) }
manager.shutdown(now: Instant.now())
loop.close()
exit(minDelivered >= packetCount ? 0 : 3)
