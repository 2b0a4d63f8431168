import Reactor
import SFU

/// The load generator's state on one event loop: its sessions and its counters. Reached
/// from mailbox jobs through `EventLoop.context`. Core-confined.
final class LoadLoop {
    let loop: EventLoop
    let index: Int
    let config: RunConfig
    let identity: DTLSIdentity
    let signalling: SignallingPool
    let board: StatsBoard
    /// Scratch for STUN/DTLS/RTCP writes (delivery is synchronous, one buffer per loop).
    let scratch: UnsafeMutableRawBufferPointer
    var counters = LoadCounters()
    /// Set when the steady window starts: latency is then also recorded as steady-state.
    var steady = false
    var viewers: [ViewerSession] = []
    var publishers: [PublisherSession] = []
    var sessions: [Int: LoadPeer] = [:]
    private var tick: TimerHandle?

    init(loop: EventLoop, config: RunConfig, identity: DTLSIdentity, signalling: SignallingPool, board: StatsBoard) {
        self.loop = loop
        index = loop.index
        self.config = config
        self.identity = identity
        self.signalling = signalling
        self.board = board
        scratch = .allocate(byteCount: 4096, alignment: 16)
        counters.byServer = Array(repeating: LoadCounters.ServerFigures(), count: max(1, config.viewerClients.count))
        // Unowned: a weak reference would give this object a side table, and every retain of it
        // the slow path; the timer is cancelled in closeAll() and dies with the loop.
        tick = loop.scheduleTimer(after: .seconds(1)) { [unowned(unsafe) self] in self.everySecond() }
    }

    deinit { scratch.deallocate() }

    static func on(_ loop: EventLoop) -> LoadLoop? { loop.context as? LoadLoop }

    private func everySecond() {
        publish(final: false, stopNanos: 0)
        counters.latencyInterval.reset()
        if let tick { loop.reschedule(tick, at: loop.now + .seconds(1)) }
    }

    /// Copies the counters (with the per-viewer figures folded in) to the board.
    func publish(final: Bool, stopNanos: UInt64) {
        var c = counters
        for v in viewers {
            c.videoExpected += v.video.tracker.expected
            c.videoReceived += v.video.tracker.received
            c.audioExpected += v.audio.tracker.expected
            c.audioReceived += v.audio.tracker.received
            if v.firstPacketAt != nil {
                let j = v.video.jitter.milliseconds
                c.jitterSumMs += j
                c.jitterSamples += 1
                c.jitterMaxMs = max(c.jitterMaxMs, j)
            }
            if final && v.state != .failed {
                let e = v.expected
                c.viewerDelivery.append(e > 0 ? Double(v.receivedCount) / Double(e) : 0)
                if v.firstPacketAt == nil || v.lastPacketAt.nanoseconds + 1_000_000_000 < stopNanos {
                    c.viewersStalled += 1
                }
            }
        }
        c.sendDropped += UInt64(loop.counters.udpSendDropped)
        board.publish(loop: index, c, final: final)
    }

    // MARK: joining

    func startPublisher(id: Int, room: String, seed: UInt64) {
        let p: PublisherSession
        do { p = try PublisherSession(host: self, id: id, room: room, seed: seed) } catch {
            counters.publishersFailed += 1
            counters.noteFailure("publisher \(room): socket: \(error)")
            return
        }
        publishers.append(p)
        sessions[id] = p
        offer(p, path: config.path(config.whipPath, room: room))
    }

    func startViewer(id: Int, room: String, verified: Bool, seed: UInt64, serverIndex: Int = 0) {
        let v: ViewerSession
        do { v = try ViewerSession(host: self, id: id, room: room, verified: verified, seed: seed, serverIndex: serverIndex) } catch {
            counters.viewersStarted += 1
            counters.viewersFailed += 1
            counters.noteFailure("viewer \(id): socket: \(error)")
            return
        }
        viewers.append(v)
        sessions[id] = v
        offer(v, path: config.path(config.whepPath, room: room))
    }

    /// Offers again for a viewer the server refused (503) after `delay`, if it is still
    /// waiting then (looked up by id: the session may have been closed meanwhile).
    func reoffer(_ v: ViewerSession, after delay: Duration) {
        let id = v.id
        let path = config.path(config.whepPath, room: v.room)
        _ = loop.scheduleTimer(at: loop.now + delay) { [unowned(unsafe) self] in
            guard let s = self.sessions[id], s.state == .offering else { return }
            self.offer(s, path: path)
        }
    }

    private func offer(_ s: LoadPeer, path: String) {
        let sdp = s.offer.sdp
        let id = s.id
        let handle = loop.handle
        let client = httpClient(for: s)
        signalling.submit {
            var r = SignallingResult()
            do {
                let resp = try client.request(method: "POST", path: path, contentType: "application/sdp", body: sdp)
                r.status = resp.status
                r.body = resp.body
                r.location = resp.header("Location")
                r.retryAfter = resp.header("Retry-After").flatMap { Int($0.filter { $0 != " " }) }
            } catch {
                r.error = "\(error)"
            }
            let result = r
            handle.execute { (loop: EventLoop) in
                guard let me = LoadLoop.on(loop), let s = me.sessions[id] else { return }
                s.signalled(result, now: loop.now)
            }
        }
    }

    /// The server a session talks to: its viewer server, or `--server` for publishers.
    private func httpClient(for s: LoadPeer) -> HTTPClient {
        guard let v = s as? ViewerSession, v.serverIndex < config.viewerClients.count else { return signalling.client }
        return config.viewerClients[v.serverIndex]
    }

    /// Simulcast: asks the server to put a connected viewer on `rid` (its session's
    /// `…/layer` resource, next to the `Location` its answer gave).
    func requestLayer(_ v: ViewerSession, rid: String) {
        guard let loc = v.location else {
            signalling.noteLayerFailure("viewer \(v.id): no Location to name its session")
            return
        }
        let path = HTTPClient.path(ofLocation: loc) + "/layer"
        let client = httpClient(for: v)
        let pool = signalling
        signalling.submit {
            do {
                let r = try client.request(method: "POST", path: path, contentType: "text/plain", body: rid)
                if (200..<300).contains(r.status) {
                    pool.layerRequestsOK.add(1, ordering: .relaxed)
                } else {
                    pool.noteLayerFailure("POST \(path) \(rid): HTTP \(r.status) \(r.body.prefix(120))")
                }
            } catch {
                pool.noteLayerFailure("POST \(path): \(error)")
            }
        }
    }

    // MARK: ending

    func stopPublishers() {
        for p in publishers { p.stopSending() }
    }

    /// Closes every session and sends its DELETE.
    func closeAll() {
        for (_, s) in sessions {
            let client = httpClient(for: s)
            let hadLocation = s.location
            s.close()
            if hadLocation == nil && s.answer != nil { counters.missingLocation += 1 }
            if let loc = hadLocation {
                let path = HTTPClient.path(ofLocation: loc)
                let pool = signalling
                signalling.submit {
                    if let r = try? client.request(method: "DELETE", path: path), (200..<300).contains(r.status) {
                        pool.deletesOK.add(1, ordering: .relaxed)
                    } else {
                        pool.deletesFailed.add(1, ordering: .relaxed)
                    }
                }
            }
        }
        counters.viewersClosed = viewers.count
        sessions.removeAll()
        viewers.removeAll()
        publishers.removeAll()
        if let tick { loop.cancelTimer(tick) }
    }
}
