import CShim
import CURing
import Glibc

/// io_uring: the kernel performs the receives, sends, accepts and connects that channels
/// submit (`submit…`), and completions come back tagged with the channel's token. Readiness
/// watches (the mailbox eventfd, a signalfd, nothing on the data path) are multishot polls.
final class URingBackend: ReactorBackend {
    let kind = BackendKind.iouring
    private let ring: UnsafeMutablePointer<io_uring>
    private let reapCapacity = 256
    private let datas: UnsafeMutablePointer<UInt64>
    private let results: UnsafeMutablePointer<Int32>
    private let flags: UnsafeMutablePointer<UInt32>
    private var reaped = 0
    /// Submitted operations whose final completion has not arrived (polls and cancels excluded).
    private(set) var outstanding = 0
    private var watches: [UInt64: (fd: Int32, mask: UInt32)] = [:]
    private var isShutdown = false

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
        datas = .allocate(capacity: reapCapacity)
        results = .allocate(capacity: reapCapacity)
        flags = .allocate(capacity: reapCapacity)
    }

    deinit {
        if !isShutdown { io_uring_queue_exit(ring) }
        ring.deallocate()
        datas.deallocate()
        results.deallocate()
        flags.deallocate()
    }

    // MARK: readiness

    private static let pollIn: UInt32 = 0x001
    private static let pollOut: UInt32 = 0x004

    func watch(fd: Int32, token: UInt64, readable: Bool, writable: Bool) throws(ReactorError) {
        let mask = (readable ? Self.pollIn : 0) | (writable ? Self.pollOut : 0)
        watches[token] = (fd, mask)
        addPoll(fd: fd, token: token, mask: mask)
    }

    func rewatch(fd: Int32, token: UInt64, readable: Bool, writable: Bool) {
        removePoll(token)
        try? watch(fd: fd, token: token, readable: readable, writable: writable)
    }

    func unwatch(fd: Int32, token: UInt64) {
        watches[token] = nil
        removePoll(token)
    }

    private func addPoll(fd: Int32, token: UInt64, mask: UInt32) {
        guard mask != 0, let sqe = lsfu_get_sqe(ring) else { return }
        io_uring_prep_poll_multishot(sqe, fd, mask)
        io_uring_sqe_set_data64(sqe, Token.withOp(token, op: IOOp.poll))
    }

    private func removePoll(_ token: UInt64) {
        guard let sqe = lsfu_get_sqe(ring) else { return }
        io_uring_prep_poll_remove(sqe, Token.withOp(token, op: IOOp.poll))
        io_uring_sqe_set_data64(sqe, Token.withOp(0, op: IOOp.pollRemove))
    }

    // MARK: operations

    /// Gets an SQE for an operation, or nil when the ring is full even after submitting.
    private func sqe() -> UnsafeMutablePointer<io_uring_sqe>? {
        lsfu_get_sqe(ring)
    }

    @discardableResult
    func submitRecvmsg(fd: Int32, msg: UnsafeMutablePointer<msghdr>, userData: UInt64) -> Bool {
        guard let s = sqe() else { return false }
        io_uring_prep_recvmsg(s, fd, msg, 0)
        io_uring_sqe_set_data64(s, userData)
        outstanding += 1
        return true
    }

    @discardableResult
    func submitSendmsg(fd: Int32, msg: UnsafePointer<msghdr>, flags: UInt32, userData: UInt64) -> Bool {
        guard let s = sqe() else { return false }
        io_uring_prep_sendmsg(s, fd, msg, flags)
        io_uring_sqe_set_data64(s, userData)
        outstanding += 1
        return true
    }

    @discardableResult
    func submitRecv(fd: Int32, buffer: UnsafeMutableRawPointer, length: Int, userData: UInt64) -> Bool {
        guard let s = sqe() else { return false }
        io_uring_prep_recv(s, fd, buffer, length, 0)
        io_uring_sqe_set_data64(s, userData)
        outstanding += 1
        return true
    }

    @discardableResult
    func submitSend(fd: Int32, buffer: UnsafeRawPointer, length: Int, userData: UInt64) -> Bool {
        guard let s = sqe() else { return false }
        io_uring_prep_send(s, fd, buffer, length, Int32(lsfu_MSG_NOSIGNAL()))
        io_uring_sqe_set_data64(s, userData)
        outstanding += 1
        return true
    }

    @discardableResult
    func submitAccept(fd: Int32, userData: UInt64) -> Bool {
        guard let s = sqe() else { return false }
        io_uring_prep_accept(s, fd, nil, nil, lsfu_SOCK_CLOEXEC())
        io_uring_sqe_set_data64(s, userData)
        outstanding += 1
        return true
    }

    @discardableResult
    func submitConnect(fd: Int32, address: UnsafePointer<sockaddr>, length: socklen_t, userData: UInt64) -> Bool {
        guard let s = sqe() else { return false }
        io_uring_prep_connect(s, fd, address, length)
        io_uring_sqe_set_data64(s, userData)
        outstanding += 1
        return true
    }

    /// A one-shot poll that completes through `Channel.completed` (not `ready`).
    @discardableResult
    func submitPoll(fd: Int32, mask: UInt32, userData: UInt64) -> Bool {
        guard let s = sqe() else { return false }
        io_uring_prep_poll_add(s, fd, mask)
        io_uring_sqe_set_data64(s, userData)
        outstanding += 1
        return true
    }

    /// Cancels every operation on `fd`; each completes with -ECANCELED (or its real result).
    func cancelAll(fd: Int32) {
        guard let s = sqe() else { return }
        io_uring_prep_cancel_fd(s, fd, lsfu_IORING_ASYNC_CANCEL_ALL())
        io_uring_sqe_set_data64(s, Token.withOp(0, op: IOOp.cancel))
    }

    /// Pushes queued SQEs to the kernel without waiting.
    func submitNow() { _ = io_uring_submit(ring) }

    // MARK: waiting

    func wait(timeoutNanos: Int64) {
        // Completions already queued: just submit and collect.
        let t: Int64 = io_uring_cq_ready(ring) > 0 ? 0 : timeoutNanos
        _ = lsfu_submit_and_wait_ns(ring, t)
        reaped = Int(lsfu_reap(ring, datas, results, flags, UInt32(reapCapacity)))
    }

    func dispatch(to loop: EventLoop) {
        let n = reaped
        reaped = 0
        let more = lsfu_IORING_CQE_F_MORE()
        for i in 0..<n {
            let data = datas[i]
            let op = Token.op(data)
            if op == IOOp.cancel || op == IOOp.pollRemove { continue }
            if op == IOOp.poll {
                // A multishot poll that ended (without F_MORE) is re-armed while still watched.
                if flags[i] & more == 0, let w = watches[data & 0xFF_FFFF_FFFF] {
                    addPoll(fd: w.fd, token: data & 0xFF_FFFF_FFFF, mask: w.mask)
                }
                if results[i] < 0 { continue }
            } else if flags[i] & more == 0 {
                outstanding -= 1
            }
            loop.deliverCompletion(userData: data, result: results[i], flags: flags[i])
        }
    }

    /// At loop stop: waits (bounded) until every submitted operation has completed, so no
    /// kernel write lands in freed buffers.
    func drainOutstanding(loop: EventLoop) {
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
