import CShim
import Glibc

/// A listening TCP socket on one loop (every core listens on the same port with
/// SO_REUSEPORT, so the kernel spreads connections). Accepts without blocking and enforces
/// this core's connection limit. Core-confined.
public final class TCPListener: Channel {
    /// The bound address (with the kernel's port if 0 was asked for).
    public let localAddress: SocketAddress
    /// Most live connections this listener keeps on this core; more are refused.
    public let maxConnections: Int
    /// Live connections accepted by this listener.
    public private(set) var connectionCount = 0

    unowned let loop: EventLoop
    let fd: Int32
    private let limits: TCPLimits
    private let acceptHandler: (TCPConnection) -> (any TCPConnectionHandler)?
    private var token: UInt64 = 0
    private var isClosed = false
    private var acceptPaused = false

    init(loop: EventLoop, bind address: SocketAddress, reusePort: Bool, backlog: Int, maxConnections: Int,
         limits: TCPLimits, accept: @escaping (TCPConnection) -> (any TCPConnectionHandler)?) throws(ReactorError) {
        self.loop = loop
        self.maxConnections = maxConnections
        self.limits = limits
        acceptHandler = accept
        let type = Int32(SOCK_STREAM.rawValue) | lsfu_SOCK_CLOEXEC() | lsfu_SOCK_NONBLOCK()
        let s = socket(address.isIPv6 ? AF_INET6 : AF_INET, type, 0)
        if s < 0 { throw .errno("socket(TCP)") }
        var on: Int32 = 1
        _ = setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
        if reusePort { _ = lsfu_set_reuseport(s) }
        if address.withSockAddr({ Glibc.bind(s, $0, $1) }) != 0 {
            let e = ReactorError.errno("bind(TCP \(address))")
            Glibc.close(s)
            throw e
        }
        if Glibc.listen(s, Int32(clamping: backlog)) != 0 {
            let e = ReactorError.errno("listen(\(address))")
            Glibc.close(s)
            throw e
        }
        fd = s
        localAddress = Self.address(of: s, peer: false) ?? address
    }

    static func address(of fd: Int32, peer: Bool) -> SocketAddress? {
        var storage = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let r = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                peer ? getpeername(fd, $0, &len) : getsockname(fd, $0, &len)
            }
        }
        guard r == 0 else { return nil }
        return withUnsafePointer(to: &storage) { SocketAddress(storage: UnsafeRawPointer($0), length: Int(len)) }
    }

    func start() throws(ReactorError) {
        token = loop.register(self)
        do {
            try loop.backend.watch(fd: fd, token: token, readable: true, writable: false)
        } catch {
            loop.unregister(token)
            throw error
        }
    }

    func ready(_ events: UInt32) {
        // Bounded per wake-up; level-triggered readiness brings us back for the rest.
        for _ in 0..<64 {
            guard !isClosed else { return }
            let c = lsfu_accept(fd, lsfu_SOCK_NONBLOCK() | lsfu_SOCK_CLOEXEC())
            if c < 0 {
                if Self.isResourceShortage(errno) { pauseAccepting() }
                return
            }
            adopt(c)
        }
    }

    private func adopt(_ c: Int32) {
        guard connectionCount < maxConnections else {
            loop.counters.tcpRefused &+= 1
            _ = lsfu_set_linger_zero(c)
            Glibc.close(c)
            return
        }
        _ = lsfu_set_nodelay(c)
        let remote = Self.address(of: c, peer: true) ?? SocketAddress(ipv4: (0, 0, 0, 0), port: 0)
        let conn = TCPConnection(loop: loop, fd: c, remote: remote, connecting: false, limits: limits)
        conn.register()
        guard let handler = acceptHandler(conn) else {
            loop.counters.tcpRefused &+= 1
            conn.discard()
            return
        }
        do {
            try conn.start(handler: handler)
        } catch {
            conn.discard()
            handler.closed(conn)
            return
        }
        conn.listener = self
        connectionCount += 1
        loop.counters.tcpAccepted &+= 1
    }

    func connectionClosed() {
        connectionCount -= 1
    }

    /// Out of file descriptors or memory: the pending connection stays in the backlog, and a
    /// level-triggered listener would wake the loop forever, so stop accepting for a moment.
    static func isResourceShortage(_ e: Int32) -> Bool {
        e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM
    }

    private func pauseAccepting() {
        guard !acceptPaused else { return }
        acceptPaused = true
        loop.counters.tcpAcceptPauses &+= 1
        loop.backend.rewatch(fd: fd, token: token, readable: false, writable: false)
        loop.scheduleTimer(after: .milliseconds(100)) { [weak self] in
            guard let self, !self.isClosed else { return }
            self.acceptPaused = false
            self.loop.backend.rewatch(fd: self.fd, token: self.token, readable: true, writable: false)
        }
    }

    /// Stops accepting; live connections stay open.
    public func close() {
        loop.assertOnLoop()
        guard !isClosed else { return }
        isClosed = true
        loop.backend.unwatch(fd: fd, token: token)
        Glibc.close(fd)
        loop.unregister(token)
    }

    func closeForLoopStop() { close() }
}

extension EventLoop {
    /// Listens on `bind`; `accept` gets each new connection and returns its handler (nil
    /// refuses it). At most `maxConnections` live connections on this loop.
    public func listenTCP(bind: SocketAddress, reusePort: Bool = true, backlog: Int = 1024, maxConnections: Int,
                          limits: TCPLimits = TCPLimits(),
                          accept: @escaping (TCPConnection) -> (any TCPConnectionHandler)?) throws(ReactorError) -> TCPListener {
        assertOnLoop()
        let l = try TCPListener(loop: self, bind: bind, reusePort: reusePort, backlog: backlog,
                                maxConnections: maxConnections, limits: limits, accept: accept)
        try l.start()
        return l
    }
}
