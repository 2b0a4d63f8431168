import CShim
import Glibc

/// A core's UDP socket: batched receives into fixed buffers, and a `DatagramQueue` of pool
/// slots handed to the kernel once per loop turn (GSO for runs of equal-sized datagrams to
/// one destination). The loop's backend performs the I/O (`recvmmsg`/`sendmmsg` on epoll,
/// RECVMSG/SENDMSG submissions on io_uring); the socket only says what it needs.
/// Core-confined: use it only on its loop.
public final class UDPSocket: Channel, DatagramQueueOwner, TurnEndObserver {
    /// The bound address (with the kernel's port if 0 was asked for).
    public let localAddress: SocketAddress
    /// Whether sends may use UDP_SEGMENT; cleared when the kernel refuses it (set it to
    /// false to send one datagram per message, e.g. to compare in a benchmark).
    public var gsoEnabled: Bool
    /// Whether a flush first groups queued datagrams by destination so GSO finds runs when a
    /// caller queues packet-major (each packet to every destination). The SFU's fan-out already
    /// queues viewer by viewer, and the grouping returns after one pass when nothing is
    /// interleaved. Datagrams to different destinations may leave in a different order than
    /// queued; each destination's own order is kept.
    public var groupsByDestination = true
    /// Whether receives use UDP_GRO (then coalesced datagrams are split before delivery).
    public let groEnabled: Bool
    /// Whether the kernel stamps each received datagram (SO_TIMESTAMPNS); see `receivedAt`.
    public let timestampsEnabled: Bool
    /// During `UDPReceiver.received`: when the kernel queued that datagram on this socket
    /// (monotonic), if `timestampsEnabled`; otherwise the loop's `now`. A load tool measures
    /// one-way latency with it, so its own backlog is not counted as the server's.
    public var receivedAt: Instant { timestampsEnabled ? kernelReceivedAt : loop.now }
    /// The datagrams waiting for the end of the loop turn. Senders may queue here directly.
    public let queue: DatagramQueue
    /// The kernel's stamp of the datagram being delivered (or `now` where it had none);
    /// only kept with `timestampsEnabled`, so other sockets do no work per datagram for it.
    private var kernelReceivedAt = Instant(nanoseconds: 0)
    /// CLOCK_REALTIME − CLOCK_MONOTONIC, read once per receive batch (kernel stamps are realtime).
    private var realtimeOffset: Int64 = 0

    unowned let loop: EventLoop
    /// The loop's backend, held directly: flushes avoid the unowned `loop` load.
    private let backend: any ReactorBackend
    let fd: Int32
    private(set) var token: UInt64 = 0
    /// The backend's own index for this socket (io_uring: names it in each operation).
    var backendIndex = -1
    private var receiver: (any UDPReceiver)?
    private(set) var isClosed = false

    // Receive side: `recvCount` buffers reused every batch (the datagram is only lent to
    // the receiver for the call). The backend receives into them.
    static let recvCount = 32
    let recvBufferSize: Int
    let recvBuffers: UnsafeMutableRawPointer
    private let recvMsgMemory: UnsafeMutableRawPointer
    let recvMsgs: OpaquePointer
    private let recvIovs: UnsafeMutablePointer<iovec>
    private let recvNames: UnsafeMutablePointer<sockaddr_storage>
    private let recvControls: UnsafeMutableRawPointer
    let recvControlSpace: Int
    private var receivedSinceBatchEnd = false
    /// Receive counts of the current batch, folded into the loop's counters once per batch.
    private var batchReceived = 0
    private var batchReceivedBytes = 0
    private var batchGRO = 0

    // Send side.
    /// 256: measured against 64, 128 and 512 in the fan-out bench at 1000 viewers; more slots
    /// per flush push the queued send slots (2 KB each) out of L2 before the kernel reads them.
    public static let queueCapacity = 256
    private var stalledTurns = 0
    /// Turns a send queue may stay blocked by EAGAIN/ENOBUFS before it is dropped.
    static let maxStalledTurns = 50
    private let grouper: DestinationGrouper
    /// Tests only: the next `injectedSendFailures` sends fail with `injectedErrno`
    /// (loopback never pushes back, so EAGAIN/ENOBUFS are simulated; epoll only).
    var injectedSendFailures = 0
    var injectedErrno: Int32 = 0

    init(loop: EventLoop, bind address: SocketAddress, receiver: any UDPReceiver, gro: Bool, reusePort: Bool,
         timestamps: Bool, queue: DatagramQueue? = nil) throws(ReactorError) {
        self.loop = loop
        backend = loop.backend
        self.receiver = receiver
        let family = address.isIPv6 ? AF_INET6 : AF_INET
        let type = Int32(SOCK_DGRAM.rawValue) | lsfu_SOCK_CLOEXEC() | loop.backend.datagramSocketFlags
        let s = socket(family, type, 0)
        if s < 0 { throw .errno("socket(UDP)") }
        if reusePort { _ = lsfu_set_reuseport(s) }
        _ = lsfu_set_socket_buffers(s, 8 << 20, 8 << 20)
        let bound = address.withSockAddr { Glibc.bind(s, $0, $1) }
        if bound != 0 {
            let e = ReactorError.errno("bind(UDP \(address))")
            Glibc.close(s)
            throw e
        }
        var storage = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(s, $0, &len) }
        }
        localAddress = withUnsafePointer(to: &storage) { SocketAddress(storage: UnsafeRawPointer($0), length: Int(len)) } ?? address
        fd = s
        groEnabled = gro && lsfu_enable_udp_gro(s) == 0
        timestampsEnabled = timestamps && lsfu_enable_timestamps(s) == 0
        gsoEnabled = lsfu_udp_segment_supported(s) != 0

        recvBufferSize = groEnabled ? 65536 : max(2048, loop.pool.slotSize)
        let n = Self.recvCount
        recvBuffers = .allocate(byteCount: n * recvBufferSize, alignment: 64)
        recvMsgMemory = .allocate(byteCount: n * lsfu_mmsghdr_size(), alignment: 16)
        recvMsgMemory.initializeMemory(as: UInt8.self, repeating: 0, count: n * lsfu_mmsghdr_size())
        recvMsgs = OpaquePointer(recvMsgMemory)
        recvIovs = .allocate(capacity: n)
        recvNames = .allocate(capacity: n)
        recvControlSpace = max(lsfu_cmsg_space_int(), 96)  // GRO int + SO_TIMESTAMPNS timespec
        recvControls = .allocate(byteCount: n * recvControlSpace, alignment: 16)
        for i in 0..<n {
            recvIovs[i] = iovec(iov_base: recvBuffers + i * recvBufferSize, iov_len: recvBufferSize)
            lsfu_mmsghdr_set(recvMsgs, UInt32(i), recvIovs + i, 1, UnsafeMutableRawPointer(recvNames + i),
                             socklen_t(MemoryLayout<sockaddr_storage>.size),
                             recvControls + i * recvControlSpace, recvControlSpace)
        }
        let queue = queue ?? DatagramQueue(pool: loop.pool, capacity: Self.queueCapacity)
        self.queue = queue
        grouper = DestinationGrouper(capacity: queue.capacity)
        queue.owner = self
    }

    deinit {
        recvBuffers.deallocate()
        recvMsgMemory.deallocate()
        recvIovs.deallocate()
        recvNames.deallocate()
        recvControls.deallocate()
    }

    /// Registers with the loop and starts receiving.
    func start() throws(ReactorError) {
        token = loop.register(self)
        do {
            try backend.startReceiving(self)
        } catch {
            loop.unregister(token)
            throw error
        }
        loop.addTurnEndObserver(self)
    }

    /// Datagrams queued and not yet handed to the kernel.
    public var pendingSendCount: Int { queue.pendingCount }

    // MARK: receive (driven by the backend)

    func ready(_ events: UInt32) {
        guard !isClosed else { return }
        backend.receiveReady(self)
    }

    /// Message `i` of the receive buffers, for a backend that resets and resubmits it alone.
    func receiveMessage(_ i: Int) -> OpaquePointer {
        OpaquePointer(recvMsgMemory + i * lsfu_mmsghdr_size())
    }

    /// The start of a receive batch (reads the clock offset once for kernel timestamps).
    @inline(__always)
    func receiveBatchStarted() {
        if timestampsEnabled { realtimeOffset = lsfu_realtime_minus_monotonic_ns() }
    }

    /// The kernel filled receive buffer `i` with `length` bytes (message flags `flags`).
    func deliver(slot i: Int, length: Int, flags: Int32, now: Instant) {
        if flags & lsfu_MSG_TRUNC() != 0 {
            loop.counters.udpTruncated &+= 1
            return
        }
        if flags & lsfu_MSG_CTRUNC() != 0 {
            loop.counters.udpControlTruncated &+= 1
            return
        }
        guard let receiver,
              let from = SocketAddress(storage: UnsafeRawPointer(recvNames + i),
                                       length: Int(lsfu_mmsghdr_namelen(recvMsgs, UInt32(i))))
        else { return }
        let base = recvBuffers + i * recvBufferSize
        if timestampsEnabled {
            let real = lsfu_cmsg_get_timestamp_ns(recvControls + i * recvControlSpace,
                                                  lsfu_mmsghdr_controllen(recvMsgs, UInt32(i)))
            kernelReceivedAt = real > realtimeOffset ? Instant(nanoseconds: UInt64(real - realtimeOffset)) : now
        }
        var segment = 0
        if groEnabled {
            segment = Int(lsfu_cmsg_get_udp_gro(recvControls + i * recvControlSpace,
                                                lsfu_mmsghdr_controllen(recvMsgs, UInt32(i))))
        }
        if segment > 0, length > segment {
            // GRO coalesced equal-sized datagrams (the last may be shorter): split them back.
            batchGRO &+= 1
            var offset = 0
            while offset < length, !isClosed {
                let n = min(segment, length - offset)
                batchReceived &+= 1
                batchReceivedBytes &+= n
                receiver.received(UnsafeMutableRawBufferPointer(start: base + offset, count: n), from: from, on: self, now: now)
                offset += n
            }
        } else {
            batchReceived &+= 1
            batchReceivedBytes &+= length
            receiver.received(UnsafeMutableRawBufferPointer(start: base, count: length), from: from, on: self, now: now)
        }
        receivedSinceBatchEnd = true
    }

    /// A whole batch was delivered (epoll; io_uring's batch ends with the loop turn).
    func receiveBatchEnded(now: Instant) {
        foldReceiveCounters()
        guard !isClosed else { return }
        receivedSinceBatchEnd = false
        receiver?.batchEnded(on: self, now: now)
    }

    private func foldReceiveCounters() {
        guard batchReceived > 0 || batchGRO > 0 else { return }
        loop.counters.udpReceiveBatches &+= 1
        loop.counters.udpReceived &+= batchReceived
        loop.counters.udpReceivedBytes &+= batchReceivedBytes
        loop.counters.udpGROReceives &+= batchGRO
        batchReceived = 0
        batchReceivedBytes = 0
        batchGRO = 0
    }

    // MARK: send

    /// Reserves a pooled buffer of `capacity` bytes, lets `write` fill it and queues the
    /// length it returns (0 cancels). False when the datagram was dropped (queue full, no
    /// slot, socket closed) — counted, never blocking. Same as `queue.send`.
    @discardableResult
    @inline(__always)
    public func send(to address: SocketAddress, capacity: Int = 1500, _ write: (UnsafeMutableRawBufferPointer) -> Int) -> Bool {
        assert(loop.isOnOwnerThread, "UDPSocket.send off its loop's thread")
        return queue.send(to: address, capacity: capacity, write)
    }

    /// Queues a copy of `bytes` for `address`.
    @discardableResult
    public func send(_ bytes: UnsafeRawBufferPointer, to address: SocketAddress) -> Bool {
        assert(loop.isOnOwnerThread, "UDPSocket.send off its loop's thread")
        return queue.send(bytes, to: address)
    }

    public func queueIsFull(_ queue: DatagramQueue) { flush() }

    public func queueDropped(_ queue: DatagramQueue, poolExhausted: Bool) {
        loop.counters.udpSendDropped &+= 1
        if poolExhausted { loop.counters.poolExhausted &+= 1 }
    }

    /// End of a loop turn: tells the receiver a batch ended (io_uring) and flushes sends.
    /// Returns true if datagrams are still queued (the kernel pushed back).
    func turnEnded() -> Bool {
        foldReceiveCounters()
        if receivedSinceBatchEnd {
            receivedSinceBatchEnd = false
            receiver?.batchEnded(on: self, now: loop.now)
        }
        if queue.pendingCount > 0 { flush() }
        return queue.pendingCount > 0
    }

    /// Hands queued datagrams to the kernel now (normally done once per loop turn).
    public func flush() {
        assert(loop.isOnOwnerThread, "UDPSocket.flush off its loop's thread")
        guard queue.pendingCount > 0, !isClosed else { return }
        if gsoEnabled, groupsByDestination { grouper.group(queue.entries, count: queue.pendingCount) }
        backend.sendQueued(self)
    }

    // MARK: send accounting (called by the backend)

    /// The kernel took `datagrams` datagrams (`bytes` bytes) in `messages` messages, of which
    /// `gsoMessages` segmented.
    @inline(__always)
    func noteSent(datagrams: Int, bytes: Int, messages: Int, gsoMessages: Int) {
        loop.counters.udpSent &+= datagrams
        loop.counters.udpSentBytes &+= bytes
        loop.counters.udpSendMessages &+= messages
        loop.counters.udpGSOSends &+= gsoMessages
        stalledTurns = 0
    }

    /// A send call failed with `e` on the queue's first message (carrying `datagrams`
    /// datagrams, segmented or not). Counts it, drops what must be dropped; returns true if
    /// flushing should go on now.
    func sendFailed(_ e: Int32, firstMessageSegmented: Bool, datagrams: Int) -> Bool {
        if e == EAGAIN || e == EWOULDBLOCK || e == ENOBUFS {
            if e == ENOBUFS { loop.counters.udpSendNoBuffers &+= 1 } else { loop.counters.udpSendWouldBlock &+= 1 }
            stalledTurns += 1
            if stalledTurns > Self.maxStalledTurns {
                loop.counters.udpSendDropped &+= queue.pendingCount
                queue.release(queue.pendingCount)
                stalledTurns = 0
            }
            return false
        }
        if firstMessageSegmented, disableGSO(e) { return true }
        if datagrams > 0 {
            loop.counters.udpSendErrors &+= datagrams
            queue.release(datagrams)
            return true
        }
        return false
    }

    /// The kernel cannot segment here (`e` is what a UDP_SEGMENT send returns then): send
    /// datagrams one by one from now on. False if `e` is another error.
    func disableGSO(_ e: Int32) -> Bool {
        guard e == EIO || e == EINVAL || e == EMSGSIZE || e == EOPNOTSUPP else { return false }
        if gsoEnabled { loop.counters.udpGSOFallbacks &+= 1 }
        gsoEnabled = false
        return true
    }

    /// Takes one injected failure (tests), if any is left.
    func takeInjectedFailure() -> Int32? {
        guard injectedSendFailures > 0 else { return nil }
        injectedSendFailures -= 1
        return injectedErrno
    }

    // MARK: close

    /// Flushes what the kernel takes now, then closes. The receiver is released.
    public func close() {
        loop.assertOnLoop()
        guard !isClosed else { return }
        flush()
        isClosed = true
        receiver = nil
        if queue.pendingCount > 0 {
            loop.counters.udpSendDropped &+= queue.pendingCount
            queue.release(queue.pendingCount)
        }
        loop.removeTurnEndObserver(self)
        backend.stopDatagrams(self)
    }

    /// The backend holds nothing of this socket any more and closed its descriptor.
    func finishClose() {
        loop.unregister(token)
    }

    func closeForLoopStop() { close() }
}

extension EventLoop {
    /// Opens a UDP socket bound to `bind` on this loop; datagrams go to `receiver`.
    /// `gro` asks the kernel to coalesce (the socket splits them again before delivery).
    /// `timestamps` turns on the kernel's receive time (`UDPSocket.receivedAt`).
    /// Each core normally binds its own port (DESIGN §1).
    public func openUDP(bind: SocketAddress, receiver: any UDPReceiver, gro: Bool = false, reusePort: Bool = false,
                        timestamps: Bool = false) throws(ReactorError) -> UDPSocket {
        assertOnLoop()
        let s = try UDPSocket(loop: self, bind: bind, receiver: receiver, gro: gro, reusePort: reusePort,
                              timestamps: timestamps)
        try s.start()
        return s
    }
}
