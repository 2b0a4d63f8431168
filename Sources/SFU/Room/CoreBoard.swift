import Synchronization

/// What every core reads of every other without a lock, to place rooms and viewers by load:
/// each core's weight (`roomWeight` per room placed on it, one per viewer on it) and its
/// smoothed busy fraction. Updated when rooms are placed, sessions come and go, and once a
/// second; never per packet.
public final class CoreBoard: Sendable {
    /// A room's ingest (unprotect, parse, rewrite, history) costs about what ten viewer copies
    /// cost (perf/RESULTS.md, callgrind: ≈10 500 vs ≈1 030 instructions per packet). Counted
    /// when the room is placed, before its publisher comes: rooms placed in a burst see each
    /// other at once.
    public static let roomWeight = 10
    private let weights: [Cell]
    private let loads: [Cell]

    public init(cores: Int) {
        weights = (0..<cores).map { _ in Cell() }
        loads = (0..<cores).map { _ in Cell() }
    }

    public var cores: Int { weights.count }

    func add(_ core: Int, _ delta: Int) {
        guard core < weights.count else { return }
        weights[core].value.add(delta, ordering: .relaxed)
    }

    public func weight(_ core: Int) -> Int { core < weights.count ? weights[core].value.load(ordering: .relaxed) : 0 }

    public func setLoad(_ core: Int, _ fraction: Double) {
        guard core < loads.count else { return }
        loads[core].value.store(Int(fraction * 1000), ordering: .relaxed)
    }

    public func load(_ core: Int) -> Double { core < loads.count ? Double(loads[core].value.load(ordering: .relaxed)) / 1000 : 0 }

    /// The core a new viewer of a room owned by `owner` should go to: the one with the least
    /// weight, not busier than `maxLoad` (0: no limit); `owner` unless another is lighter by
    /// more than `margin`, so a room does not spread for a difference of a few viewers.
    func lightest(owner: Int, margin: Int, maxLoad: Double) -> Int {
        let ownerFull = maxLoad > 0 && load(owner) > maxLoad
        var best = owner
        var bestWeight = ownerFull ? Int.max : weight(owner)
        for c in 0..<cores where c != owner {
            if maxLoad > 0, load(c) > maxLoad { continue }
            let w = weight(c)
            if w + margin < bestWeight || (ownerFull && best == owner) {
                best = c
                bestWeight = w + margin
            }
        }
        return best
    }

    private final class Cell: Sendable {
        let value = Atomic<Int>(0)
    }
}
