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
        CoreGather.gather(handles: handles, origin: origin, { snapshot($0) }) { parts in
            var merged = MetricsSnapshot()
            for part in parts { merged.merge(part) }
            completion(merged)
        }
    }
}
