import CSimulation
import Reactor

@testable import SFU

/// One room, simulated from a seed: a real `RoomManager` with its real protocol stacks (ICE,
/// DTLS over OpenSSL, SRTP over libsrtp, the fan-out, NACK/RTX, keyframe requests) and the
/// project's own `ClientPeer`s, connected by a `VirtualNetwork` on a virtual clock. Nothing
/// reads the real clock: the room layer takes `now` from the scheduler, and on this thread
/// OpenSSL's timer and randomness follow the simulation (`CSimulation`). So the same seed
/// gives the same event log, byte for byte, and a failure replays from its seed.
///
/// The server is one core, or several joined by rings (`SimulatedCore`: each driven as
/// `Main` drives a core). Requests go as `RoomRoutes` sends them: through the room's home core
/// to its owner, and a viewer to the core its owner places it on (a shard of the room there
/// once the room has `shardMinViewers`).
final class RoomSimulation {
    /// The virtual wall clock starts on 2026-01-01 (certificates, DTLS timers).
    static let epochNanoseconds: Int64 = 1_767_225_600_000_000_000
    static let monotonicBase: UInt64 = 1_000_000_000_000
    static let ms: UInt64 = 1_000_000

    // The checks' budgets (what a viewer would notice).
    /// A connected viewer decodes its first frame within this of the later of its own and
    /// the publisher's connection.
    static let firstFrameBudget: UInt64 = 1500 * ms
    /// No gap between two decoded frames longer than this while a publisher is connected
    /// (paths lose at most 5 %).
    static let frameGapBudget: UInt64 = 1200 * ms

    let seed: UInt64
    let scenario: SimulationScenario
    let scheduler = SimulationScheduler()
    let log = SimulationLog()
    let network: VirtualNetwork
    let pool = BufferPool(slotSize: 2048, slotCount: 4096)
    /// The server's cores (`cores` of them); the room's viewers spread over them from its
    /// `shardMinViewers`-th on.
    let coreCount: Int
    let shardMinViewers: Int
    private(set) var cores: [SimulatedCore] = []
    private(set) var board: CoreBoard?
    private(set) var rings: CoreRings?
    private var clientIdentity: DTLSIdentity!
    private(set) var clients: [SimulatedClient] = []
    private(set) var failures: [String] = []
    private let roomName = "sim"
    private var frameNumber: UInt32 = 0
    private(set) var publisher: SimulatedClient?
    /// Spans (virtual ns) with no connected publisher: frame gaps there are the publisher's.
    private var publisherGaps: [(from: UInt64, to: UInt64)] = []
    private var publisherGoneAt: UInt64? = 0
    private var nextClientIndex = 0
    private(set) var mediaRunning = true
    private var midKeyframeLeaver: SimulatedClient?

    init(seed: UInt64, scenario: SimulationScenario? = nil, cores: Int = 1, shardMinViewers: Int = 2) {
        self.seed = seed
        self.scenario = scenario ?? .random(seed: seed)
        coreCount = cores
        self.shardMinViewers = shardMinViewers
        network = VirtualNetwork(seed: seed ^ 0x4E37_0000, scheduler: scheduler, log: log)
    }

    /// The first core's room layer (the only one on one core).
    var manager: RoomManager { cores[0].manager }
    var queueDrops: Int { cores.reduce(0) { $0 + $1.queueDrops } }

    var now: Instant { Instant(nanoseconds: Self.monotonicBase + scheduler.now) }

    // MARK: - Run

    /// Runs the scenario and its checks; returns the failures (empty: passed).
    func run() -> [String] {
        lsfu_sim_enter(seed, Self.epochNanoseconds)
        RandomToken.seedCallingThread(seed ^ 0x70C3_0000)
        defer {
            RandomToken.unseedCallingThread()
            lsfu_sim_leave()
        }
        guard lsfu_sim_hooks_active() == 1 else {
            return ["the simulation does not control OpenSSL's clock and randomness on this thread"]
        }
        do {
            try start()
        } catch {
            return ["set-up: \(error)"]
        }
        let end = scenario.duration + 45_000 * Self.ms
        while scheduler.runNext(notAfter: end) {
            lsfu_sim_set_time(Self.epochNanoseconds + Int64(scheduler.now))
        }
        check()
        return failures
    }

    private func start() throws {
        var configuration = RoomManagerConfiguration()
        configuration.candidateIPs = ["10.0.0.1"]
        configuration.maxPendingSessionsPerIP = 0
        configuration.shardMinViewers = shardMinViewers
        configuration.shardMargin = 0
        let identity = try DTLSIdentity.generate()
        cores = (0..<coreCount).map { SimulatedCore(index: $0, simulation: self, configuration: configuration, identity: identity) }
        if coreCount > 1 {
            let board = CoreBoard(cores: coreCount)
            let rings = CoreRings(cores: coreCount, bytes: 1 << 20)
            for core in cores {
                core.manager.board = board
                core.manager.shardRings = rings
                let from = core.index
                // The mailbox: in order, on a later step of the core it is for.
                core.manager.shardControl = { [unowned self] to, message in
                    scheduler.at(scheduler.now) { [unowned self] in
                        let target = cores[to]
                        target.manager.applyShardControl(message, from: from, now: now)
                        target.carry()
                    }
                }
            }
            self.board = board
            self.rings = rings
        }
        clientIdentity = try DTLSIdentity.generate()
        log.add(0, "scenario seed \(seed)")
        for line in scenario.description.split(separator: "\n") { log.add(0, "  \(line)") }

        scheduler.at(scenario.publisherJoinAt) { [unowned self] in publish() }
        for (i, v) in scenario.viewers.enumerated() {
            scheduler.at(v.joinAt) { [unowned self] in play(i) }
        }
        if let r = scenario.publisherReconnect {
            scheduler.at(r.at) { [unowned self] in
                guard let p = publisher else { return }
                leave(p, how: r.how)
                scheduler.after(nanoseconds: r.gap) { [unowned self] in publish() }
            }
        }
        scheduler.at(scenario.duration) { [unowned self] in finish() }
        recurring(every: 10 * Self.ms) { [unowned self] in driveClients() }
        recurring(every: 33_333_333) { [unowned self] in sendFrame() }
        recurring(every: 20 * Self.ms) { [unowned self] in sendAudio() }
        for core in cores { core.scheduleTimer(at: 1000 * Self.ms) }
    }

    private func recurring(every interval: UInt64, _ action: @escaping () -> Void) {
        scheduler.after(nanoseconds: interval) { [unowned self] in
            guard mediaRunning else { return }
            action()
            recurring(every: interval, action)
        }
    }

    // MARK: - Server side

    /// `core` wrote to rings: their readers take the messages in a later step.
    func wakeReaders(of core: SimulatedCore) {
        guard let rings else { return }
        for reader in cores where reader.index != core.index {
            if rings.ring(from: core.index, to: reader.index)?.hasMessages == true { reader.scheduleRingRead() }
        }
    }

    /// A request for the room as `RoomRoutes.viaOwner` sends it: to the room's home core, which
    /// names its owner (placing a new room, `creating`, on the lightest core), then to the
    /// owner, which hands the request's ticket back when done.
    private func onOwner<T>(creating: Bool, _ body: (SimulatedCore) throws -> T) rethrows -> T {
        let home = cores[RoomPlacement.core(forRoom: roomName, cores: cores.count)]
        let ticket = home.manager.owner(ofRoom: roomName, creating: creating)
        let owner = ticket.map { cores[$0.core] } ?? home
        defer {
            owner.manager.handledPlaced(roomName, ticket)
            home.carry()
            owner.carry()
        }
        return try body(owner)
    }

    /// The core a session is on (its ID names it, as `RoomRoutes.onSessionCore` finds it).
    private func core(of client: SimulatedClient) -> SimulatedCore {
        cores[RoomManager.core(ofSession: client.sessionID).map { min($0, cores.count - 1) } ?? 0]
    }

    // MARK: - Clients

    private func makeClient(_ role: ClientPeer.Role, name: String) throws -> SimulatedClient {
        let index = nextClientIndex
        nextClientIndex += 1
        let ufrag = "sim\(index)"
        let password = "simulationpassword\(100_000 + index)"
        let parameters = OfferParameters(
            iceUfrag: ufrag, icePassword: password, fingerprint: clientIdentity.localFingerprint.value,
            sessionID: UInt64(1000 + index), cname: "sim-\(index)", streamID: "sim-stream-\(index)")
        let videoSSRC = 0x0B0B_0001 &+ UInt32(index) &* 16
        let offer =
            role == .publisher
            ? OfferBuilder.publisherOffer(
                parameters,
                tracks: [
                    ClientTrack(kind: .audio, trackID: "mic\(index)", ssrc: videoSSRC &+ 8),
                    ClientTrack(kind: .video, trackID: "cam\(index)", ssrc: videoSSRC, rtxSSRC: videoSSRC &+ 1),
                ])
            : OfferBuilder.viewerOffer(parameters)
        let room = try RoomName(validating: roomName)
        let (core, created) = try onOwner(creating: true) { owner throws -> (SimulatedCore, SessionCreated) in
            if role == .publisher { return (owner, try owner.manager.publish(room: room, offer: offer.session, now: now)) }
            switch owner.manager.placeViewer(room: room, now: now) {
            case .here:
                return (owner, try owner.manager.play(room: room, offer: offer.session, now: now))
            case .shard(let index, let open):
                // The owner asks the shard core itself (`RoomRoutes.playPlaced`).
                let shard = cores[index]
                defer { shard.carry() }
                return (shard, try shard.manager.playOnShard(open, offer: offer.session, now: now))
            }
        }
        let negotiation = try AnswerReader.read(created.answer, offer: offer)
        let peer = try ClientPeer(
            role: role, offer: offer, negotiation: negotiation, iceUfrag: ufrag, icePassword: password,
            identity: clientIdentity, tieBreaker: seed &+ UInt64(index), output: DatagramQueue(pool: pool, capacity: 64))
        let address = SocketAddress(ip: "10.1.\(index / 200).\(index % 200 + 1)", port: 40000)!
        let client = SimulatedClient(
            name: name, peer: peer, sessionID: created.sessionID, address: address, server: core.address,
            joinedAt: scheduler.now)
        if role == .publisher {
            client.media = PublisherMedia(
                negotiation: negotiation, videoSSRC: videoSSRC, audioSSRC: videoSSRC &+ 8,
                firstSequence: UInt16(truncatingIfNeeded: 1000 &+ index &* 5000))
            peer.onRTCP = { [unowned client] compound in client.media?.handle(compound, peer: client.peer) }
        } else {
            client.playback = ViewerPlayback(negotiation: negotiation)
            peer.onRTP = { [unowned self, unowned client] packet in client.playback?.received(packet, now: scheduler.now) }
        }
        network.listen(address) { [unowned self, unowned client] bytes, source in
            guard client.isActive || client.leftAt != nil else { return }
            client.peer.received(bytes, from: source, now: now)
            network.carry(client.peer.output, from: client.address)
        }
        clients.append(client)
        log.add(scheduler.now, "\(name) offers: session \(created.sessionID.prefix(8)) from \(address)\(cores.count > 1 ? " to core \(core.index)" : "")")
        return client
    }

    private func publish() {
        guard mediaRunning else { return }
        do {
            let p = try makeClient(.publisher, name: "p\(clients.filter(\.isPublisher).count)")
            network.setConditions(from: p.address, to: p.server, scenario.publisherUplink)
            network.setConditions(from: p.server, to: p.address, scenario.publisherDownlink)
            publisher = p
        } catch RoomError.publisherExists {
            // The previous publisher's close_notify was lost: its session holds the room until
            // its consent expires (30 s). A WHIP client retries, as OBS does.
            log.add(scheduler.now, "publisher refused (409), retries in 1 s")
            scheduler.after(nanoseconds: 1000 * Self.ms) { [unowned self] in publish() }
        } catch {
            fail("publisher refused at \(scheduler.now / Self.ms) ms: \(error)")
        }
    }

    private func play(_ i: Int) {
        let v = scenario.viewers[i]
        let client: SimulatedClient
        do {
            client = try makeClient(.viewer, name: "v\(i)")
        } catch {
            failures.append("v\(i) refused at \(scheduler.now / Self.ms) ms: \(error)")
            return
        }
        network.setConditions(from: client.server, to: client.address, v.downlink)
        network.setConditions(from: client.address, to: client.server, v.uplink)
        if v.lostServerFlights > 0 {
            network.dropNextDTLS(from: client.server, to: client.address, count: v.lostServerFlights)
        }
        if v.lostClientFlights > 0 {
            network.dropNextDTLS(from: client.address, to: client.server, count: v.lostClientFlights)
        }
        if let t = v.leaveAt { scheduler.at(t) { [unowned self, unowned client] in leave(client, how: v.leave) } }
        if let t = v.goesDarkAt { scheduler.at(t) { [unowned self, unowned client] in goDark(client) } }
        if let t = v.iceRestartAt { scheduler.at(t) { [unowned self, unowned client] in restartICE(client) } }
        if v.leavesMidKeyframe { midKeyframeLeaver = client }
        client.playback?.asksForKeyframes = !v.passive
    }

    private func leave(_ client: SimulatedClient, how: SimulationScenario.Leave) {
        guard client.isActive else { return }
        switch how {
        case .delete:
            let core = core(of: client)
            let ended = core.manager.endSession(room: roomName, id: client.sessionID, now: now)
            log.add(scheduler.now, "\(client.name) DELETE -> \(ended)")
            core.carry()
        case .closeNotify:
            log.add(scheduler.now, "\(client.name) closes DTLS")
            client.peer.close(now: now)
            network.carry(client.peer.output, from: client.address)
        }
        client.leftAt = scheduler.now
        if client === publisher { publisherLeft() }
    }

    /// An ICE restart as a WHEP client does it: PATCH with new credentials and If-Match, the
    /// server's new credentials from the answer fragment, checks again with both.
    private func restartICE(_ client: SimulatedClient) {
        let core = core(of: client)
        guard client.isActive, client.connectedAt != nil,
            let etag = core.manager.etag(room: roomName, id: client.sessionID)
        else { return }
        let ufrag = "rs\(client.name)"
        let password = "simulationrestart\(client.name)0123456789"
        let fragment = TrickleFragment(
            iceUfrag: ufrag, icePassword: password, hostCandidates: [], mids: client.peer.negotiation.media.map(\.mid))
        let result = core.manager.patch(room: roomName, id: client.sessionID, fragment: fragment, ifMatch: etag, now: now)
        guard case .success(.restarted(let text, _)) = result,
            let credentials = (try? TrickleFragment.parse(text))?.credentials
        else {
            fail("\(client.name): ICE restart refused: \(result)")
            return
        }
        log.add(scheduler.now, "\(client.name) restarts ICE")
        client.peer.ice.restart(
            localUfrag: ufrag, localPassword: password, remoteUfrag: credentials.ufrag,
            remotePassword: credentials.password)
        core.carry()
    }

    private func goDark(_ client: SimulatedClient) {
        guard client.isActive else { return }
        log.add(scheduler.now, "\(client.name) goes dark")
        client.isDark = true
        client.wentDarkAt = scheduler.now
        var down = PathConditions.clean
        down.down = true
        network.setConditions(from: client.server, to: client.address, down)
        network.setConditions(from: client.address, to: client.server, down)
    }

    private func publisherLeft() {
        publisher = nil
        if publisherGoneAt == nil { publisherGoneAt = scheduler.now }
    }

    private func driveClients() {
        let t = scheduler.now
        for c in clients where c.isActive {
            c.peer.drive(now: now)
            if c.connectedAt == nil, c.peer.isConnected {
                c.connectedAt = t
                c.playback?.connectedAt = t
                log.add(t, "\(c.name) connected")
                if c === publisher, let gone = publisherGoneAt {
                    publisherGaps.append((gone, t))
                    publisherGoneAt = nil
                }
            }
            if let f = c.peer.failed, !c.reportedFailure {
                c.reportedFailure = true
                log.add(t, "\(c.name) failed: \(f)")
            }
            if let playback = c.playback, c.connectedAt != nil { playback.tick(peer: c.peer, now: t) }
            network.carry(c.peer.output, from: c.address)
        }
    }

    private func sendFrame() {
        guard let p = publisher, p.connectedAt != nil, let media = p.media else { return }
        let key = media.sendFrame(frameNumber, peer: p.peer, now: scheduler.now)
        if key { log.add(scheduler.now, "\(p.name) keyframe \(frameNumber)") }
        frameNumber += 1
        network.carry(p.peer.output, from: p.address)
        if key, let leaver = midKeyframeLeaver, leaver.connectedAt != nil {
            // The keyframe's packets reach the server one by one behind the capped uplink:
            // leave while its fan-out is under way.
            midKeyframeLeaver = nil
            let arrival = network.conditions(from: p.address, to: p.server).delay.nanoseconds
            scheduler.after(nanoseconds: arrival + 12 * Self.ms) { [unowned self, unowned leaver] in
                log.add(scheduler.now, "\(leaver.name) leaves mid-keyframe")
                leave(leaver, how: .delete)
            }
        }
    }

    private func sendAudio() {
        guard let p = publisher, p.connectedAt != nil, let media = p.media else { return }
        media.sendAudio(peer: p.peer)
        network.carry(p.peer.output, from: p.address)
    }

    /// The end: every client still there leaves (DELETE, or close_notify then DELETE as a
    /// tab closing), media stops; the run goes on until nothing is left to do.
    private func finish() {
        log.add(scheduler.now, "finish")
        mediaRunning = false
        for (i, c) in clients.enumerated() where c.isActive {
            leave(c, how: i % 2 == 0 ? .delete : .closeNotify)
        }
        if let gone = publisherGoneAt {
            publisherGaps.append((gone, scheduler.now))
            publisherGoneAt = nil
        }
        // Clients stop; their last datagrams (close_notify) are in flight. The server's
        // timers run out by themselves.
        scheduler.after(nanoseconds: 2000 * Self.ms) { [unowned self] in
            for c in clients { network.listen(c.address, nil) }
        }
    }

    // MARK: - Checks

    private func fail(_ text: String) {
        failures.append(text)
        log.add(scheduler.now, "FAIL \(text)")
    }

    private func check() {
        let end = scenario.duration
        for c in clients where !c.isPublisher {
            let stayed = min(c.leftAt ?? c.wentDarkAt ?? end, end)
            guard let connected = c.connectedAt else {
                // Only a viewer that left or went dark early may never connect.
                if stayed - c.joinedAt >= 3000 * Self.ms {
                    fail("\(c.name) never connected (joined at \(c.joinedAt / Self.ms) ms, \(c.peer.failed ?? "no failure"))")
                }
                continue
            }
            guard let playback = c.playback else { continue }
            // The first frame: due once both the viewer and a publisher are connected.
            if let first = playback.decodeTimes.first {
                let ready = readyForFirstFrame(connected: connected, until: first)
                if first > ready, first - ready > Self.firstFrameBudget {
                    fail("\(c.name) decoded its first frame \((first - ready) / Self.ms) ms after it could (budget \(Self.firstFrameBudget / Self.ms) ms)")
                }
            } else if publisherConnected(atOrAfter: connected) != nil,
                case let ready = readyForFirstFrame(connected: connected, until: stayed), stayed > ready,
                stayed - ready > Self.firstFrameBudget
            {
                fail("\(c.name) never decoded a frame in \((stayed - ready) / Self.ms) ms with a publisher")
            }
            // Gaps between decoded frames while a publisher was there.
            let times = playback.decodeTimes.filter { $0 <= stayed }
            for (a, b) in zip(times, times.dropFirst()) where b - a > Self.frameGapBudget {
                if publisherGaps.contains(where: { $0.from < b && $0.to > a }) { continue }
                fail("\(c.name) saw no frame for \((b - a) / Self.ms) ms (from \(a / Self.ms) ms)")
            }
            log.add(end, "\(c.name): \(playback.decodedFrames.count) frames, first at \((playback.decodeTimes.first ?? 0) / Self.ms) ms, \(playback.nacksSent) NACKs, \(playback.repairsReceived) repairs, \(playback.plisSent) PLIs, \(playback.undecodable) skipped")
        }
        // Nothing left behind.
        for q in clients.map(\.peer.output) { q.drain { _, _ in } }
        for core in cores { core.queue.drain { _, _ in } }
        for core in cores {
            let m = core.manager
            let at = cores.count > 1 ? " on core \(core.index)" : ""
            if m.sessionCount != 0 { fail("\(m.sessionCount) session(s) left\(at): \(m.sessionsByState)") }
            if m.pendingCount != 0 { fail("\(m.pendingCount) session(s) left in set-up\(at)") }
            if m.routedAddressCount != 0 { fail("\(m.routedAddressCount) route(s) left\(at)") }
            if !m.rooms.isEmpty { fail("room(s) left\(at): \(m.rooms.keys.sorted())") }
            if !m.shardRooms.isEmpty { fail("\(m.shardRooms.count) shard room(s) left\(at)") }
            if !m.placements.isEmpty { fail("placement(s) left\(at): \(m.placements.keys.sorted())") }
            if let t = m.nextTimeout { fail("a timer is left\(at) at \(t)") }
            if let board, board.weight(core.index) != 0 { fail("core \(core.index)'s placement weight is \(board.weight(core.index)), not 0") }
            if let rings {
                for to in cores.indices where to != core.index {
                    if let r = rings.ring(from: core.index, to: to), r.hasMessages || r.drops > 0 {
                        fail("ring \(core.index)→\(to): \(r.depthBytes) bytes left, \(r.drops) dropped")
                    }
                }
            }
        }
        if pool.available != pool.slotCount { fail("\(pool.slotCount - pool.available) pool slot(s) not returned") }
        let counters = cores.map(\.manager.counters)
        let created = counters.reduce(UInt64(0)) { $0 + $1.sessionsCreated }
        let ended = counters.reduce(UInt64(0)) { $0 + $1.sessionsEnded.values.reduce(0, +) }
        if ended != created { fail("\(created) sessions created, \(ended) ended") }
        // A viewer gone dark ends on consent expiry (so may one whose only close_notify was lost).
        let dark = clients.filter(\.isDark).count
        let expiries = counters.reduce(UInt64(0)) { $0 + $1.consentExpiries }
        if expiries < UInt64(dark) { fail("\(dark) viewer(s) went dark, \(expiries) consent expiries") }
        if cores.count > 1 {
            let viewersOn = cores.map { core in clients.filter { !$0.isPublisher && $0.server == core.address }.count }
            log.add(scheduler.now, "viewers per core \(viewersOn), shard packets \(counters.map(\.shardPacketsIn))")
        }
        log.add(scheduler.now, "end: \(network.carried) carried, \(network.lost) lost, \(scheduler.steps) steps, \(queueDrops) queue drops")
    }

    /// From when a viewer connected at `connected` could expect its first frame: once a
    /// publisher is connected, and after the last span without one before `until`.
    private func readyForFirstFrame(connected: UInt64, until: UInt64) -> UInt64 {
        var ready = max(connected, publisherConnected(atOrAfter: connected) ?? until)
        while let gap = publisherGaps.first(where: { $0.from < until && $0.to > ready }) { ready = gap.to }
        return ready
    }

    /// When a publisher was (next) connected at or after `t`.
    private func publisherConnected(atOrAfter t: UInt64) -> UInt64? {
        let starts = clients.filter(\.isPublisher).compactMap { p -> UInt64? in
            guard let c = p.connectedAt else { return nil }
            let end = p.leftAt ?? .max
            return end > t ? max(c, t) : nil
        }
        return starts.min()
    }
}
