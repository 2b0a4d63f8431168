import Foundation
import CShim
import Glibc
import HTTPTypes
import Logging
import Reactor
import SFU
import Storage
import Synchronization

@testable import HTTP

/// A real livesfu HTTP server on 127.0.0.1 (ReactorGroup, epoll or io_uring) with the standard routes
/// and stand-ins for the room routes, for tests with curl and raw sockets. Each core has a
/// `CoreContext` with an (empty) `RoomManager` and `/metrics` is gathered as in `livesfu`.
/// With `recordings`, the real `/api/records` routes serve that catalog (and `/metrics` shows
/// it and `recordingCounters`).
final class LiveServer: Sendable {
    let group: ReactorGroup
    let port: UInt16
    let logs: LogCapture
    private let handles: HandleList

    init(
        environment: [String: String] = [:], cores: Int = 1, recordings: RecordingCatalog? = nil,
        recordingCounters: RecordingCounters? = nil
    ) throws {
        port = try Self.freePort()
        var env = environment
        env["HTTP_ADDR"] = "127.0.0.1:\(port)"
        if env["WEB_DIR"] == nil { env["WEB_DIR"] = Self.projectRoot + "/web" }
        let configuration = try Configuration.load(environment: env)
        let authenticator = Authenticator(settings: configuration.auth)
        let logs = LogCapture()
        self.logs = logs
        let handles = HandleList()
        self.handles = handles
        // LIVESFU_BACKEND=iouring runs the same tests on io_uring.
        group = try ReactorGroup(cores: cores, backend: .fromEnvironment, pin: false) { loop in
            var logger = Logger(label: "livesfu.http", factory: { _ in logs })
            logger.logLevel = .info
            let tls = try configuration.tlsCertFile.map { cert in
                try TLSServerContext(certificateFile: cert, keyFile: configuration.tlsKeyFile!)
            }
            let server = HTTPServer.make(
                loop: loop, configuration: configuration, authenticator: authenticator, tls: tls, logger: logger,
                gatherMetrics: CoreMetrics.gatherer(
                    origin: loop.handle, recordingCounters: recordingCounters, recordings: recordings),
                routes: { router in
                    Self.addRoomStandIns(router, handles: handles)
                    if let recordings {
                        RecordingRoutes(catalog: recordings, authenticator: authenticator).register(on: router)
                    }
                })
            let context = CoreContext(
                rooms: RoomManager(
                    coreIndex: loop.index, identity: DTLSIdentity.deferred(), configuration: RoomManagerConfiguration(),
                    output: loop.makeDatagramQueue()))
            context.http = server
            loop.context = context
            let core = loop.index
            server.addMetricsContributor { snapshot in
                snapshot.add("livesfu_test_rooms", .gauge, help: "Rooms (stand-in)", labels: [("core", String(core))], value: 1)
            }
            try server.start(bind: configuration.httpBind)
        }
        handles.set(group.handles)
        let all = group.handles
        for index in all.indices { onCore(index) { loop in if let context = loop.context as? CoreContext { context.cores = all } } }
    }

    deinit {
        group.stop()
        group.wait()
    }

    static let projectRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    /// Stand-ins for the room handlers: answer like WHIP does, and hop to another core and
    /// back through the mailbox like a request for a room owned elsewhere.
    static func addRoomStandIns(_ router: Router, handles: HandleList) {
        router.add(.post, "/api/whip/publish/:room", policy: RoutePolicy(auth: .room(parameter: "room"), rateLimited: true, acceptPost: "application/sdp")) {
            request, responder in
            var response = HTTPServerResponse(status: .created, body: Array("v=0\r\n".utf8))
            response.head.headerFields[.contentType] = "application/sdp"
            response.head.headerFields[.location] = "/api/session/\(request.pathParameters["room"] ?? "")/1"
            response.head.headerFields[.eTag] = "\"1\""
            responder.respond(response)
        }
        router.add(.get, "/api/rooms", policy: RoutePolicy(auth: .global, rateLimited: true)) { _, responder in
            responder.respond(.json(.ok, "[]"))
        }
        router.add(.post, "/api/admin/rooms/:room/close", policy: RoutePolicy(auth: .admin)) { _, responder in
            responder.respond(HTTPServerResponse(status: .noContent))
        }
        // GET /api/hop/:core/:delayMs: answered by core `core` after `delayMs`.
        router.add(.get, "/api/hop/:core/:delay") { request, responder in
            let all = handles.all
            let target = all[(Int(request.pathParameters["core"] ?? "") ?? 0) % max(all.count, 1)]
            let delay = UInt64(request.pathParameters["delay"] ?? "") ?? 0
            let origin = all[request.coreIndex]
            let box = CoreBound(responder)
            target.execute { (loop: EventLoop) in
                let index = loop.index
                loop.scheduleTimer(after: .milliseconds(delay)) {
                    origin.execute { box.value?.respond(.text(.ok, "answered by core \(index)")) }
                }
            }
        }
    }

    static func freePort() throws -> UInt16 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        let any = SocketAddress(ip: "127.0.0.1", port: 0)!
        guard any.withSockAddr({ bind(fd, $0, $1) }) == 0 else { throw POSIXError(.EADDRINUSE) }
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return withUnsafePointer(to: &storage) { SocketAddress(storage: UnsafeRawPointer($0), length: Int(length))!.port }
    }

    var base: String { "http://127.0.0.1:\(port)" }

    /// Runs `body` on core `index` and returns its result (blocks the test's thread).
    func onCore<T: Sendable>(_ index: Int, _ body: @escaping @Sendable (EventLoop) -> T) -> T {
        let result = Mutex<T?>(nil)
        let done = DispatchSemaphore(value: 0)
        group.handles[index].execute { (loop: EventLoop) in
            let value = body(loop)
            result.withLock { $0 = value }
            done.signal()
        }
        done.wait()
        return result.withLock { $0! }
    }

    /// Runs curl; returns its exit status, stdout and stderr.
    @discardableResult
    static func curl(_ arguments: [String]) throws -> (status: Int32, out: String, err: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        process.arguments = ["-sS", "--max-time", "10"] + arguments
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: outData, as: UTF8.self), String(decoding: errData, as: UTF8.self))
    }

    /// curl printing the status code last: returns (code, headers+body text).
    func request(_ arguments: [String]) throws -> (code: Int, text: String) {
        let r = try Self.curl(["-i", "-w", "\n%{http_code}"] + arguments)
        let lines = r.out.split(separator: "\n", omittingEmptySubsequences: false)
        return (Int(lines.last ?? "") ?? 0, lines.dropLast().joined(separator: "\n"))
    }
}

/// The cores' handles, known once the group has started.
final class HandleList: Sendable {
    private let handles = Mutex<[EventLoopHandle]>([])
    var all: [EventLoopHandle] { handles.withLock { $0 } }
    func set(_ list: [EventLoopHandle]) { handles.withLock { $0 = list } }
}

/// A blocking client socket for byte-exact requests.
struct RawClient {
    let fd: Int32

    /// - Parameter receiveBufferBytes: a small `SO_RCVBUF` makes a client that never reads
    ///   stall the server's writes sooner.
    init(port: UInt16, timeoutSeconds: Int = 5, receiveBufferBytes: Int32? = nil) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        if var size = receiveBufferBytes {
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        let r = SocketAddress(ip: "127.0.0.1", port: port)!.withSockAddr { connect(fd, $0, $1) }
        guard r == 0 else {
            Glibc.close(fd)
            throw POSIXError(.ECONNREFUSED)
        }
        var tv = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    func send(_ text: String) { send(Array(text.utf8)) }

    /// Sends all of `bytes` (blocking); false if the connection failed first.
    @discardableResult
    func send(_ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return false }
            offset += n
        }
        return true
    }

    /// Sends what the kernel takes now, without waiting; returns the bytes sent.
    @discardableResult
    func sendWithoutBlocking(_ bytes: [UInt8]) -> Int {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes {
                Glibc.send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT))
            }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            offset += n
        }
        return offset
    }

    /// One `recv`, retried when a signal interrupts it: other tests in this process start
    /// child processes (curl), and their SIGCHLD may land on this thread.
    private func receive(into buffer: inout [UInt8]) -> Int {
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n >= 0 || errno != EINTR { return n }
        }
    }

    /// Reads until the server closes (or the timeout); returns the text and whether it closed.
    func readToEnd() -> (text: String, closed: Bool) {
        var all: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = receive(into: &buffer)
            if n == 0 { return (String(decoding: all, as: UTF8.self), true) }
            // A reset counts as closed: the server closed with unread bytes still queued.
            if n < 0 { return (String(decoding: all, as: UTF8.self), errno == ECONNRESET) }
            all.append(contentsOf: buffer[0..<n])
        }
    }

    /// Reads until `count` complete responses (by Content-Length) have arrived.
    func readResponses(_ count: Int) -> [String] {
        var all: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        var responses: [String] = []
        while responses.count < count {
            if let (response, used) = Self.splitResponse(all) {
                responses.append(response)
                all.removeFirst(used)
                continue
            }
            let n = receive(into: &buffer)
            if n <= 0 { break }
            all.append(contentsOf: buffer[0..<n])
        }
        return responses
    }

    static func splitResponse(_ bytes: [UInt8]) -> (String, Int)? {
        let text = String(decoding: bytes, as: UTF8.self)
        guard let headEnd = text.range(of: "\r\n\r\n") else { return nil }
        let head = text[..<headEnd.lowerBound]
        var length = 0
        for line in head.split(separator: "\r\n") where line.lowercased().hasPrefix("content-length:") {
            length = Int(line.dropFirst(15).trimmingCharacters(in: .whitespaces)) ?? 0
        }
        let headBytes = text[..<headEnd.upperBound].utf8.count
        guard bytes.count >= headBytes + length else { return nil }
        return (String(decoding: bytes[0..<(headBytes + length)], as: UTF8.self), headBytes + length)
    }

    func close() { Glibc.close(fd) }
}

/// Collects log lines so tests can check what is (not) logged.
final class LogCapture: LogHandler, @unchecked Sendable {
    // @unchecked: all mutable state is behind `lines`' mutex; metadata/logLevel are set once
    // at creation on the creating thread, as swift-log's handlers do.
    let lines = Mutex<[String]>([])
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .info

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let meta = (event.metadata ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        lines.withLock { $0.append("\(event.level) \(event.message) \(meta)") }
    }

    var all: [String] { lines.withLock { $0 } }
}
