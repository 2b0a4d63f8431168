import Reactor

/// Folds every core's figures together at scrape time through the mailbox: each core builds
/// its own snapshot on its own thread, sends it (a `Sendable` value) back to the scraping
/// core, which merges them once all have answered. Nothing is shared or locked.
public enum MetricsGathering {
    /// - Parameters:
    ///   - handles: every core's handle (`ReactorGroup.handles`).
    ///   - origin: the scraping core's handle.
    ///   - snapshot: builds one core's snapshot, run on that core (typically reads the
    ///     per-core state from `loop.context`).
    ///   - completion: runs on the scraping core with the merged snapshot.
    public static func acrossCores(
        handles: [EventLoopHandle], origin: EventLoopHandle,
        snapshot: @escaping @Sendable (EventLoop) -> MetricsSnapshot,
        completion: @escaping (MetricsSnapshot) -> Void
    ) {
        let collector = Collector(expected: handles.count, completion: completion)
        let box = CoreBound(collector)
        for handle in handles {
            let posted = handle.execute { (loop: EventLoop) in
                let part = snapshot(loop)
                origin.execute { box.value?.add(part) }
            }
            // A stopped core will never answer: count it as empty.
            if !posted { collector.add(MetricsSnapshot()) }
        }
    }

    private final class Collector {
        var remaining: Int
        var merged = MetricsSnapshot()
        let completion: (MetricsSnapshot) -> Void

        init(expected: Int, completion: @escaping (MetricsSnapshot) -> Void) {
            remaining = expected
            self.completion = completion
            if expected == 0 { completion(merged) }
        }

        func add(_ part: MetricsSnapshot) {
            guard remaining > 0 else { return }
            merged.merge(part)
            remaining -= 1
            if remaining == 0 { completion(merged) }
        }
    }
}
