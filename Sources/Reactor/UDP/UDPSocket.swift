import CShim
import Glibc

/// A core's UDP socket: batched receive (`recvmmsg`, or io_uring RECVMSGs) into fixed
/// buffers, and a send queue of pool slots flushed once per loop turn with `sendmmsg` (or
/// io_uring SENDMSGs), GSO for runs of equal-sized datagrams to one destination.
/// Core-confined: use it only on its loop.
public final class UDPSocket: Channel {
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
    /// The kernel's stamp of the datagram being delivered (or `now` where it had none);
    /// only kept with `timestampsEnabled`, so other sockets do no work per datagram for it.
    private var kernelReceivedAt = Instant(nanoseconds: 0)
    /// CLOCK_REALTIME − CLOCK_MONOTONIC, read once per receive batch (kernel stamps are realtime).
    private var realtimeOffset: Int64 = 0

    unowned let loop: EventLoop
    /// The loop's pool, held directly: per-datagram code avoids the unowned `loop` load.
    private let pool: BufferPool
    let fd: Int32
    private var token: UInt64 = 0
    private var receiver: (any UDPReceiver)?
    private(set) var isClosed = false

    // Receive side: `recvCount` buffers reused every batch (the datagram is only lent to
    // the receiver for the call).
    static let recvCount = 32
    private let recvBufferSize: Int
    private let recvBuffers: UnsafeMutableRawPointer
    private let recvMsgMemory: UnsafeMutableRawPointer
    private let recvMsgs: OpaquePointer
    private let recvIovs: UnsafeMutablePointer<iovec>
    private let recvNames: UnsafeMutablePointer<sockaddr_storage>
    private let recvControls: UnsafeMutableRawPointer
    private let recvControlSpace: Int
    private var receivedSinceBatchEnd = false
    /// Receive counts of the current batch, folded into the loop's counters once per batch.
    private var batchReceived = 0
    private var batchReceivedBytes = 0
    private var batchGRO = 0

    // Send side.
    /// 256: measured against 64, 128 and 512 in the fan-out bench at 1000 viewers; more slots
    /// per flush push the queued send slots (2 KB each) out of L2 before the kernel reads them.
    static let queueCapacity = 256
    private let queue: UnsafeMutablePointer<PendingDatagram>
    private var queueCount = 0
    private var stalledTurns = 0
    /// Turns a send queue may stay blocked by EAGAIN/ENOBUFS before it is dropped.
    static let maxStalledTurns = 50
    private let batch: DatagramBatch
    private let grouper = DestinationGrouper(capacity: UDPSocket.queueCapacity)
    /// io_uring: batches in flight (their slots return when every message completed).
    private var uringBatches: [DatagramBatch] = []
    private var outstanding = 0
    /// Tests only: the next `injectedSendFailures` sendmmsg calls fail with `injectedErrno`.
    var injectedSendFailures = 0
    var injectedErrno: Int32 = 0

    init(loop: EventLoop, bind address: SocketAddress, receiver: any UDPReceiver, gro: Bool, reusePort: Bool,
         timestamps: Bool) throws(ReactorError) {
        self.loop = loop
        self.pool = loop.pool
        self.receiver = receiver
        let onUring = loop.uring != nil
        let family = address.isIPv6 ? AF_INET6 : AF_INET
        let type = Int32(SOCK_DGRAM.rawValue) | lsfu_SOCK_CLOEXEC() | (onUring ? 0 : lsfu_SOCK_NONBLOCK())
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
        queue = .allocate(capacity: Self.queueCapacity)
        batch = DatagramBatch(capacity: Self.queueCapacity)
        if onUring {
            for _ in 0..<4 { uringBatches.append(DatagramBatch(capacity: 128)) }
        }
    }

    deinit {
        recvBuffers.deallocate()
        recvMsgMemory.deallocate()
        recvIovs.deallocate()
        recvNames.deallocate()
        recvControls.deallocate()
        queue.deallocate()
    }

    /// Registers with the loop and starts receiving.
    func start() throws(ReactorError) {
        token = loop.register(self)
        if let u = loop.uring {
            for i in 0..<Self.recvCount { submitReceive(u, slot: i) }
        } else {
            do {
                try loop.backend.watch(fd: fd, token: token, readable: true, writable: false)
            } catch {
                loop.unregister(token)
                throw error
            }
        }
        loop.udpSockets.append(self)
    }

    /// Datagrams queued and not yet handed to the kernel.
    public var pendingSendCount: Int { queueCount }

    // MARK: receive

    func ready(_ events: UInt32) {
        guard !isClosed else { return }
        // Bounded rounds per wake-up so one busy socket cannot starve timers and the mailbox.
        for _ in 0..<8 {
            lsfu_mmsghdr_reset_recv(recvMsgs, UInt32(Self.recvCount),
                                    socklen_t(MemoryLayout<sockaddr_storage>.size), recvControlSpace)
            let n = Int(lsfu_recvmmsg(fd, recvMsgs, UInt32(Self.recvCount), lsfu_MSG_DONTWAIT()))
            if n <= 0 { break }
            let now = loop.now
            if timestampsEnabled { realtimeOffset = lsfu_realtime_minus_monotonic_ns() }
            for i in 0..<n {
                deliver(slot: i, length: Int(lsfu_mmsghdr_len(recvMsgs, UInt32(i))),
                        flags: lsfu_mmsghdr_flags(recvMsgs, UInt32(i)), now: now)
                if isClosed { break }
            }
            foldReceiveCounters()
            if isClosed { return }
            receivedSinceBatchEnd = false
            receiver?.batchEnded(on: self, now: now)
            if n < Self.recvCount || isClosed { break }
        }
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

    private func deliver(slot i: Int, length: Int, flags: Int32, now: Instant) {
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

    private func submitReceive(_ u: URingBackend, slot i: Int) {
        lsfu_mmsghdr_reset_recv(OpaquePointer(recvMsgMemory + i * lsfu_mmsghdr_size()), 1,
                                socklen_t(MemoryLayout<sockaddr_storage>.size), recvControlSpace)
        if u.submitRecvmsg(fd: fd, msg: lsfu_mmsghdr_msghdr(recvMsgs, UInt32(i)),
                           userData: Token.withOp(token, op: IOOp.recv, arg: UInt16(i))) {
            outstanding += 1
        }
    }

    func completed(op: UInt8, arg: UInt16, result: Int32, flags: UInt32) {
        outstanding -= 1
        if op == IOOp.recv {
            let i = Int(arg)
            if !isClosed {
                if result >= 0 {
                    if timestampsEnabled { realtimeOffset = lsfu_realtime_minus_monotonic_ns() }
                    deliver(slot: i, length: Int(result), flags: lsfu_mmsghdr_flags(recvMsgs, UInt32(i)), now: loop.now)
                }
                if !isClosed, let u = loop.uring { submitReceive(u, slot: i) }
            }
        } else if op == IOOp.send {
            sendCompleted(batchIndex: Int(arg >> 10), message: Int(arg & 0x3FF), result: result)
        }
        if isClosed, outstanding == 0 { finishClose() }
    }

    // MARK: send

    /// Reserves a pooled buffer of `capacity` bytes, lets `write` fill it and queues the
    /// length it returns (0 cancels). False when the datagram was dropped (queue full, no
    /// slot, socket closed) — counted, never blocking.
    @discardableResult
    public func send(to address: SocketAddress, capacity: Int = 1500, _ write: (UnsafeMutableRawBufferPointer) -> Int) -> Bool {
        guard !isClosed else { return false }
        if queueCount == Self.queueCapacity {
            flush()
            if queueCount == Self.queueCapacity {
                loop.counters.udpSendDropped &+= 1
                return false
            }
        }
        guard capacity > 0, capacity <= pool.slotSize else {
            loop.counters.udpSendDropped &+= 1
            return false
        }
        guard let slot = pool.take() else {
            loop.counters.poolExhausted &+= 1
            loop.counters.udpSendDropped &+= 1
            return false
        }
        let n = write(UnsafeMutableRawBufferPointer(start: pool.pointer(slot), count: capacity))
        guard n > 0, n <= capacity else {
            pool.give(slot)
            return false
        }
        queue[queueCount] = PendingDatagram(slot: slot, length: Int32(n), address: address)
        queueCount += 1
        return true
    }

    /// Queues a copy of `bytes` for `address`.
    @discardableResult
    public func send(_ bytes: UnsafeRawBufferPointer, to address: SocketAddress) -> Bool {
        send(to: address, capacity: max(bytes.count, 1)) { buf in
            guard let src = bytes.baseAddress, bytes.count > 0 else { return 0 }
            buf.baseAddress!.copyMemory(from: src, byteCount: bytes.count)
            return bytes.count
        }
    }

    /// End of a loop turn: tells the receiver a batch ended (io_uring) and flushes sends.
    /// Returns true if datagrams are still queued (the kernel pushed back).
    func endOfTurn() -> Bool {
        foldReceiveCounters()
        if receivedSinceBatchEnd {
            receivedSinceBatchEnd = false
            receiver?.batchEnded(on: self, now: loop.now)
        }
        if queueCount > 0 { flush() }
        return queueCount > 0
    }

    /// Hands queued datagrams to the kernel now (normally done once per loop turn).
    public func flush() {
        guard queueCount > 0, !isClosed else { return }
        if gsoEnabled, groupsByDestination { grouper.group(queue, count: queueCount) }
        if let u = loop.uring { flushURing(u) } else { flushEpoll() }
    }

    private func removeFromQueue(_ k: Int) {
        guard k > 0 else { return }
        queueCount -= k
        if queueCount > 0 {
            // Overlapping regions: memmove (PendingDatagram is plain data).
            memmove(queue, queue + k, queueCount * MemoryLayout<PendingDatagram>.stride)
        }
    }

    private func releaseQueued(_ k: Int) {
        for i in 0..<k { pool.give(queue[i].slot) }
        removeFromQueue(k)
    }

    private func flushEpoll() {
        while queueCount > 0 {
            _ = batch.build(queue, count: queueCount, pool: pool, gso: gsoEnabled)
            let messages = batch.messages
            let r: Int
            if injectedSendFailures > 0 {
                // Tests: loopback never pushes back, so EAGAIN/ENOBUFS are simulated here.
                injectedSendFailures -= 1
                errno = injectedErrno
                r = -1
            } else {
                r = Int(lsfu_sendmmsg(fd, batch.msgs, UInt32(messages), lsfu_MSG_DONTWAIT()))
            }
            loop.counters.udpSendCalls &+= 1
            if r > 0 {
                var sent = 0
                for m in 0..<r {
                    sent += Int(batch.datagramsPerMessage[m])
                    if batch.segmented[m] { loop.counters.udpGSOSends &+= 1 }
                }
                var bytes = 0
                for i in 0..<sent { bytes += Int(queue[i].length) }
                loop.counters.udpSent &+= sent
                loop.counters.udpSentBytes &+= bytes
                releaseQueued(sent)
                stalledTurns = 0
                // A partial batch: the next call starts at the message that failed and
                // reports its error.
                continue
            }
            let e = errno
            if e == EINTR { continue }
            let first = Int(batch.datagramsPerMessage[0])
            if !handleSendError(e, firstMessageSegmented: batch.segmented[0], datagrams: first) { return }
        }
    }

    /// Counts a send error; returns true if flushing should go on now.
    private func handleSendError(_ e: Int32, firstMessageSegmented: Bool, datagrams: Int) -> Bool {
        if e == EAGAIN || e == EWOULDBLOCK || e == ENOBUFS {
            if e == ENOBUFS { loop.counters.udpSendNoBuffers &+= 1 } else { loop.counters.udpSendWouldBlock &+= 1 }
            stalledTurns += 1
            if stalledTurns > Self.maxStalledTurns {
                loop.counters.udpSendDropped &+= queueCount
                releaseQueued(queueCount)
                stalledTurns = 0
            }
            return false
        }
        if firstMessageSegmented, e == EIO || e == EINVAL || e == EMSGSIZE || e == EOPNOTSUPP {
            // The device or route cannot segment: send datagrams one by one from now on.
            gsoEnabled = false
            loop.counters.udpGSOFallbacks &+= 1
            return true
        }
        if datagrams > 0 {
            loop.counters.udpSendErrors &+= datagrams
            releaseQueued(datagrams)
            return true
        }
        return false
    }

    private func flushURing(_ u: URingBackend) {
        for b in 0..<uringBatches.count where queueCount > 0 {
            let batch = uringBatches[b]
            if batch.inFlight != 0 { continue }
            let used = batch.build(queue, count: queueCount, pool: pool, gso: gsoEnabled)
            batch.owned.update(from: queue, count: used)
            batch.ownedCount = used
            removeFromQueue(used)
            for m in 0..<batch.messages {
                let data = Token.withOp(token, op: IOOp.send, arg: UInt16(b << 10 | m))
                if u.submitSendmsg(fd: fd, msg: batch.msghdr(m), flags: UInt32(lsfu_MSG_DONTWAIT()), userData: data) {
                    batch.inFlight += 1
                    outstanding += 1
                } else {
                    loop.counters.udpSendDropped &+= Int(batch.datagramsPerMessage[m])
                }
            }
            loop.counters.udpSendCalls &+= 1
            if batch.inFlight == 0 { releaseOwned(batch) }
        }
    }

    private func sendCompleted(batchIndex: Int, message m: Int, result: Int32) {
        guard batchIndex < uringBatches.count else { return }
        let b = uringBatches[batchIndex]
        let n = Int(b.datagramsPerMessage[m])
        if result >= 0 {
            loop.counters.udpSent &+= n
            loop.counters.udpSentBytes &+= Int(result)
            if b.segmented[m] { loop.counters.udpGSOSends &+= 1 }
        } else {
            let e = -result
            if e == EAGAIN || e == EWOULDBLOCK {
                loop.counters.udpSendWouldBlock &+= 1
            } else if e == ENOBUFS {
                loop.counters.udpSendNoBuffers &+= 1
            } else if b.segmented[m], e == EIO || e == EINVAL || e == EMSGSIZE || e == EOPNOTSUPP {
                // The kernel cannot segment here: put the run back as single datagrams.
                if gsoEnabled { loop.counters.udpGSOFallbacks &+= 1 }
                gsoEnabled = false
                let first = b.datagrams(inFirst: m)
                if !isClosed, queueCount + n <= Self.queueCapacity {
                    for k in 0..<n {
                        queue[queueCount] = b.owned[first + k]
                        queueCount += 1
                        b.owned[first + k].slot = -1  // now owned by the queue again
                    }
                    b.inFlight -= 1
                    if b.inFlight == 0 { releaseOwned(b) }
                    return
                }
            } else if e != ECANCELED {
                loop.counters.udpSendErrors &+= n
            }
            loop.counters.udpSendDropped &+= n
        }
        b.inFlight -= 1
        if b.inFlight == 0 { releaseOwned(b) }
    }

    private func releaseOwned(_ b: DatagramBatch) {
        for i in 0..<b.ownedCount where b.owned[i].slot >= 0 { pool.give(b.owned[i].slot) }
        b.ownedCount = 0
    }

    // MARK: close

    /// Flushes what the kernel takes now, then closes. The receiver is released.
    public func close() {
        guard !isClosed else { return }
        flush()
        isClosed = true
        receiver = nil
        if queueCount > 0 {
            loop.counters.udpSendDropped &+= queueCount
            releaseQueued(queueCount)
        }
        if let i = loop.udpSockets.firstIndex(where: { $0 === self }) { loop.udpSockets.remove(at: i) }
        if let u = loop.uring, outstanding > 0 {
            u.cancelAll(fd: fd)
            u.submitNow()
        } else {
            finishClose()
        }
    }

    private func finishClose() {
        if loop.uring == nil { loop.backend.unwatch(fd: fd, token: token) }
        Glibc.close(fd)
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
        let s = try UDPSocket(loop: self, bind: bind, receiver: receiver, gro: gro, reusePort: reusePort,
                              timestamps: timestamps)
        try s.start()
        return s
    }
}
