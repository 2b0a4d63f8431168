import CShim
import CURing
import Glibc

/// io_uring: the kernel performs a UDP socket's receives (`recvCount` RECVMSGs kept armed)
/// and sends (one SENDMSG per message of a batch); readiness for everything else is a
/// one-shot poll re-armed after each event, which gives epoll's level-triggered behaviour.
///
/// A send holds its pool slots and its batch until its completion. Completions are normally
/// taken once per turn, so a turn that queues more than the batches carry (a fan-out to a few
/// hundred viewers of a receive batch) submits what is waiting and takes the send
/// completions at once (`collectSendCompletions`) instead of dropping the rest: a UDP send
/// completes inside `io_uring_enter`, so the batches come back without waiting.
final class URingBackend: ReactorBackend {
    let kind = BackendKind.iouring
    private let ring: UnsafeMutablePointer<io_uring>
    private var isShutdown = false

    /// Completions taken from the ring and not yet dispatched: `[cursor..<count]`.
    private let completionCapacity: Int
    private let datas: UnsafeMutablePointer<UInt64>
    private let results: UnsafeMutablePointer<Int32>
    private let flags: UnsafeMutablePointer<UInt32>
    private var cursor = 0
    private var count = 0

    /// Readiness watches: fd, poll mask and the generation that tags the armed poll (a poll
    /// replaced by `rewatch` may still complete: its old generation is ignored).
    private var watches: [UInt64: (fd: Int32, mask: UInt32, generation: UInt16)] = [:]

    /// Per UDP socket: its operations in flight, so it closes only when the kernel is done.
    private final class DatagramState {
        unowned let socket: UDPSocket
        var outstanding = 0
        var closing = false
        init(_ socket: UDPSocket) { self.socket = socket }
    }
    /// By `UDPSocket.backendIndex`, carried in each operation's user data.
    private var datagramSockets: [DatagramState?] = []
    private var freeDatagramIndexes: [Int] = []
    /// Operations in flight on every socket (polls and cancels excluded).
    private var outstanding = 0

    /// Send batches shared by the ring's sockets; a batch is busy from its submission until
    /// its last message completed. 8 × 128 datagrams: a few flushes in flight while the
    /// next one is built; more only hold more slots.
    static let sendBatchCount = 8
    static let sendBatchCapacity = 128
    private let sendBatches: [DatagramBatch]
    /// The socket index each busy batch belongs to.
    private var sendBatchOwner: [Int]
    private var freeSendBatches: [Int]

    private static let pollIn: UInt32 = 0x001
    private static let pollOut: UInt32 = 0x004
    private static let pollErrHup: UInt32 = 0x008 | 0x010
    private static let pollRdHup: UInt32 = 0x2000

    /// Whether a ring can be created at all (checked once per process).
    static let probe: Bool = {
        guard let b = try? URingBackend(entries: 4) else { return false }
        b.shutdown()
        return true
    }()

    init(entries: UInt32 = 4096) throws(ReactorError) {
        ring = UnsafeMutableRawPointer.allocate(byteCount: Int(lsfu_io_uring_size()), alignment: 64)
            .bindMemory(to: io_uring.self, capacity: 1)
        let r = io_uring_queue_init(entries, ring, 0)
        if r < 0 {
            ring.deallocate()
            throw .backendUnavailable("io_uring_queue_init: \(String(cString: strerror(-r)))")
        }
        // As many as the completion queue holds (twice the submission queue).
        completionCapacity = Int(entries) * 2
        datas = .allocate(capacity: completionCapacity)
        results = .allocate(capacity: completionCapacity)
        flags = .allocate(capacity: completionCapacity)
        sendBatches = (0..<Self.sendBatchCount).map { _ in DatagramBatch(capacity: Self.sendBatchCapacity) }
        sendBatchOwner = Array(repeating: -1, count: Self.sendBatchCount)
        freeSendBatches = Array((0..<Self.sendBatchCount).reversed())
    }

    deinit {
        if !isShutdown { io_uring_queue_exit(ring) }
        ring.deallocate()
        datas.deallocate()
        results.deallocate()
        flags.deallocate()
    }

    // MARK: readiness

    func watch(fd: Int32, token: UInt64, readable: Bool, writable: Bool) throws(ReactorError) {
        let mask = (readable ? Self.pollIn | Self.pollRdHup : 0) | (writable ? Self.pollOut : 0) | Self.pollErrHup
        let generation = (watches[token]?.generation ?? 0) &+ 1
        watches[token] = (fd, mask, generation)
        addPoll(fd: fd, token: token, mask: mask, generation: generation)
    }

    func rewatch(fd: Int32, token: UInt64, readable: Bool, writable: Bool) {
        if let old = watches[token] { removePoll(token, generation: old.generation) }
        try? watch(fd: fd, token: token, readable: readable, writable: writable)
    }

    func unwatch(fd: Int32, token: UInt64) {
        if let old = watches.removeValue(forKey: token) { removePoll(token, generation: old.generation) }
    }

    private func addPoll(fd: Int32, token: UInt64, mask: UInt32, generation: UInt16) {
        guard let sqe = lsfu_get_sqe(ring) else { return }
        io_uring_prep_poll_add(sqe, fd, mask)
        io_uring_sqe_set_data64(sqe, Token.withOp(token, op: IOOp.poll, arg: generation))
    }

    private func removePoll(_ token: UInt64, generation: UInt16) {
        guard let sqe = lsfu_get_sqe(ring) else { return }
        io_uring_prep_poll_remove(sqe, Token.withOp(token, op: IOOp.poll, arg: generation))
        io_uring_sqe_set_data64(sqe, Token.withOp(0, op: IOOp.pollRemove))
    }

    /// A poll fired: deliver it, then re-arm it unless the channel changed or dropped its
    /// watch meanwhile (level-triggered: still-ready fires again at once).
    private func pollCompleted(_ data: UInt64, result: Int32, loop: EventLoop) {
        let token = data & 0xFF_FFFF_FFFF
        let generation = Token.arg(data)
        guard let w = watches[token], w.generation == generation else { return }
        if result >= 0 { loop.deliverReadiness(token: token, events: UInt32(result)) }
        if let now = watches[token], now.generation == generation {
            addPoll(fd: now.fd, token: token, mask: now.mask, generation: generation)
        }
    }

    // MARK: datagrams

    var datagramSocketFlags: Int32 { 0 }  // blocking: a send the socket cannot take yet waits in the kernel

    func startReceiving(_ socket: UDPSocket) throws(ReactorError) {
        let index: Int
        if let f = freeDatagramIndexes.popLast() {
            index = f
            datagramSockets[f] = DatagramState(socket)
        } else {
            index = datagramSockets.count
            datagramSockets.append(DatagramState(socket))
        }
        socket.backendIndex = index
        for i in 0..<UDPSocket.recvCount { submitReceive(datagramSockets[index]!, index: index, slot: i) }
    }

    func receiveReady(_ socket: UDPSocket) {}

    private func submitReceive(_ state: DatagramState, index: Int, slot i: Int) {
        let socket = state.socket
        let message = socket.receiveMessage(i)
        lsfu_mmsghdr_reset_recv(message, 1, socklen_t(MemoryLayout<sockaddr_storage>.size), socket.recvControlSpace)
        guard let sqe = lsfu_get_sqe(ring) else { return }
        io_uring_prep_recvmsg(sqe, socket.fd, lsfu_mmsghdr_msghdr(message, 0), 0)
        io_uring_sqe_set_data64(sqe, Token.withOp(UInt64(index), op: IOOp.recv, arg: UInt16(i)))
        state.outstanding += 1
        outstanding += 1
    }

    private func receiveCompleted(_ data: UInt64, result: Int32) {
        let index = Token.index(data)
        guard index < datagramSockets.count, let state = datagramSockets[index] else { return }
        state.outstanding -= 1
        outstanding -= 1
        let socket = state.socket
        let slot = Int(Token.arg(data))
        if !state.closing {
            if result >= 0 {
                socket.receiveBatchStarted()
                socket.deliver(slot: slot, length: Int(result), flags: lsfu_mmsghdr_flags(socket.recvMsgs, UInt32(slot)),
                               now: socket.loop.now)
            }
            if !state.closing { submitReceive(state, index: index, slot: slot) }
        }
        if state.closing, state.outstanding == 0 { finishClose(state, index: index) }
    }

    func sendQueued(_ socket: UDPSocket) {
        let index = socket.backendIndex
        guard index >= 0, let state = datagramSockets[index] else { return }
        let queue = socket.queue
        while queue.pendingCount > 0 {
            if freeSendBatches.isEmpty {
                // Every batch is in flight: let the kernel run them now rather than drop.
                collectSendCompletions()
                if freeSendBatches.isEmpty || queue.pendingCount == 0 { break }
            }
            let b = freeSendBatches.removeLast()
            let batch = sendBatches[b]
            sendBatchOwner[b] = index
            let used = batch.build(queue.entries, count: queue.pendingCount, pool: queue.pool, gso: socket.gsoEnabled)
            batch.owned.update(from: queue.entries, count: used)
            batch.ownedCount = used
            queue.remove(used)
            for m in 0..<batch.messages {
                guard let sqe = lsfu_get_sqe(ring) else {
                    socket.loop.counters.udpSendDropped &+= Int(batch.datagramsPerMessage[m])
                    continue
                }
                io_uring_prep_sendmsg(sqe, socket.fd, batch.msghdr(m), 0)
                io_uring_sqe_set_data64(sqe, Token.withOp(UInt64(index), op: IOOp.send, arg: UInt16(b << 10 | m)))
                batch.inFlight += 1
                state.outstanding += 1
                outstanding += 1
            }
            socket.loop.counters.udpSendCalls &+= 1
            if batch.inFlight == 0 { release(batch: b) }
        }
    }

    /// Submits what is queued and takes the completions the kernel already posted: send
    /// completions are handled now (their batches and slots come back), the others wait in
    /// order for `dispatch`. Stops early if that store is full.
    private func collectSendCompletions() {
        _ = io_uring_submit(ring)
        while count < completionCapacity {
            let n = Int(lsfu_reap(ring, datas + count, results + count, flags + count, UInt32(completionCapacity - count)))
            if n == 0 { return }
            var kept = count
            for i in count..<(count + n) {
                if Token.op(datas[i]) == IOOp.send {
                    sendCompleted(datas[i], result: results[i])
                } else {
                    datas[kept] = datas[i]
                    results[kept] = results[i]
                    flags[kept] = flags[i]
                    kept += 1
                }
            }
            count = kept
        }
    }

    private func sendCompleted(_ data: UInt64, result: Int32) {
        let arg = Token.arg(data)
        let b = Int(arg >> 10), m = Int(arg & 0x3FF)
        let index = Token.index(data)
        guard b < sendBatches.count, index < datagramSockets.count, let state = datagramSockets[index] else { return }
        let batch = sendBatches[b]
        let socket = state.socket
        let loop = socket.loop
        let n = Int(batch.datagramsPerMessage[m])
        if result >= 0 {
            socket.noteSent(datagrams: n, bytes: Int(result), messages: 1, gsoMessages: batch.segmented[m] ? 1 : 0)
        } else {
            let e = -result
            let first = batch.datagrams(inFirst: m)
            let retry = (e == EAGAIN || e == EWOULDBLOCK || e == ENOBUFS || (batch.segmented[m] && socket.disableGSO(e)))
            if e == ENOBUFS {
                loop.counters.udpSendNoBuffers &+= 1
            } else if e == EAGAIN || e == EWOULDBLOCK {
                loop.counters.udpSendWouldBlock &+= 1
            }
            if retry, !state.closing, socket.queue.append(batch.owned + first, count: n) {
                // Back in the queue (its slots with it) for the next flush.
                for k in 0..<n { batch.owned[first + k].slot = -1 }
            } else {
                if !retry, e != ECANCELED { loop.counters.udpSendErrors &+= n }
                loop.counters.udpSendDropped &+= n
            }
        }
        batch.inFlight -= 1
        if batch.inFlight == 0 { release(batch: b) }
        state.outstanding -= 1
        outstanding -= 1
        if state.closing, state.outstanding == 0 { finishClose(state, index: index) }
    }

    private func release(batch b: Int) {
        let batch = sendBatches[b]
        guard let state = datagramSockets[sendBatchOwner[b]] else { return }
        let pool = state.socket.queue.pool
        for i in 0..<batch.ownedCount where batch.owned[i].slot >= 0 { pool.give(batch.owned[i].slot) }
        batch.ownedCount = 0
        sendBatchOwner[b] = -1
        freeSendBatches.append(b)
    }

    func stopDatagrams(_ socket: UDPSocket) {
        let index = socket.backendIndex
        guard index >= 0, let state = datagramSockets[index] else { return }
        state.closing = true
        if state.outstanding > 0 {
            // Every operation completes (-ECANCELED or its result) before the fd closes.
            if let sqe = lsfu_get_sqe(ring) {
                io_uring_prep_cancel_fd(sqe, socket.fd, lsfu_IORING_ASYNC_CANCEL_ALL())
                io_uring_sqe_set_data64(sqe, Token.withOp(0, op: IOOp.cancel))
            }
            _ = io_uring_submit(ring)
        } else {
            finishClose(state, index: index)
        }
    }

    private func finishClose(_ state: DatagramState, index: Int) {
        let socket = state.socket
        datagramSockets[index] = nil
        freeDatagramIndexes.append(index)
        socket.backendIndex = -1
        Glibc.close(socket.fd)
        socket.finishClose()
    }

    // MARK: the loop

    var hasPendingEvents: Bool { cursor < count }

    func wait(timeoutNanos: Int64) {
        if cursor == count {
            cursor = 0
            count = 0
        }
        // Completions already taken or queued: just submit and collect.
        let t: Int64 = cursor < count || io_uring_cq_ready(ring) > 0 ? 0 : timeoutNanos
        _ = lsfu_submit_and_wait_ns(ring, t)
        if count < completionCapacity {
            count += Int(lsfu_reap(ring, datas + count, results + count, flags + count, UInt32(completionCapacity - count)))
        }
    }

    func dispatch(to loop: EventLoop) {
        // `count` may grow while delivering (a flush that collected completions).
        while cursor < count {
            let i = cursor
            cursor += 1
            let data = datas[i]
            switch Token.op(data) {
            case IOOp.recv: receiveCompleted(data, result: results[i])
            case IOOp.send: sendCompleted(data, result: results[i])
            case IOOp.poll: pollCompleted(data, result: results[i], loop: loop)
            default: break  // cancels and poll removals
            }
        }
    }

    func drain(loop: EventLoop) {
        let deadline = Instant.now() + .seconds(2)
        while outstanding > 0, Instant.now() < deadline {
            wait(timeoutNanos: 10_000_000)
            dispatch(to: loop)
        }
    }

    func shutdown() {
        guard !isShutdown else { return }
        isShutdown = true
        io_uring_queue_exit(ring)
    }
}
