import Synchronization

/// Where each loop drops a copy of its counters (every second, and once at the end); the
/// main thread reads and merges them. The only shared state, touched once a second.
final class StatsBoard: Sendable {
    private let latest = Mutex<[Int: LoadCounters]>([:])
    private let finals = Mutex<[Int: LoadCounters]>([:])

    func publish(loop: Int, _ c: LoadCounters, final: Bool) {
        if final { finals.withLock { $0[loop] = c } } else { latest.withLock { $0[loop] = c } }
    }

    func merged() -> LoadCounters {
        latest.withLock { m in
            var out = LoadCounters()
            for (_, c) in m { out.merge(c) }
            return out
        }
    }

    func finalCount() -> Int { finals.withLock { $0.count } }

    func mergedFinals() -> LoadCounters {
        finals.withLock { m in
            var out = LoadCounters()
            for (_, c) in m { out.merge(c) }
            return out
        }
    }
}
