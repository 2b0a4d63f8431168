import CShim
import Glibc
import Synchronization

/// Starts one pinned event loop per core and stops them together. Each core runs `setup`
/// on its own thread (where it opens its sockets and listeners), then its loop.
public final class ReactorGroup: Sendable {
    /// One handle per core, by core index.
    public let handles: [EventLoopHandle]
    /// The backend every core runs on.
    public let backend: BackendKind
    private let threads = Mutex<[OSThread]>([])
    private let started = Mutex<(count: Int, error: ReactorError?)>((0, nil))
    private let stopping = Atomic<Bool>(false)
    /// The rings between cores (`ringBytes` > 0 and more than one core), else nil.
    public let rings: CoreRings?

    /// Starts `cores` loops (default: one per CPU) and returns once every core ran `setup`.
    /// With `handleSignals`, SIGINT/SIGTERM (through a signalfd on core 0) stop all cores;
    /// the calling thread's signal mask then blocks them (threads it starts inherit that).
    /// With `onSignal` as well, each such signal calls it (on core 0, with the signal number)
    /// instead, and stopping is up to it (a graceful drain first).
    /// If any core fails to start, the others are stopped and the error is thrown.
    /// `ringBytes` > 0: a `CoreRing` of that size between every ordered pair of cores, which
    /// each loop reads (`EventLoop.onRingMessages`).
    public init(cores: Int = OSThread.cpuCount, backend: BackendKind = .fromEnvironment, pin: Bool = true,
                handleSignals: Bool = false, poolSlots: Int = 4096, poolSlotSize: Int = 2048, ringBytes: Int = 0,
                setup: @escaping @Sendable (EventLoop) throws -> Void = { _ in },
                onSignal: (@Sendable (Int32) -> Void)? = nil) throws {
        precondition(cores > 0, "a group needs at least one core")
        self.backend = backend
        let mailboxes = (0..<cores).map { _ in Mailbox() }
        handles = mailboxes.enumerated().map { EventLoopHandle(mailbox: $1, index: $0) }
        let rings = ringBytes > 0 && cores > 1 ? CoreRings(consumers: mailboxes, bytes: ringBytes) : nil
        self.rings = rings
        if handleSignals { lsfu_block_signals() }
        // Core i runs on the i-th CPU this process may use (wrapping), not on CPU i itself:
        // under a restricted affinity (taskset, cgroups) CPU i may not be allowed.
        let cpuOf = (0..<cores).map { Int(lsfu_allowed_cpu(Int32($0))) }
        var spawned: [OSThread] = []
        for i in 0..<cores {
            let mailbox = mailboxes[i]
            do {
                let t = try OSThread.spawn { [self] in
                    self.runCore(index: i, cpu: pin && cpuOf[i] >= 0 ? cpuOf[i] : nil, mailbox: mailbox, rings: rings,
                                 signals: handleSignals && i == 0, onSignal: onSignal, poolSlots: poolSlots,
                                 poolSlotSize: poolSlotSize, setup: setup)
                }
                spawned.append(t)
            } catch {
                started.withLock { s in if s.error == nil { s.error = error } }
                break
            }
        }
        threads.withLock { $0 = spawned }
        // Wait for every spawned core to report (it is start-up only: a short sleep-poll).
        while true {
            let (count, error) = started.withLock { ($0.count, $0.error) }
            if count == spawned.count {
                if let error {
                    stop()
                    wait()
                    throw error
                }
                break
            }
            usleep(500)
        }
    }

    private func runCore(index: Int, cpu: Int?, mailbox: Mailbox, rings: CoreRings?, signals: Bool,
                         onSignal: (@Sendable (Int32) -> Void)?, poolSlots: Int,
                         poolSlotSize: Int, setup: @Sendable (EventLoop) throws -> Void) {
        if let cpu { OSThread.pinCurrent(to: cpu) }
        lsfu_set_core_id(Int32(index))
        let loop: EventLoop
        var signalFD: Int32 = -1
        defer { if signalFD >= 0 { close(signalFD) } }
        do {
            loop = try EventLoop(index: index, backend: backend,
                                 pool: BufferPool(slotSize: poolSlotSize, slotCount: poolSlots), mailbox: mailbox)
            if let rings { loop.attach(rings: rings) }
            if signals {
                let sfd = lsfu_signalfd()
                if sfd < 0 { throw ReactorError.errno("signalfd") }
                signalFD = sfd
                _ = try loop.watchReadable(fd: sfd) { [self] in
                    let signal = lsfu_signalfd_read(sfd)
                    guard signal != 0 else { return }
                    if let onSignal { onSignal(signal) } else { self.stop() }
                }
            }
            lsfu_set_current_loop(Unmanaged.passUnretained(loop).toOpaque())
            try setup(loop)
            lsfu_set_current_loop(nil)
        } catch {
            let e = (error as? ReactorError) ?? .invalidArgument("core \(index) setup failed: \(error)")
            started.withLock { s in
                s.count += 1
                if s.error == nil { s.error = e }
            }
            _ = mailbox.closeAndTakeRest()
            return
        }
        started.withLock { $0.count += 1 }
        if stopping.load(ordering: .acquiring) { loop.stop() }
        loop.run()
    }

    /// Number of cores.
    public var count: Int { handles.count }

    /// Asks every core to stop gracefully (from any thread, any number of times).
    public func stop() {
        stopping.store(true, ordering: .releasing)
        for h in handles { h.stop() }
    }

    /// Waits until every core has stopped.
    public func wait() {
        let ts = threads.withLock { t -> [OSThread] in
            let all = t
            t = []
            return all
        }
        for t in ts { t.join() }
    }

    /// Reads every core's counters on its own thread and calls `completion` once with their
    /// sum and the per-core values (on the thread of the last core to answer). Cores that
    /// have stopped are left out.
    public func collectCounters(_ completion: @escaping @Sendable (_ total: ReactorCounters, _ perCore: [ReactorCounters]) -> Void) {
        let state = Mutex<(left: Int, perCore: [ReactorCounters?])>((handles.count, Array(repeating: nil, count: handles.count)))
        let answer: @Sendable (Int, ReactorCounters?) -> Void = { index, counters in
            let done = state.withLock { s -> [ReactorCounters]? in
                s.perCore[index] = counters
                s.left -= 1
                return s.left == 0 ? s.perCore.compactMap { $0 } : nil
            }
            if let done { completion(done.reduce(ReactorCounters(), +), done) }
        }
        for h in handles {
            let index = h.index
            if !h.execute({ (loop: EventLoop) in answer(index, loop.counters) }) { answer(index, nil) }
        }
    }

    /// Runs `body` on every core (e.g. to collect counters).
    public func executeOnAll(_ body: @escaping @Sendable (EventLoop) -> Void) {
        for h in handles { h.execute(body) }
    }
}
