import CShim
import Glibc

/// One TCP connection on a loop: non-blocking reads delivered to its handler, a bounded
/// write queue with watermarks (back-pressure), a hard cap and a write-progress deadline past
/// which a peer that stopped reading is aborted, and an optional lingering close (FIN, then
/// read and discard for a bounded time) so that a peer still sending sees our last answer
/// rather than a reset. Core-confined.
public final class TCPConnection: Channel {
    /// The peer's address.
    public let remoteAddress: SocketAddress
    /// Unique per loop.
    public let id: UInt64
    /// The write-queue bounds.
    public let limits: TCPLimits

    unowned let loop: EventLoop
    let fd: Int32
    private var token: UInt64 = 0
    private var handler: (any TCPConnectionHandler)?
    weak var listener: TCPListener?

    /// `closing`: flushing the queue before closing; `lingering`: queue flushed and FIN sent,
    /// reading and discarding until the peer's FIN, `Linger.maxBytes` or `Linger.timeout`.
    private enum State { case connecting, open, closing, lingering, closed }
    private var state: State
    private var readingPaused = false
    private var aboveHighWatermark = false
    private var writes = WriteQueue()
    /// `sendFile` found the socket full (or bytes queued before the file's): `writable` is
    /// called once it can take more, and the write-stall deadline runs meanwhile.
    private var awaitingWritable = false
    private var watchingWritable = false
    private var watchingReadable = false

    private var resourcesReleased = false
    /// An error or the hard cap hit: abort on the next turn, write nothing more.
    private var failing = false
    /// Watched by the backend (interest changes before that wait for `start`).
    private var isWatched = false
    /// When queued bytes last moved (or the queue last became non-empty).
    private var lastWriteProgress = Instant(nanoseconds: 0)
    /// Fires `writeStallTimeout` after the last progress while bytes are queued.
    private var stallTimer: TimerHandle?
    /// The lingering close asked for, if any, and what it has discarded.
    private var linger: Linger?
    private var lingerDiscarded = 0
    private var lingerTimer: TimerHandle?

    /// How a lingering close ends: after `timeout`, or once `maxBytes` were discarded.
    public struct Linger: Sendable, Equatable {
        public var timeout: Duration
        public var maxBytes: Int
        public init(timeout: Duration, maxBytes: Int) {
            self.timeout = timeout
            self.maxBytes = maxBytes
        }
    }

    init(loop: EventLoop, fd: Int32, remote: SocketAddress, connecting: Bool, limits: TCPLimits) {
        self.loop = loop
        self.fd = fd
        remoteAddress = remote
        id = loop.takeConnectionID()
        self.limits = limits
        state = connecting ? .connecting : .open
    }

    /// Takes a token so the connection can be written to before it starts (e.g. inside the
    /// listener's accept closure).
    func register() {
        if token == 0 { token = loop.register(self) }
    }

    /// Drops a connection that was refused before it started.
    func discard() {
        state = .closed
        _ = lsfu_set_linger_zero(fd)
        writes.removeAll()
        releaseResources()
    }

    /// Starts reading (or connecting) with `handler` receiving events.
    func start(handler: any TCPConnectionHandler) throws(ReactorError) {
        self.handler = handler
        register()
        watchingReadable = state == .open && !readingPaused
        watchingWritable = state == .connecting || !writes.isEmpty
        do {
            try loop.backend.watch(fd: fd, token: token, readable: watchingReadable, writable: watchingWritable)
        } catch {
            loop.unregister(token)
            throw error
        }
        isWatched = true
    }

    // MARK: public API

    /// Bytes queued and not yet accepted by the kernel.
    public var pendingWriteBytes: Int { state == .closed || failing ? 0 : writes.count }
    /// True above the high watermark: stop producing until `writable` is called.
    public var isWriteBufferFull: Bool { writes.count > limits.highWatermark }
    /// True until closed or aborted (also while flushing after `close()`).
    public var isOpen: Bool { state != .closed }

    /// Queues `bytes` (copied) for the peer.
    public func write(_ bytes: UnsafeRawBufferPointer) {
        loop.assertOnLoop()
        guard state == .open || state == .connecting, bytes.count > 0 else { return }
        var rest = bytes
        if writes.isEmpty, state == .open {
            // Common case: the kernel takes it all at once, nothing is copied.
            let n = Glibc.send(fd, rest.baseAddress, rest.count, lsfu_MSG_NOSIGNAL() | lsfu_MSG_DONTWAIT())
            if n > 0 {
                loop.counters.tcpWrittenBytes &+= n
                if n == rest.count { return }
                rest = UnsafeRawBufferPointer(rebasing: rest[n...])
            } else if n < 0, errno != EAGAIN, errno != EWOULDBLOCK, errno != EINTR {
                failLater()
                return
            }
        }
        if writes.isEmpty { noteWriteProgress() }
        writes.append(rest)
        if writes.count > loop.counters.tcpWriteQueuePeakBytes { loop.counters.tcpWriteQueuePeakBytes = writes.count }
        armStallTimer()
        if writes.count > limits.hardCap {
            loop.counters.tcpWriteCapAborts &+= 1
            failLater()
            return
        }
        if writes.count > limits.highWatermark { aboveHighWatermark = true }
        if state == .open { updateInterest() }
    }

    /// Queues a copy of `bytes`.
    public func write(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { write($0) }
    }

    /// What `sendFile` did.
    public enum FileSendResult: Equatable {
        /// This many bytes went to the socket; 0 means the file ended before `count` bytes.
        case sent(Int)
        /// The socket is full, or queued bytes must go first: `writable` follows.
        case wouldBlock
        /// The connection failed (it closes on the next turn) or cannot send from a file.
        case failed
    }

    /// Whether `sendFile` can be used (the connection is open and has not failed).
    public var canSendFile: Bool { state == .open && !failing }

    /// Sends up to `count` bytes of `fileFD` from `offset` with `sendfile(2)`: the kernel copies
    /// from the page cache to the socket, nothing passes through this process's memory. Only
    /// once the write queue is empty (bytes queued before the file's go first). When the socket
    /// is full the result is `wouldBlock`, `writable` follows, and the write-stall deadline
    /// (`TCPLimits.writeStallTimeout`) bounds the wait as it does for queued bytes.
    /// A read of a file that is not in the page cache blocks the loop for that read: callers
    /// keep `count` small and serve files that were just written (recordings).
    public func sendFile(_ fileFD: Int32, offset: Int, count: Int) -> FileSendResult {
        guard canSendFile, count > 0 else { return .failed }
        guard writes.isEmpty else {
            awaitWritable()
            return .wouldBlock
        }
        var position = off_t(offset)
        while true {
            let n = Glibc.sendfile(fd, fileFD, &position, count)
            if n > 0 {
                loop.counters.tcpWrittenBytes &+= n
                noteWriteProgress()
                return .sent(n)
            }
            if n == 0 { return .sent(0) }
            if errno == EINTR { continue }
            if errno == EAGAIN || errno == EWOULDBLOCK {
                awaitWritable()
                return .wouldBlock
            }
            failLater()
            return .failed
        }
    }

    private func awaitWritable() {
        if !awaitingWritable {
            awaitingWritable = true
            // The wait starts now, as when bytes are first queued.
            if writes.isEmpty { noteWriteProgress() }
        }
        armStallTimer()
        updateInterest()
    }

    /// Stops delivering reads (the kernel's receive buffer then pushes back on the peer).
    public func pauseReading() {
        guard !readingPaused else { return }
        readingPaused = true
        updateInterest()
    }

    /// Delivers reads again.
    public func resumeReading() {
        guard readingPaused else { return }
        readingPaused = false
        updateInterest()
    }

    /// Closes after the queued bytes are written. With `linger`, the connection then sends
    /// its FIN and keeps reading, discarding what arrives, until the peer's FIN or the
    /// linger's bounds: a peer that sends a whole request body before reading (and was answered
    /// early, e.g. 413) gets the answer instead of a reset caused by its unread bytes.
    public func close(linger: Linger? = nil) {
        loop.assertOnLoop()
        switch state {
        case .closed, .closing, .lingering: return
        case .connecting: finish(abortive: false)
        case .open:
            self.linger = linger
            if writes.isEmpty {
                finishOrLinger()
            } else {
                state = .closing
                readingPaused = true
                updateInterest()
            }
        }
    }

    /// The queue is flushed: close, or start the lingering close.
    private func finishOrLinger() {
        guard let linger, !failing else {
            finish(abortive: false)
            return
        }
        state = .lingering
        // Our FIN tells the peer the answer is complete; its bytes are still read below.
        _ = Glibc.shutdown(fd, Int32(SHUT_WR))
        lingerTimer = loop.scheduleTimer(after: linger.timeout) { [weak self] in self?.finish(abortive: false) }
        updateInterest()
    }

    /// Bytes read while lingering are dropped; enough of them, or the peer's FIN, ends it.
    private func discardLingering(_ n: Int) {
        lingerDiscarded += n
        if n == 0 || lingerDiscarded > (linger?.maxBytes ?? 0) { finish(abortive: false) }
    }

    // MARK: write progress

    private func noteWriteProgress() { lastWriteProgress = loop.now }

    /// Arms the stall timer if bytes are queued and it is not armed. It is not moved on every
    /// write: when it fires it checks the last progress and re-arms itself if there was some.
    private func armStallTimer() {
        guard let timeout = limits.writeStallTimeout, !writes.isEmpty || awaitingWritable, state != .closed else { return }
        if let stallTimer {
            if !stallTimer.isScheduled { loop.reschedule(stallTimer, at: lastWriteProgress + timeout) }
        } else {
            stallTimer = loop.scheduleTimer(at: lastWriteProgress + timeout) { [weak self] in self?.stallTimerFired() }
        }
    }

    private func stallTimerFired() {
        guard let timeout = limits.writeStallTimeout, state == .open || state == .closing, !failing,
            !writes.isEmpty || awaitingWritable
        else { return }
        if loop.now - lastWriteProgress >= timeout {
            loop.counters.tcpWriteStallAborts &+= 1
            finish(abortive: true)
        } else if let stallTimer {
            loop.reschedule(stallTimer, at: lastWriteProgress + timeout)
        }
    }

    /// Closes at once, dropping queued bytes (the peer sees a reset).
    public func abort() {
        loop.assertOnLoop()
        guard state != .closed else { return }
        finish(abortive: true)
    }

    // MARK: readiness

    private func updateInterest() {
        guard state != .closed, isWatched else { return }
        let r = (state == .open && !readingPaused) || state == .lingering
        let w = state == .connecting || ((!writes.isEmpty || awaitingWritable) && state != .lingering)
        if r != watchingReadable || w != watchingWritable {
            watchingReadable = r
            watchingWritable = w
            loop.backend.rewatch(fd: fd, token: token, readable: r, writable: w)
        }
    }

    func ready(_ events: UInt32) {
        if state == .connecting {
            let e = lsfu_socket_error(fd)
            if e != 0 || events & lsfu_EPOLLERR() != 0 {
                finish(abortive: true)
                return
            }
            state = .open
            updateInterest()
            flushWrites()
            return
        }
        if events & lsfu_EPOLLERR() != 0 {
            // Reset or other socket error: nothing more can be written or trusted.
            finish(abortive: true)
            return
        }
        if state == .lingering {
            if events & (lsfu_EPOLLIN() | lsfu_EPOLLRDHUP() | lsfu_EPOLLHUP() | lsfu_EPOLLERR()) != 0 { readLingering() }
            return
        }
        if events & lsfu_EPOLLOUT() != 0 { flushWrites() }
        if state == .closed { return }
        if events & (lsfu_EPOLLIN() | lsfu_EPOLLRDHUP() | lsfu_EPOLLHUP()) != 0, !readingPaused, state == .open {
            readAvailable()
        } else if events & lsfu_EPOLLHUP() != 0 {
            // Both directions are gone (HUP is reported even without interest, level-triggered):
            // a paused or closing connection must end here or the loop would spin on it.
            finish(abortive: true)
        }
    }

    private func readAvailable() {
        let buf = loop.scratch
        // A few reads per wake-up keep one fast peer from starving the rest of the loop.
        for _ in 0..<4 {
            guard state == .open, !readingPaused else { return }
            let n = Glibc.recv(fd, buf.baseAddress, buf.count, lsfu_MSG_DONTWAIT())
            if n > 0 {
                loop.counters.tcpReadBytes &+= n
                handler?.received(UnsafeRawBufferPointer(start: buf.baseAddress, count: n), on: self)
                if n < buf.count { return }
            } else if n == 0 {
                close()  // peer finished sending: flush our answer, then close
                return
            } else {
                if errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR { return }
                finish(abortive: true)
                return
            }
        }
    }

    /// epoll, lingering: read and drop what the peer still sends.
    private func readLingering() {
        let buf = loop.scratch
        for _ in 0..<4 {
            guard state == .lingering else { return }
            let n = Glibc.recv(fd, buf.baseAddress, buf.count, lsfu_MSG_DONTWAIT())
            if n >= 0 {
                discardLingering(n)
                if n < buf.count { return }
            } else {
                if errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR { return }
                finish(abortive: true)
                return
            }
        }
    }

    private func flushWrites() {
        while !failing, let front = writes.front {
            let n = Glibc.send(fd, front.baseAddress, front.count, lsfu_MSG_NOSIGNAL() | lsfu_MSG_DONTWAIT())
            if n > 0 {
                loop.counters.tcpWrittenBytes &+= n
                noteWriteProgress()
                writes.consume(n)
                if n < front.count { break }
            } else if n < 0, errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR {
                break
            } else {
                finish(abortive: true)
                return
            }
        }
        afterWritesDrained()
        updateInterest()
    }

    private func afterWritesDrained() {
        if aboveHighWatermark, writes.count < limits.lowWatermark {
            aboveHighWatermark = false
            awaitingWritable = false
            handler?.writable(self)
        } else if awaitingWritable, writes.isEmpty, state == .open {
            // epoll reported the socket writable (or the queue ahead of a file drained).
            awaitingWritable = false
            updateInterest()
            handler?.writable(self)
        }
        if state == .closing, writes.isEmpty, !failing { finishOrLinger() }
    }

    // MARK: closing

    /// Errors found inside `write` close the connection on the next turn, so a handler
    /// never sees `closed` from inside its own `write` call.
    private func failLater() {
        guard state != .closed, !failing else { return }
        failing = true
        writes.removeAll()
        state = .closing
        loop.executeSoon { [weak self] in self?.finish(abortive: true) }
    }

    private func finish(abortive: Bool) {
        guard state != .closed else { return }
        state = .closed
        if let stallTimer { loop.cancelTimer(stallTimer) }
        if let lingerTimer { loop.cancelTimer(lingerTimer) }
        stallTimer = nil
        lingerTimer = nil
        if abortive { _ = lsfu_set_linger_zero(fd) }
        writes.removeAll()
        if isWatched { loop.backend.unwatch(fd: fd, token: token) }
        listener?.connectionClosed()
        let h = handler
        handler = nil
        h?.closed(self)
        releaseResources()
    }

    private func releaseResources() {
        guard !resourcesReleased else { return }
        resourcesReleased = true
        writes.removeAll()
        Glibc.close(fd)
        loop.unregister(token)
    }

    func closeForLoopStop() {
        if state == .open, !writes.isEmpty { flushWrites() }
        finish(abortive: false)
    }
}

extension EventLoop {
    /// Connects to `address` (non-blocking); `handler` gets the connection's events, and
    /// `closed` if the connection fails.
    public func connectTCP(to address: SocketAddress, limits: TCPLimits = TCPLimits(), handler: any TCPConnectionHandler) throws(ReactorError) -> TCPConnection {
        assertOnLoop()
        let type = Int32(SOCK_STREAM.rawValue) | lsfu_SOCK_CLOEXEC() | lsfu_SOCK_NONBLOCK()
        let fd = socket(address.isIPv6 ? AF_INET6 : AF_INET, type, 0)
        if fd < 0 { throw .errno("socket(TCP)") }
        _ = lsfu_set_nodelay(fd)
        var connecting = false
        let r = address.withSockAddr { Glibc.connect(fd, $0, $1) }
        if r != 0 {
            if errno == EINPROGRESS {
                connecting = true
            } else {
                let e = ReactorError.errno("connect(\(address))")
                Glibc.close(fd)
                throw e
            }
        }
        let c = TCPConnection(loop: self, fd: fd, remote: address, connecting: connecting, limits: limits)
        do {
            try c.start(handler: handler)
        } catch {
            Glibc.close(fd)
            throw error
        }
        return c
    }
}
