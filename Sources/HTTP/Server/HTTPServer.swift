import Glibc
import Logging
import Reactor

/// The HTTP server of one core: listens on the shared port (`SO_REUSEPORT`, the kernel
/// spreads connections over cores), drives one `HTTPConnection` per TCP connection (through a
/// `TLSSession` when TLS is configured), arms one timer per connection for its header/idle
/// deadline, and hands requests to the core's `HTTPApplication`.
/// Create and start it in `ReactorGroup`'s per-core setup. Not `Sendable`.
public final class HTTPServer {
    public let loop: EventLoop
    public let application: HTTPApplication
    public let limits: HTTPLimits
    public let dateCache: HTTPDateCache
    private let tls: TLSServerContext?
    private var listener: TCPListener?
    var logger: Logger
    var metricsContributors: [(inout MetricsSnapshot) -> Void] = []

    /// - Parameters:
    ///   - tls: a context built on this core, or nil for plain HTTP.
    public init(loop: EventLoop, application: HTTPApplication, limits: HTTPLimits, tls: TLSServerContext?, logger: Logger) {
        self.loop = loop
        self.application = application
        self.limits = limits
        self.tls = tls
        self.logger = logger
        self.dateCache = HTTPDateCache(wallClock: { Int64(time(nil)) })
    }

    /// Starts listening on `address`; throws if the port cannot be bound.
    public func start(bind address: SocketAddress) throws(ReactorError) {
        let metrics = application.metrics
        listener = try loop.listenTCP(
            bind: address, reusePort: true, backlog: 1024, maxConnections: limits.maxConnectionsPerCore, limits: limits.tcpLimits
        ) {
            [weak self] tcp in
            guard let self else { return nil }
            var session: TLSSession?
            if let tls = self.tls {
                do {
                    session = try TLSSession(context: tls)
                } catch {
                    self.logger.error("TLS session: \(error)")
                    return nil
                }
            }
            metrics.connectionOpened()
            return HTTPConnectionDriver(server: self, tcp: tcp, tls: session)
        }
    }

    /// The bound address (port 0 becomes the real port).
    public var localAddress: SocketAddress? { listener?.localAddress }

    /// Stops accepting (open connections finish on their own).
    public func stop() {
        listener?.close()
        listener = nil
    }
}

/// Glue between one `TCPConnection` and its `HTTPConnection` (and `TLSSession`).
final class HTTPConnectionDriver: TCPConnectionHandler {
    private unowned let server: HTTPServer
    private weak var tcp: TCPConnection?
    private let http: HTTPConnection
    private let tls: TLSSession?
    private var timer: TimerHandle?
    /// A flush is scheduled for the next loop turn (a file body used up its turn's share).
    private var flushScheduled = false

    /// File body bytes one connection sends per loop turn at most before the others run: a
    /// fast reader of a large recording would otherwise hold the core until it had it all.
    static let fileBytesPerTurn = 1 << 20

    init(server: HTTPServer, tcp: TCPConnection, tls: TLSSession?) {
        self.server = server
        self.tcp = tcp
        self.tls = tls
        let loop = server.loop
        http = HTTPConnection(limits: server.limits, dateCache: server.dateCache, clock: { [unowned loop] in loop.now })
        let application = server.application
        let remote = tcp.remoteAddress
        http.requestHandler = { request in application.handle(request, remoteAddress: remote) }
        http.transportBacklog = { [weak tcp] in tcp?.pendingWriteBytes ?? 0 }
        // Output can appear later than any TCP event (a handler answering after a cross-core
        // round trip): write it, and re-arm the idle deadline and reading, at once.
        http.onOutput = { [unowned self] in self.afterEvent() }
        armTimer()
    }

    func received(_ bytes: UnsafeRawBufferPointer, on connection: TCPConnection) {
        if let tls {
            do {
                let plaintext = try tls.receive(bytes)
                writeCiphertext()
                if !plaintext.isEmpty { http.receive(plaintext, now: server.loop.now) }
            } catch {
                server.logger.debug("TLS error from \(connection.remoteAddress): \(error)")
                writeCiphertext()
                connection.close()
                return
            }
        } else {
            http.receive(bytes, now: server.loop.now)
        }
        afterEvent()
    }

    func writable(_ connection: TCPConnection) {
        afterEvent()
    }

    func closed(_ connection: TCPConnection) {
        if let timer { server.loop.cancelTimer(timer) }
        timer = nil
        http.transportClosed()
        server.application.metrics.connectionClosed()
    }

    /// Hands output to the socket in pieces while its queue is below the high watermark, so
    /// a client that does not read holds the rest here, in one place, where it also stops
    /// the parsing of further requests. A file body goes with `sendfile(2)` on plain TCP,
    /// else in bounded reads through the same path as other output (TLS).
    private func flush() {
        guard let tcp, tcp.isOpen else { return }
        var fileBytes = 0
        sending: while http.hasOutput, !tcp.isWriteBufferFull, tcp.isOpen {
            if http.isSendingFile, fileBytes >= Self.fileBytesPerTurn {
                scheduleFlush()
                break
            }
            if tls == nil, tcp.canSendFile, let file = http.pendingFile {
                switch tcp.sendFile(file.fd, offset: file.offset, count: min(file.count, HTTPConnection.fileReadSize)) {
                case .sent(let n) where n > 0:
                    http.fileBodySent(n)
                    fileBytes += n
                    continue sending
                case .wouldBlock:
                    // `writable` follows once the socket takes more.
                    break sending
                case .sent, .failed:
                    http.fileBodyFailed()
                    tcp.abort()
                    return
                }
            }
            let fromFile = http.isSendingFile
            let out = http.takeOutput(max: server.limits.outputHighWatermark)
            if http.mustAbort {
                tcp.abort()
                return
            }
            if fromFile { fileBytes += out.count }
            if let tls {
                do {
                    try tls.send(out)
                } catch {
                    tcp.abort()
                    return
                }
                writeCiphertext()
            } else {
                tcp.write(out)
            }
        }
        if http.shouldClose {
            tls?.shutdown()
            writeCiphertext()
            tcp.close(linger: http.wantsLingeringClose ? server.limits.linger : nil)
        }
    }

    private func scheduleFlush() {
        guard !flushScheduled else { return }
        flushScheduled = true
        server.loop.executeSoon { [weak self] in
            guard let self else { return }
            self.flushScheduled = false
            self.afterEvent()
        }
    }

    private func writeCiphertext() {
        guard let tls, let tcp else { return }
        let bytes = tls.takeOutput()
        if !bytes.isEmpty { tcp.write(bytes) }
    }

    /// Applies back-pressure and re-arms the deadline after any event.
    private func afterEvent() {
        guard let tcp, tcp.isOpen else { return }
        flush()
        guard tcp.isOpen else { return }
        http.resumeParsing(now: server.loop.now)
        guard tcp.isOpen else { return }
        if http.wantsReadPaused || tcp.isWriteBufferFull {
            tcp.pauseReading()
        } else {
            tcp.resumeReading()
        }
        armTimer()
    }

    private func armTimer() {
        guard let deadline = http.nextDeadline else {
            if let timer { server.loop.cancelTimer(timer) }
            return
        }
        if let timer {
            if !timer.isScheduled || timer.deadline != deadline { server.loop.reschedule(timer, at: deadline) }
        } else {
            timer = server.loop.scheduleTimer(at: deadline) { [weak self] in self?.timerFired() }
        }
    }

    private func timerFired() {
        http.handleTimeout(now: server.loop.now)
        afterEvent()
    }
}
