import CShim
import Glibc

/// One core's event loop: a backend (`ReactorBackend`: epoll or io_uring), timers, a mailbox, a buffer pool,
/// a cached `now` and plain counters. Not Sendable: everything it owns is touched only by
/// the thread that runs it. Other threads reach it through `handle` (its mailbox).
public final class EventLoop {
    /// The core index (0-based) within its group.
    public let index: Int
    /// The packet buffer pool of this core.
    public let pool: BufferPool
    /// Monotonic time read once per loop turn (after each wait).
    public private(set) var now: Instant
    /// This core's counters (plain integers; read them on this core).
    public internal(set) var counters = ReactorCounters()
    /// This core's smoothed busy fraction (≈1 s), fed every turn; read it on this core.
    public private(set) var load = CoreLoadEstimator()
    /// How long each loop turn worked (from waking to waiting again), for `/metrics`.
    public private(set) var turnDurations = FixedHistogram(boundsSeconds: FixedHistogram.loopTurnBounds)
    /// The Sendable way for other threads to post work here.
    public let handle: EventLoopHandle
    /// Per-core state the application hangs on its loop (reached from mailbox jobs via
    /// `EventLoop.current`).
    public var context: AnyObject?
    /// Runs once when the loop stops, before its channels close: the application's last word
    /// (e.g. DTLS close_notify to every peer), still able to queue datagrams that the sockets
    /// flush as they close.
    public var onStop: (() -> Void)?
    /// The group's rings between cores (`ReactorGroup(ringBytes:)`), nil for a loop alone.
    public private(set) var rings: CoreRings?
    /// The rings other cores write to this one, read at every turn after the mailbox.
    private var inboundRings: [CoreRing] = []
    /// Takes the messages of an inbound ring that has some (the application's reader, e.g.
    /// the room layer's shards); it may leave some for the next turn, which then does not sleep.
    public var onRingMessages: ((CoreRing) -> Void)?

    let backend: any ReactorBackend
    let mailbox: Mailbox
    var timers = TimerHeap()
    var registry = ChannelRegistry()
    /// Channels called at the end of every turn (UDP sockets: batch end, send flush).
    private var turnEndObservers: [any TurnEndObserver] = []
    /// The thread that owns the loop: the one that made it, then the one that runs it.
    private var ownerThread: pthread_t
    /// 64 KB scratch for TCP reads (delivery is synchronous, so one per loop).
    let scratch: UnsafeMutableRawBufferPointer
    var nextConnectionID: UInt64 = 1
    private var jobBatch: [Mailbox.Job] = []
    private var stopRequested = false
    private(set) var isStopped = false
    private var lastWake: Instant
    private var extraChannels: [UInt64] = []

    /// Creates a loop on the calling thread; run it on this same thread.
    public convenience init(index: Int = 0, backend kind: BackendKind = .epoll, pool: BufferPool = BufferPool()) throws(ReactorError) {
        try self.init(index: index, backend: kind, pool: pool, mailbox: Mailbox())
    }

    init(index: Int, backend kind: BackendKind, pool: BufferPool, mailbox: Mailbox) throws(ReactorError) {
        self.index = index
        self.pool = pool
        self.mailbox = mailbox
        handle = EventLoopHandle(mailbox: mailbox, index: index)
        switch kind {
        case .epoll: backend = try EpollBackend()
        case .iouring: backend = try URingBackend()
        }
        ownerThread = pthread_self()
        scratch = .allocate(byteCount: 65536, alignment: 64)
        now = Instant.now()
        lastWake = now
        jobBatch.reserveCapacity(64)
        let wake = WakeChannel(fd: mailbox.wakeFD)
        let token = registry.add(wake)
        try backend.watch(fd: mailbox.wakeFD, token: token, readable: true, writable: false)
        extraChannels.append(token)
    }

    deinit {
        scratch.deallocate()
    }

    /// Which backend this loop runs on.
    public var backendKind: BackendKind { backend.kind }

    /// The loop running on the calling thread, if any.
    public static var current: EventLoop? {
        guard let p = lsfu_current_loop() else { return nil }
        return Unmanaged<EventLoop>.fromOpaque(p).takeUnretainedValue()
    }

    /// True on the thread currently running this loop.
    public var inEventLoop: Bool { lsfu_current_loop() == Unmanaged.passUnretained(self).toOpaque() }

    /// Debug builds: traps unless called on the loop's own thread (the one running it, or the
    /// one that made it before it runs), as SwiftNIO's `assertInEventLoop`. Every public entry
    /// point of a core-confined type calls it; release builds compile it away.
    @inline(__always)
    public func assertOnLoop(file: StaticString = #fileID, line: UInt = #line) {
        assert(isOnOwnerThread, "called off its event loop's thread (core \(index))", file: file, line: line)
    }

    /// Whether the calling thread owns the loop (for `assert` on paths where even evaluating
    /// `loop` must not cost a release build anything).
    var isOnOwnerThread: Bool { pthread_equal(ownerThread, pthread_self()) != 0 }

    // MARK: running

    /// Runs until `stop()`; then closes every channel, runs the mailbox's last jobs and returns.
    public func run() {
        ownerThread = pthread_self()
        let previous = lsfu_current_loop()
        lsfu_set_current_loop(Unmanaged.passUnretained(self).toOpaque())
        defer { lsfu_set_current_loop(previous) }
        while !stopRequested { turn(maxWaitNanos: -1) }
        shutdown()
    }

    /// Runs turns until `condition` holds or `timeout` passes; returns whether it held.
    /// For tests and single-threaded drivers.
    @discardableResult
    public func run(until condition: () -> Bool, timeout: Duration = .seconds(5)) -> Bool {
        ownerThread = pthread_self()
        let previous = lsfu_current_loop()
        lsfu_set_current_loop(Unmanaged.passUnretained(self).toOpaque())
        defer { lsfu_set_current_loop(previous) }
        let deadline = Instant.now() + timeout
        while !condition() {
            if stopRequested || isStopped { return condition() }
            let left = deadline.nanoseconds > Instant.now().nanoseconds ? deadline - Instant.now() : Duration(nanoseconds: 0)
            if left.nanoseconds == 0 { return condition() }
            turn(maxWaitNanos: Int64(min(left.nanoseconds, 10_000_000)))
        }
        return true
    }

    /// Asks the loop to stop after the current turn (from this loop's thread; other threads
    /// use `handle.stop()`).
    public func stop() {
        stopRequested = true
    }

    /// Closes everything without running (for a loop that was never run, e.g. in tests).
    public func close() {
        if !isStopped { shutdown() }
    }

    private func turn(maxWaitNanos: Int64) {
        fireDueTimers()
        runMailbox()
        drainRings()
        var pendingSends = false
        // Index loop (not for-in): no iterator, and a socket closed meanwhile is skipped safely.
        var i = 0
        while i < turnEndObservers.count {
            let s = turnEndObservers[i]
            if s.turnEnded() { pendingSends = true }
            if i < turnEndObservers.count, turnEndObservers[i] === s { i += 1 }
        }
        if stopRequested { return }

        var timeout = maxWaitNanos
        if let e = timers.earliest {
            let d = e > now ? Int64(clamping: (e - now).nanoseconds) : 0
            timeout = timeout < 0 ? d : min(timeout, d)
        }
        // A send queue the kernel pushed back on is retried next turn, soon.
        if pendingSends { timeout = timeout < 0 ? 1_000_000 : min(timeout, 1_000_000) }
        if backend.hasPendingEvents { timeout = 0 }
        if timeout != 0, !mailbox.prepareToSleep() { timeout = 0 }
        if timeout != 0, ringsHaveMessages {
            mailbox.awake()
            timeout = 0
        }

        let beforeWait = Instant.now()
        backend.wait(timeoutNanos: timeout)
        mailbox.awake()
        now = Instant.now()
        let busy = (beforeWait - lastWake).nanoseconds
        let waited = (now - beforeWait).nanoseconds
        counters.busyNanoseconds &+= busy
        counters.waitNanoseconds &+= waited
        load.record(busyNanoseconds: busy, waitNanoseconds: waited, now: now)
        turnDurations.record(nanoseconds: busy)
        lastWake = now
        counters.loopTurns &+= 1
        backend.dispatch(to: self)
    }

    private func runMailbox() {
        mailbox.take(into: &jobBatch)
        if jobBatch.isEmpty { return }
        counters.mailboxJobs &+= jobBatch.count
        for job in jobBatch { job() }
        jobBatch.removeAll(keepingCapacity: true)
    }

    /// Joins the group's rings: this loop reads the ones to its core.
    func attach(rings: CoreRings) {
        self.rings = rings
        inboundRings = rings.inbound(to: index)
    }

    private func drainRings() {
        guard let read = onRingMessages else { return }
        for ring in inboundRings where ring.hasMessages { read(ring) }
    }

    /// Checked after the loop said it would sleep (`Mailbox.prepareToSleep`): a producer that
    /// wrote before that saw the loop awake and did not wake it.
    private var ringsHaveMessages: Bool {
        guard onRingMessages != nil else { return false }
        for ring in inboundRings where ring.hasMessages { return true }
        return false
    }

    private func fireDueTimers() {
        // Timers armed by a firing timer wait for the next turn, so a timer that re-arms
        // itself for "now" cannot starve the loop.
        var budget = timers.count
        while budget > 0, let t = timers.popDue(now) {
            budget -= 1
            counters.timersFired &+= 1
            t.body()
        }
    }

    private func shutdown() {
        if let hook = onStop {
            onStop = nil
            hook()
        }
        isStopped = true
        // Work already posted runs; later posts are refused.
        for job in mailbox.closeAndTakeRest() {
            counters.mailboxJobs &+= 1
            job()
        }
        for c in registry.all { c.closeForLoopStop() }
        for t in extraChannels { registry.remove(t) }
        backend.drain(loop: self)
        timers.removeAll()
        turnEndObservers.removeAll()
        context = nil
        backend.shutdown()
    }

    // MARK: timers

    /// Calls `body` on this loop at `deadline` (or on the next turn if it has passed).
    @discardableResult
    public func scheduleTimer(at deadline: Instant, _ body: @escaping () -> Void) -> TimerHandle {
        assertOnLoop()
        let t = TimerHandle(deadline: deadline, body: body)
        timers.schedule(t, at: deadline)
        return t
    }

    /// Calls `body` after `delay`.
    @discardableResult
    public func scheduleTimer(after delay: Duration, _ body: @escaping () -> Void) -> TimerHandle {
        scheduleTimer(at: now + delay, body)
    }

    /// Re-arms `timer` (scheduled, fired or cancelled) for `deadline` without allocating.
    public func reschedule(_ timer: TimerHandle, at deadline: Instant) {
        assertOnLoop()
        timers.schedule(timer, at: deadline)
    }

    /// Cancels `timer`; harmless if it already fired or was cancelled.
    public func cancelTimer(_ timer: TimerHandle) {
        assertOnLoop()
        timers.cancel(timer)
    }

    /// Timers waiting to fire.
    public var scheduledTimerCount: Int { timers.count }

    // MARK: same-loop work

    /// Runs `body` at the start of the next turn (from this loop's own thread).
    public func executeSoon(_ body: @escaping () -> Void) {
        scheduleTimer(at: Instant(nanoseconds: 0), body)
    }

    // MARK: dispatch

    func deliverReadiness(token: UInt64, events: UInt32) {
        registry.lookup(token)?.ready(events)
    }

    func addTurnEndObserver(_ o: any TurnEndObserver) { turnEndObservers.append(o) }
    func removeTurnEndObserver(_ o: any TurnEndObserver) {
        if let i = turnEndObservers.firstIndex(where: { $0 === o }) { turnEndObservers.remove(at: i) }
    }

    func register(_ c: Channel) -> UInt64 { registry.add(c) }
    func unregister(_ token: UInt64) { registry.remove(token) }

    func takeConnectionID() -> UInt64 {
        defer { nextConnectionID &+= 1 }
        return nextConnectionID
    }

    /// Registers a read watch for an fd the caller owns (e.g. a signalfd); `onReadable`
    /// runs on this loop. Returns a token for `unwatchReadable`.
    func watchReadable(fd: Int32, _ onReadable: @escaping () -> Void) throws(ReactorError) -> UInt64 {
        let c = CallbackChannel(onReadable)
        let token = registry.add(c)
        do {
            try backend.watch(fd: fd, token: token, readable: true, writable: false)
        } catch {
            registry.remove(token)
            throw error
        }
        extraChannels.append(token)
        return token
    }
}

/// Drains the mailbox eventfd; the jobs themselves run at the top of the next turn.
private final class WakeChannel: Channel {
    let fd: Int32
    init(fd: Int32) { self.fd = fd }
    func ready(_ events: UInt32) { lsfu_eventfd_drain(fd) }
    func closeForLoopStop() {}
}

/// A readiness callback for an fd owned elsewhere.
private final class CallbackChannel: Channel {
    let body: () -> Void
    init(_ body: @escaping () -> Void) { self.body = body }
    func ready(_ events: UInt32) { body() }
    func closeForLoopStop() {}
}
