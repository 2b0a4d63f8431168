import Glibc
import Reactor
import SFU
import Synchronization

/// Set by SIGINT/SIGTERM: the run ends early but still takes its final counts and DELETEs
/// every session, so an interrupted run leaves nothing behind on the server.
let interrupted = Atomic<Bool>(false)

/// Runs one load test: loops, publishers, the join schedule, per-second lines, the end
/// (stop media, final counts, DELETE everything) and the report.
final class LoadRunner {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    let opts: LoadCommand
    let config: RunConfig
    let group: ReactorGroup
    let signalling: SignallingPool
    let board = StatsBoard()
    let roomNames: [String]
    let started = Instant.now()
    var lastLine = Instant.now()
    var lastCounters = LoadCounters()
    var lastServer: ProcessSample?
    var serverPeakRSS: UInt64 = 0

    init(_ o: LoadCommand) throws {
        opts = o
        if let cpu = o.cpu, !OSThread.pinCurrent(to: cpu) { throw Failure(description: "cannot pin to CPU \(cpu)") }
        guard let bindAddress = SocketAddress(ip: o.bind, port: 0) else { throw Failure(description: "bad --bind \(o.bind)") }
        var video = SyntheticVideoSource.Config()
        video.bitrate = LoadCommand.parseRate(o.videoBitrate) ?? 2_000_000
        video.fps = o.fps
        video.keyframeInterval = o.keyframeInterval
        video.keyframeRatio = max(1, o.keyframeRatio)
        config = RunConfig(bindAddress: bindAddress, gro: o.gro, whipPath: o.whipPath, whepPath: o.whepPath, video: video,
                           audio: !o.noAudio, nack: !o.noNack, pliOnJoin: !o.noPli, ivfPath: o.ivf,
                           pacingFactor: o.pacing, pacingBurstMillis: UInt64(o.pacingBurstMs), retryRefused: max(0, o.retryRefused),
                           viewerClients: try (o.viewerServers.isEmpty ? [o.server] : o.viewerServers).map { try HTTPClient(base: $0) },
                           simulcastRIDs: (0..<o.simulcast).map { "r\($0)" }, spreadLayers: o.spreadLayers)
        if let path = o.ivf {
            // Fail before anything starts if the recording cannot be used.
            let probe = try IVFVideoSource(path: path, fps: o.fps, ssrc: 1, payloadType: 96)
            print("livesfu-load: replaying \(path): \(probe.frameCount) frames at \(o.fps) fps, looped")
        }
        let client = try HTTPClient(base: o.server)
        signalling = try SignallingPool(threads: o.httpConcurrency, client: client)
        let identity = try DTLSIdentity.generate()
        let config = self.config
        let board = self.board
        let pool = signalling
        // Threads inherit the main thread's pinning (--cpu), so the group does not pin.
        group = try ReactorGroup(cores: 1 + o.loops, backend: o.backend == "iouring" ? .iouring : .epoll, pin: false, poolSlots: 16384) { loop in
            loop.context = LoadLoop(loop: loop, config: config, identity: identity, signalling: pool, board: board)
        }
        roomNames = o.rooms == 1 ? [o.room] : (0..<o.rooms).map { "\(o.room)-\($0)" }
    }

    static func write(_ text: String, to path: String) -> Bool {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        return bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) } == bytes.count
    }

    func say(_ s: String) {
        print(s)
        fflush(nil)
    }

    private func elapsed() -> Double { Double((Instant.now() - started).nanoseconds) / 1e9 }

    /// Prints the per-second line when a second has passed.
    private func maybeLine() {
        let now = Instant.now()
        guard now - lastLine >= .seconds(1) else { return }
        let dt = Double((now - lastLine).nanoseconds) / 1e9
        lastLine = now
        let c = board.merged()
        var server = ""
        if let pid = opts.serverPid, let s = ProcessSampler.sample(pid: pid) {
            serverPeakRSS = max(serverPeakRSS, s.rssBytes)
            if let l = lastServer {
                server = " | server cpu \(Format.fixed((s.cpuSeconds - l.cpuSeconds) / dt * 100, 0))% rss \(Format.mib(s.rssBytes)) MiB"
            }
            lastServer = s
        }
        let rx = c.packetsReceived &- lastCounters.packetsReceived
        let bytes = c.bytesReceived &- lastCounters.bytesReceived
        lastCounters = c
        if opts.quiet { return }
        say("t=\(Format.fixed(elapsed(), 0))s viewers \(c.viewersWithMedia)/\(c.viewersStarted) media (conn \(c.viewersDTLSConnected), failed \(c.viewersFailed), refused \(c.viewersRefused))"
            + " rx \(Format.fixed(Double(rx) / dt / 1000, 1))k pkt/s \(Format.fixed(Double(bytes) * 8 / dt / 1e6, 0)) Mbps"
            + " lost \(c.lost) delivery \(Format.fixed(c.deliveryRatio * 100, 3))%"
            + " lat \(LoadReport.latencyText(c.latencyInterval, withMax: false))"
            + " pub tx \(c.publisherPacketsSent)" + server)
    }

    private func sleepReporting(seconds: Double, until done: () -> Bool = { false }) {
        let end = Instant.now() + Duration(nanoseconds: UInt64(max(0, seconds) * 1e9))
        while Instant.now() < end && !done() && !interrupted.load(ordering: .relaxed) {
            usleep(20_000)
            maybeLine()
        }
    }

    private func isVerified(_ i: Int) -> Bool {
        let s = opts.verifySample
        if s <= 0 { return false }
        if i == 0 { return true }
        return Int(Double(i + 1) * s) > Int(Double(i) * s)
    }

    /// Starts one publisher per room on loop 0 and waits (≤ 15 s) until they connected.
    private func startPublishers() {
        let o = opts
        let pubHandle = group.handles[0]
        for (i, name) in roomNames.enumerated() {
            let seed = UInt64(0xA11C_E000 + i) &* 0x9E37_79B9
            pubHandle.execute { (loop: EventLoop) in LoadLoop.on(loop)?.startPublisher(id: 1_000_000 + i, room: name, seed: seed) }
        }
        let want = roomNames.count
        sleepReporting(seconds: 15) {
            let c = board.merged()
            return c.publishersConnected + c.publishersFailed >= want
        }
        let afterPublish = board.merged()
        if afterPublish.publishersConnected < want {
            say("livesfu-load: publishers connected \(afterPublish.publishersConnected) of \(want); \(afterPublish.failures.first ?? "timed out")")
        } else {
            say("livesfu-load: \(want) publisher(s) connected")
        }
        sleepReporting(seconds: o.settle)
    }

    /// Starts the viewers at the join rate, round-robin over the viewer loops and the rooms;
    /// returns when the first one started.
    private func startViewers() -> Instant {
        let o = opts
        let joinStart = Instant.now()
        var next = 0
        while next < o.viewers && !interrupted.load(ordering: .relaxed) {
            let due = o.joinRate > 0 ? min(o.viewers, Int(Double((Instant.now() - joinStart).nanoseconds) / 1e9 * o.joinRate) + 1) : o.viewers
            while next < due {
                let i = next
                let name = roomNames[i % roomNames.count]
                let verified = isVerified(i)
                let seed = UInt64(i + 1) &* 0xD134_2543_DE82_EF95
                let server = i % config.viewerClients.count
                group.handles[1 + i % o.loops].execute { (loop: EventLoop) in
                    LoadLoop.on(loop)?.startViewer(id: i, room: name, verified: verified, seed: seed, serverIndex: server)
                }
                next += 1
            }
            usleep(2000)
            maybeLine()
        }
        return joinStart
    }

    func run() -> LoadReport {
        let o = opts
        signal(SIGINT) { _ in interrupted.store(true, ordering: .relaxed) }
        signal(SIGTERM) { _ in interrupted.store(true, ordering: .relaxed) }
        // A closed stdout (a pipe whose reader went away on Ctrl-C) must not kill the run
        // before its DELETEs.
        signal(SIGPIPE, SIG_IGN)
        let serverCPU = o.serverPid.flatMap { ProcessSampler.allowedCPUs(pid: $0) } ?? "?"
        let loadCPU = ProcessSampler.allowedCPUs(pid: getpid()) ?? "?"
        say("livesfu-load: \(o.target) at \(o.server): \(o.rooms) room(s), \(o.viewers) viewer(s), join rate \(o.joinRate > 0 ? Format.fixed(o.joinRate, 0) + "/s" : "burst"), \(Format.fixed(o.duration, 1)) s, video \(o.videoBitrate)bit/s @ \(o.fps) fps")
        say("livesfu-load: pinning: server CPUs \(serverCPU)\(o.serverPid.map { " (pid \($0))" } ?? ""), load generator CPUs \(loadCPU); verify sample \(Format.fixed(o.verifySample * 100, 1))% of viewers (the rest count packets from the clear RTP header)")
        let serverStart = o.serverPid.flatMap { ProcessSampler.sample(pid: $0) }
        lastServer = serverStart

        let pubHandle = group.handles[0]
        var serverBeforeViewers: ProcessSample? = nil
        var joinStart = Instant.now()
        if o.viewersFirst {
            serverBeforeViewers = o.serverPid.flatMap { ProcessSampler.sample(pid: $0) }
            joinStart = startViewers()
            sleepReporting(seconds: o.settle)
            startPublishers()
        } else {
            startPublishers()
            serverBeforeViewers = o.serverPid.flatMap { ProcessSampler.sample(pid: $0) }
            if board.merged().publishersConnected == 0 {
                // Nothing to watch: no viewer would get media.
                say("livesfu-load: no publisher connected; not starting viewers")
                interrupted.store(true, ordering: .relaxed)
            }
            joinStart = startViewers()
        }
        // Steady state: from when every viewer started (plus 2 s to settle) to the stop.
        let settleForWindow = min(2.0, o.duration / 2)
        sleepReporting(seconds: settleForWindow)
        for h in group.handles { h.execute { (loop: EventLoop) in LoadLoop.on(loop)?.steady = true } }
        let windowStartCounters = board.merged()
        let windowStart = (Instant.now(), windowStartCounters.packetsReceived, o.serverPid.flatMap { ProcessSampler.sample(pid: $0) })
        let clusterStart = (windowStartCounters, o.nodePids.map { ClusterWindow.cpuSeconds(pid: $0) })
        let selfStart = ProcessSampler.sampleSelf()
        var metricsClient = signalling.client
        metricsClient.timeoutSeconds = 2
        let sendsStart = o.target == "livesfu" ? ServerSendCounters.sample(metricsClient) : nil
        sleepReporting(seconds: o.duration - settleForWindow)
        let sendsEnd = sendsStart == nil ? nil : ServerSendCounters.sample(metricsClient)
        let windowEndCounters = board.merged()
        let windowEnd = (Instant.now(), windowEndCounters.packetsReceived, o.serverPid.flatMap { ProcessSampler.sample(pid: $0) })
        let clusterEnd = (windowEndCounters, o.nodePids.map { ClusterWindow.cpuSeconds(pid: $0) })
        let selfEndWindow = ProcessSampler.sampleSelf()

        // Offers still waiting for an answer get it before the end, so none is left behind
        // on the server without its DELETE.
        if !signalling.waitIdle(seconds: 20) { say("livesfu-load: some offers got no answer in 20 s") }

        // End: stop the media, let the last packets land, take the final counts.
        pubHandle.execute { (loop: EventLoop) in LoadLoop.on(loop)?.stopPublishers() }
        let stopNanos = Instant.now().nanoseconds
        usleep(500_000)
        let serverEnd = o.serverPid.flatMap { ProcessSampler.sample(pid: $0) }
        for h in group.handles {
            h.execute { (loop: EventLoop) in LoadLoop.on(loop)?.publish(final: true, stopNanos: stopNanos) }
        }
        let finalDeadline = Instant.now() + .seconds(10)
        while board.finalCount() < group.handles.count && Instant.now() < finalDeadline { usleep(5000) }
        var counters = board.mergedFinals()
        let mediaSeconds = Double(stopNanos - joinStart.nanoseconds) / 1e9

        // DELETE every session.
        for h in group.handles {
            h.execute { (loop: EventLoop) in LoadLoop.on(loop)?.closeAll() }
        }
        usleep(100_000)
        if !signalling.waitIdle(seconds: 15) { counters.noteFailure("some DELETE requests did not finish in 15 s") }
        group.stop()
        group.wait()
        signalling.shutdown()
        counters.deletesOK = signalling.deletesOK.load(ordering: .relaxed)
        counters.deletesFailed = signalling.deletesFailed.load(ordering: .relaxed)
        counters.layerRequestsOK = signalling.layerRequestsOK.load(ordering: .relaxed)
        counters.layerRequestsFailed = signalling.layerRequestsFailed.load(ordering: .relaxed)
        if let f = signalling.firstLayerFailure { counters.noteFailure("layer request: \(f)") }

        let joinSpan = counters.lastFirstPacketNanos > counters.firstJoinStartNanos && counters.firstJoinStartNanos != .max
            ? Double(counters.lastFirstPacketNanos - counters.firstJoinStartNanos) / 1e9 : 0
        var verified = 0
        for i in 0..<o.viewers where isVerified(i) { verified += 1 }
        var report = LoadReport(
            target: o.target, server: o.server, rooms: roomNames.count, publishersWanted: roomNames.count,
            viewersWanted: o.viewers, verifySample: o.verifySample, verifiedViewers: verified, durationSeconds: mediaSeconds,
            videoBitrate: config.video.bitrate, fps: config.video.fps, counters: counters, joinSpanSeconds: joinSpan,
            stalledViewers: counters.viewersStalled, serverStart: serverStart, serverEnd: serverEnd,
            serverPeakRSS: max(serverPeakRSS, serverEnd?.peakRSSBytes ?? 0), selfEnd: ProcessSampler.sampleSelf(),
            loadCPU: loadCPU, serverCPU: serverCPU)
        var t = Thresholds()
        t.minDelivery = o.minDelivery
        t.maxP99LatencyMs = o.maxP99LatencyMs
        t.maxJoinSeconds = o.maxJoinSeconds
        t.maxFailed = o.maxFailed
        t.maxStalled = o.maxStalled
        report.serverBeforeViewers = serverBeforeViewers
        report.simulcastLayers = o.simulcast
        report.spreadLayers = o.spreadLayers
        if let a = selfStart, let b = selfEndWindow, windowEnd.0 > windowStart.0 {
            report.loadSteadyCPUFraction = (b.cpuSeconds - a.cpuSeconds) / (Double((windowEnd.0 - windowStart.0).nanoseconds) / 1e9)
        }
        if let a = windowStart.2, let b = windowEnd.2, windowEnd.0 > windowStart.0 {
            let seconds = Double((windowEnd.0 - windowStart.0).nanoseconds) / 1e9
            let packets = windowEnd.1 &- windowStart.1
            report.steady = LoadReport.Steady(seconds: seconds, serverCPUSeconds: b.cpuSeconds - a.cpuSeconds,
                                              packetsReceived: packets,
                                              bytesReceived: windowEndCounters.bytesReceived &- windowStartCounters.bytesReceived)
            if let a = sendsStart, let b = sendsEnd {
                report.steady?.serverSends = ServerSendCounters(
                    datagrams: b.datagrams &- a.datagrams, messages: b.messages &- a.messages)
            }
        }
        if !o.viewerServers.isEmpty || !o.nodePids.isEmpty {
            let urls = o.viewerServers.isEmpty ? [o.server] : o.viewerServers
            let servers = urls.enumerated().map { i, url in
                let before = i < clusterStart.0.byServer.count ? clusterStart.0.byServer[i].packetsReceived : 0
                let after = i < clusterEnd.0.byServer.count ? clusterEnd.0.byServer[i].packetsReceived : 0
                return ClusterWindow.Server(
                    url: url, viewers: (0..<o.viewers).filter { $0 % urls.count == i }.count, packets: after &- before,
                    latency: i < counters.byServer.count ? counters.byServer[i].latencySteady : LatencyHistogram())
            }
            let nodes = o.nodePids.enumerated().map { i, pid in
                ClusterWindow.Node(pid: pid, cpuSeconds: (clusterEnd.1[i] ?? 0) - (clusterStart.1[i] ?? 0))
            }
            report.cluster = ClusterWindow(
                seconds: Double((windowEnd.0 - windowStart.0).nanoseconds) / 1e9,
                publisherPackets: clusterEnd.0.publisherPacketsSent &- clusterStart.0.publisherPacketsSent, servers: servers,
                nodes: nodes)
        }
        report.misses = t.check(report)
        if interrupted.load(ordering: .relaxed) { report.misses.append("the run ended early (signal, or no publisher)") }
        return report
    }
}
