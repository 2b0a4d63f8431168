import Cluster
import HTTP
import Logging
import Reactor
import S3
import SFU
import Storage
import Telemetry

/// Starts the cores and blocks until they stop.
struct Server {
    let configuration: Configuration
    let logger: Logger

    func run() throws {
        let c = configuration
        let cores = c.cores > 0 ? c.cores : OSThread.cpuCount
        // Key, certificate and SSL_CTX on the first offer: an idle server then keeps most of
        // libcrypto and libssl out of memory (perf/RESULTS.md, "Idle RSS").
        let identity = DTLSIdentity.deferred()
        // Checked once here for a clear start-up error; each core makes its own SSL_CTX.
        let usesTLS = try Self.makeTLS(c) != nil
        let authenticator = Authenticator(settings: c.auth)
        var rooms = RoomManagerConfiguration()
        rooms.maxViewersPerRoom = c.maxSubscribersPerRoom
        rooms.publisherGrace = .seconds(UInt64(max(c.publisherGraceSeconds, 0)))
        rooms.maxCoreLoad = c.maxCoreLoad
        rooms.maxPendingSessionsPerIP = c.maxPendingSessionsPerIP
        rooms.instantStartMaxBytes = c.instantStartMaxBytes
        rooms.shardMinViewers = c.shardMinViewers
        rooms.instantStartBytesPerSecond = c.instantStartBytesPerSecond
        rooms.viewerTransportCC = c.viewerTransportCC
        if let path = c.bandwidthTraceFile {
            guard let trace = BandwidthTraceFile(path: path) else {
                throw ConfigurationError.invalid("BANDWIDTH_TRACE_FILE", "cannot open \(path) for appending")
            }
            rooms.bandwidthTrace = { trace.write($0) }
        }
        let interfaces = HostAddresses.ipv4ByInterface()
        let media = MediaAddressPlan(
            publicIP: c.publicIP, httpBindIP: c.httpBind.ipString, localIPs: interfaces.map(\.ip),
            defaultRouteIP: HostAddresses.defaultRouteIPv4(interfaces))
        rooms.candidateIPs = media.candidateIPs
        var recording: RecordingService?
        // The writer and upload threads start before the cores: they must not take the stop
        // signals that the cores' signalfd waits for.
        OSThread.blockStopSignals()
        if c.recordEnabled || c.uploadRecordings {
            let log = logger
            recording = try RecordingService(
                directory: c.recordDirectory, uploads: c.uploadRecordings ? try Self.uploadOptions(c) : nil,
                log: { log.warning("\($0)") })
            if c.recordEnabled { rooms.recording = recording?.settings }
            logger.info(
                "recording",
                metadata: [
                    "dir": "\(c.recordDirectory)", "record": "\(c.recordEnabled)", "upload": "\(c.uploadRecordings)",
                    "recovered": "\(recording?.recovered.count ?? 0)",
                ])
        }
        let roomConfiguration = rooms
        let recordingService = recording
        let links = iceServerLinks()
        var backend: BackendKind = c.reactorBackend == .ioUring ? .iouring : .epoll
        if !backend.isAvailable {
            // io_uring is often disabled (kernel.io_uring_disabled, container seccomp): serve on
            // epoll rather than not at all, and say so.
            logger.warning("io_uring is not available here; using epoll", metadata: ["asked": "\(backend)"])
            backend = .epoll
        }
        logger.info(
            "livesfu starting",
            metadata: [
                "cores": "\(cores)", "backend": "\(backend)", "http": "\(c.httpBind)",
                "udp": "\(c.udpBasePort)-\(Int(c.udpBasePort) + cores - 1)",
                "candidates": "\(roomConfiguration.candidateIPs.joined(separator: ","))", "udpBind": "\(media.bindIP)",
                "srtp": "\(SRTPBackend.description)", "tls": "\(usesTLS)",
                "maxCoreLoad": "\(c.maxCoreLoad == 0 ? "off" : "\(c.maxCoreLoad)")",
            ])
        let openFiles = OpenFileLimit.raiseToHard()
        // Connections, plus per core an epoll/io_uring fd, an eventfd, a UDP socket, a listener.
        let wanted = UInt64(cores) * (UInt64(c.httpLimits.maxConnectionsPerCore) + 8) + 64
        if openFiles < wanted {
            logger.warning(
                "the open-file limit is below what HTTP_MAX_CONNECTIONS_PER_CORE allows; raise it (ulimit -n, LimitNOFILE=)",
                metadata: ["limit": "\(openFiles)", "wanted": "\(wanted)"])
        }
        let configuration = self.configuration
        let logger = self.logger
        // Several nodes (CLUSTER_REDIS_URL): the directory's own thread, started below.
        let directory = c.cluster.map { settings in
            ClusterDirectory(
                settings: settings,
                figures: { loop in
                    guard let rooms = (loop.context as? CoreContext)?.rooms else { return nil }
                    let f = rooms.directoryFigures()
                    return ClusterDirectory.CoreFigures(
                        published: f.published, viewers: f.viewers, load: loop.load.busyFraction, relayed: rooms.relayedRooms(),
                        roomViewers: rooms.viewersPerRoom())
                },
                log: { logger.notice("\($0)") })
        }
        // Tracing only with an endpoint: otherwise no thread, no queue, no span.
        let tracer = try c.tracing.map { try Tracer(settings: $0) }
        if let t = tracer {
            logger.info(
                "tracing", metadata: ["endpoint": "\(t.settings.tracesURL)", "sampler": "\(t.settings.sampler)"])
        }
        let shutdown = try GracefulShutdown(timeout: .seconds(UInt64(c.shutdownTimeoutSeconds)), logger: logger)
        let drain = shutdown.drain
        // CLUSTER_MODE=edge: the WHEP exchanges with origins, on a thread of their own.
        let relayClient = directory?.settings.mode == .edge ? RelayHTTPClient(timeout: ClusterSettings.relayTimeout) : nil
        try relayClient?.start()
        // Every core's weight and load, for placing a large room's viewers (`CoreBoard`).
        let board = CoreBoard(cores: cores)
        let group = try ReactorGroup(
            cores: cores, backend: backend, pin: true, handleSignals: true,
            ringBytes: c.shardMinViewers > 0 ? c.shardRingBytes : 0
        ) { loop in
            let port = UInt16(Int(configuration.udpBasePort) + loop.index)
            guard let bind = SocketAddress(ip: media.bindIP, port: port) else {
                throw ConfigurationError.invalid("PUBLIC_IP", "cannot bind media to \(media.bindIP)")
            }
            // The rooms are sans-IO: the core's socket hands them datagrams and sends their
            // queue; `RoomTimer` runs them at their `nextTimeout`.
            let queue = loop.makeDatagramQueue()
            let manager = RoomManager(
                coreIndex: loop.index, identity: identity, configuration: roomConfiguration, output: queue, mediaPort: port)
            manager.coreLoad = { [unowned loop] in loop.load.busyFraction }
            manager.board = board
            manager.shardRings = loop.rings
            loop.onRingMessages = { [unowned loop, unowned manager] ring in manager.readRing(ring, now: loop.now) }
            if let tracer { SessionTracing.observe(manager, tracer: tracer) }
            _ = try loop.openUDP(bind: bind, endpoint: manager, queue: queue)
            let context = CoreContext(rooms: manager)
            context.directory = directory
            if let directory, let relayClient {
                context.edge = EdgeRelays(
                    loop: loop, rooms: manager, links: .live(client: relayClient, directory: directory), bindIP: media.bindIP,
                    log: { logger.notice("\($0)") })
            }
            loop.context = context
            let from = loop.index
            manager.shardControl = { [unowned context] core, message in
                guard core < context.cores.count else { return }
                context.cores[core].execute { (loop: EventLoop) in
                    (loop.context as? CoreContext)?.rooms.applyShardControl(message, from: from, now: loop.now)
                }
            }
            _ = RoomTimer(manager, on: loop)
            // The drain (GracefulShutdown) ended the sessions already; should a core stop
            // without it, every peer still gets a DTLS close_notify before the sockets close.
            loop.onStop = { [unowned loop, unowned manager, unowned context] in
                context.edge?.shutdown(now: loop.now)
                manager.shutdown(now: loop.now)
            }
            let tls = try Self.makeTLS(configuration)
            let server = HTTPServer.make(
                loop: loop, configuration: configuration, authenticator: authenticator, tls: tls, logger: logger,
                drain: drain, tracer: tracer, gatherMetrics: CoreMetrics.gatherer(
                    origin: loop.handle, recordingCounters: recordingService?.counters, recordings: recordingService?.catalog,
                    uploads: recordingService?.uploads, directory: directory),
                routes: { router in
                    RoomRoutes(
                        coreIndex: loop.index, iceServerLinks: links, recordings: recordingService?.catalog,
                        authenticator: authenticator, drain: drain, tracer: tracer)
                        .register(on: router)
                })
            context.http = server
        } onSignal: {
            shutdown.signal($0)
        }
        // Listeners open only once every core knows every other core's handle, so the first
        // request can already reach any room's owner.
        let handles = group.handles
        group.executeOnAll { loop in
            guard let context = loop.context as? CoreContext else { return }
            context.cores = handles
            do {
                try context.http?.start(bind: configuration.httpBind)
            } catch {
                logger.critical("core \(loop.index) cannot listen on \(configuration.httpBind): \(error)")
                shutdown.fail()
            }
        }
        if let directory {
            try directory.start(cores: handles)
            let cluster = directory.settings
            logger.info(
                "cluster directory",
                metadata: [
                    "node": "\(cluster.nodeID)", "url": "\(cluster.nodeURL)", "redis": "\(cluster.redis)",
                    "mode": "\(cluster.mode.rawValue)", "ttl": "\(cluster.nodeTTL)", "heartbeat": "\(cluster.heartbeatInterval)",
                    "signed": "\(cluster.token != nil)",
                ])
        }
        logger.info("livesfu ready", metadata: ["http": "\(c.httpBind)"])
        let stopRequested = shutdown.waitForRequest()
        // Leaves the directory first: this node's rooms are free at once rather than at TTL.
        directory?.stop()
        if stopRequested {
            shutdown.drain(group: group, recording: recording, tracer: tracer)
        } else {
            group.stop()
            group.wait()
            recording?.stop(timeout: .seconds(UInt64(c.shutdownTimeoutSeconds)))
            tracer?.shutdown(timeout: .seconds(2))
            logger.info("livesfu stopped")
        }
        relayClient?.stop()
    }

    /// `UPLOAD_RECORDINGS`: the S3_* settings for the upload queue.
    static func uploadOptions(_ c: Configuration) throws -> UploadCoordinator.Options {
        let s = c.s3
        let s3 = S3Configuration(
            endpoint: s.endpoint ?? "", region: s.region, bucket: s.bucket ?? "", accessKey: s.accessKey ?? "",
            secretKey: s.secretKey ?? "", keyPrefix: s.prefix, useSSL: s.useSSL, pathStyle: s.pathStyle, caFile: s.caFile)
        return UploadCoordinator.Options(
            s3: s3, retry: RetryPolicy(maxAttempts: s.uploadMaxAttempts), concurrency: s.uploadConcurrency,
            deleteAfterUpload: c.deleteRecordingAfterUpload)
    }

    static func makeTLS(_ c: Configuration) throws -> TLSServerContext? {
        guard let cert = c.tlsCertFile else { return nil }
        return try TLSServerContext(certificateFile: cert, keyFile: c.tlsKeyFile ?? "")
    }

    /// `Link` values for the configured ICE servers (RFC 9725 §4.6).
    func iceServerLinks() -> [String] {
        var links = configuration.stunURLs.map { "<\($0)>; rel=\"ice-server\"" }
        for url in configuration.turnURLs {
            var link = "<\(url)>; rel=\"ice-server\""
            if let user = configuration.turnUsername, let password = configuration.turnPassword {
                link += "; username=\"\(user)\"; credential=\"\(password)\"; credential-type=\"password\""
            }
            links.append(link)
        }
        return links
    }
}
