import Reactor

@testable import SFU

/// One core of the simulated server, driven as `Main` drives a core: a real `RoomManager`
/// on a UDP port of its own (`address`), datagrams in receive batches of at most 32 with
/// `batchEnded` after each, the send queue carried when full and after every step, and
/// `tick` on a timer that follows `nextTimeout` and `deadlineLowered` with `RoomTimer`'s
/// bounds (not sooner than 1 ms, not later than 1 s). With more than one core, the cores are
/// joined as `Main` joins them: real `CoreRing`s (read by the consumer in a later step, as a
/// core reads its rings on its next turn), a `CoreBoard`, and control messages delivered in
/// order in a later step (the mailbox).
final class SimulatedCore: DatagramQueueOwner {
    static let ms: UInt64 = 1_000_000

    let index: Int
    let address: SocketAddress
    let queue: DatagramQueue
    let manager: RoomManager
    private unowned let simulation: RoomSimulation
    private var batchOpen = false
    private var batchCount = 0
    private var timerAt = UInt64.max
    private var timerGeneration = 0
    private var ringReadScheduled = false
    private(set) var queueDrops = 0

    init(index: Int, simulation: RoomSimulation, configuration: RoomManagerConfiguration, identity: DTLSIdentity) {
        self.index = index
        self.simulation = simulation
        address = SocketAddress(ip: "10.0.0.1", port: 5000 + UInt16(index))!
        queue = DatagramQueue(pool: simulation.pool, capacity: 256)
        manager = RoomManager(
            coreIndex: index, identity: identity, configuration: configuration, output: queue, mediaPort: address.port)
        queue.owner = self
        manager.deadlineLowered = { [unowned self] t in
            let at = t.nanoseconds > RoomSimulation.monotonicBase ? t.nanoseconds - RoomSimulation.monotonicBase : 0
            if at < timerAt { scheduleTimer(at: at) }
        }
        simulation.network.listen(address) { [unowned self] bytes, source in received(bytes, from: source) }
    }

    private var scheduler: SimulationScheduler { simulation.scheduler }
    private var now: Instant { simulation.now }

    /// What this core has queued goes onto the network, and the cores its rings now have
    /// messages for are woken.
    func carry() {
        simulation.network.carry(queue, from: address)
        simulation.wakeReaders(of: self)
    }

    /// Reads every ring to this core (at most `RoomManager.ringBatchLimit` messages each, as
    /// one loop turn does) and comes back in a later step while one still has messages.
    func scheduleRingRead() {
        guard !ringReadScheduled else { return }
        ringReadScheduled = true
        scheduler.at(scheduler.now) { [unowned self] in
            ringReadScheduled = false
            guard let rings = manager.shardRings else { return }
            var left = false
            for from in 0..<rings.cores where from != index {
                guard let ring = rings.ring(from: from, to: index), ring.hasMessages else { continue }
                manager.readRing(ring, now: now)
                left = left || ring.hasMessages
            }
            carry()
            if left { scheduleRingRead() }
        }
    }

    private func received(_ bytes: UnsafeMutableRawBufferPointer, from source: SocketAddress) {
        manager.received(bytes, from: source, now: now)
        batchCount += 1
        if batchCount >= 32 {
            endBatch()
        } else if !batchOpen {
            batchOpen = true
            scheduler.at(scheduler.now) { [unowned self] in if batchOpen { endBatch() } }
        }
        carry()
    }

    private func endBatch() {
        batchOpen = false
        batchCount = 0
        manager.batchEnded(now: now)
        carry()
    }

    func scheduleTimer(at t: UInt64) {
        let soonest = scheduler.now + Self.ms
        let latest = scheduler.now + 1000 * Self.ms
        let at = t < soonest ? soonest : min(t, latest)
        timerGeneration += 1
        let generation = timerGeneration
        timerAt = at
        scheduler.at(at) { [unowned self] in
            guard generation == timerGeneration else { return }
            timerAt = .max
            manager.tick(now: now)
            carry()
            if let next = manager.nextTimeout {
                scheduleTimer(at: next.nanoseconds - RoomSimulation.monotonicBase)
            } else if simulation.mediaRunning {
                scheduleTimer(at: scheduler.now + 1000 * Self.ms)
            }
        }
    }

    public func queueIsFull(_ queue: DatagramQueue) { simulation.network.carry(queue, from: address) }
    public func queueDropped(_ queue: DatagramQueue, poolExhausted: Bool) { queueDrops += 1 }
}
