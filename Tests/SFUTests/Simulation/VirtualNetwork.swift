import Reactor

@testable import SFU

/// Carries datagrams between the simulation's endpoints on the virtual clock. Each direction
/// of each path (keyed by the two addresses) has its own `PathConditions` and state (burst,
/// bandwidth queue, the last arrival so jitter alone never reorders), and every random
/// choice comes from the network's own seeded generator, so the same seed carries the same
/// datagrams to the same fates at the same times.
final class VirtualNetwork {
    private struct PathKey: Hashable {
        var from: SocketAddress
        var to: SocketAddress
    }

    private struct PathState {
        var conditions: PathConditions
        var inBurst = false
        var busyUntil: UInt64 = 0
        var lastArrival: UInt64 = 0
        /// Forced losses still to apply to DTLS datagrams (a test of DTLS retransmission).
        var dropDTLS = 0
    }

    typealias Receiver = (UnsafeMutableRawBufferPointer, SocketAddress) -> Void

    let scheduler: SimulationScheduler
    let log: SimulationLog
    private var rng: SplitMixRandom
    private var paths: [PathKey: PathState] = [:]
    private var receivers: [SocketAddress: Receiver] = [:]
    /// Conditions of a path nobody configured.
    var defaultConditions = PathConditions.clean
    private(set) var carried = 0
    private(set) var lost = 0

    init(seed: UInt64, scheduler: SimulationScheduler, log: SimulationLog) {
        rng = SplitMixRandom(seed: seed)
        self.scheduler = scheduler
        self.log = log
    }

    /// Who gets what arrives at `address` (nil: nobody; it is dropped).
    func listen(_ address: SocketAddress, _ receiver: Receiver?) { receivers[address] = receiver }

    /// Sets the conditions from `from` to `to`.
    func setConditions(from: SocketAddress, to: SocketAddress, _ conditions: PathConditions) {
        paths[PathKey(from: from, to: to), default: PathState(conditions: conditions)].conditions = conditions
    }

    func conditions(from: SocketAddress, to: SocketAddress) -> PathConditions {
        paths[PathKey(from: from, to: to)]?.conditions ?? defaultConditions
    }

    /// Drops the next `count` DTLS datagrams from `from` to `to`, whatever the conditions.
    func dropNextDTLS(from: SocketAddress, to: SocketAddress, count: Int) {
        let key = PathKey(from: from, to: to)
        paths[key, default: PathState(conditions: defaultConditions)].dropDTLS = count
    }

    /// Takes every datagram waiting in `queue`, sent from `source`.
    func carry(_ queue: DatagramQueue, from source: SocketAddress) {
        queue.drain { to, bytes in send(bytes, from: source, to: to) }
    }

    func send(_ bytes: UnsafeRawBufferPointer, from: SocketAddress, to: SocketAddress) {
        let now = scheduler.now
        let key = PathKey(from: from, to: to)
        var path = paths[key] ?? PathState(conditions: defaultConditions)
        defer { paths[key] = path }
        let c = path.conditions
        let kind = Self.kind(bytes)
        let label = "\(from)>\(to) \(kind) \(bytes.count)"
        if c.down {
            lost += 1
            log.add(now, "\(label) down")
            return
        }
        if kind == "dtls", path.dropDTLS > 0 {
            path.dropDTLS -= 1
            lost += 1
            log.add(now, "\(label) forced-loss")
            return
        }
        // Burst state moves first, then the loss draw of the state the datagram meets.
        if c.burstEnter > 0 {
            path.inBurst = path.inBurst ? !chance(c.burstLeave) : chance(c.burstEnter)
        }
        if chance(path.inBurst ? c.burstLoss : c.loss) {
            lost += 1
            log.add(now, "\(label) lost")
            return
        }
        var departure = now
        if c.bytesPerSecond > 0 {
            departure = max(now, path.busyUntil)
            if departure - now > c.queueLimit.nanoseconds {
                lost += 1
                log.add(now, "\(label) queue-full")
                return
            }
            path.busyUntil = departure + UInt64(bytes.count) * 1_000_000_000 / UInt64(c.bytesPerSecond)
        }
        var arrival = departure + c.delay.nanoseconds
        if c.jitter.nanoseconds > 0 { arrival += rng.next() % c.jitter.nanoseconds }
        arrival = max(arrival, path.lastArrival)
        var fate = "at \(arrival / 1000)"
        if chance(c.reorder) {
            arrival += c.reorderDelay.nanoseconds
            fate += " late"
        } else {
            path.lastArrival = arrival
        }
        let copy = Array(bytes)
        deliver(copy, from: from, to: to, at: arrival)
        if chance(c.duplicate) {
            fate += " twice"
            deliver(copy, from: from, to: to, at: arrival + 1_000_000)
        }
        carried += 1
        log.add(now, "\(label) \(fate)")
    }

    private func deliver(_ bytes: [UInt8], from: SocketAddress, to: SocketAddress, at time: UInt64) {
        scheduler.at(time) { [unowned self] in
            guard let receiver = receivers[to] else { return }
            var copy = bytes
            copy.withUnsafeMutableBytes { receiver($0, from) }
        }
    }

    private func chance(_ p: Double) -> Bool {
        guard p > 0 else { return false }
        return Double(rng.next() >> 11) / Double(1 << 53) < p
    }

    static func kind(_ bytes: UnsafeRawBufferPointer) -> String {
        switch PacketKind.classify(bytes) {
        case .stun: "stun"
        case .dtls: "dtls"
        case .rtp: "rtp"
        case .rtcp: "rtcp"
        default: "other"
        }
    }
}
