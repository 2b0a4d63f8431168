import Reactor
import Synchronization

/// Where every core's HTTP server is, for work that spans cores (folding `/metrics`).
/// Filled in as cores start: `ReactorGroup`'s setup calls `register(_:)` on each core, and
/// `setHandles(_:)` once the group is up. Each server is kept as a `CoreBound` reference,
/// so it is only ever dereferenced on its own core.
public final class CoreDirectory: Sendable {
    private let state = Mutex<(handles: [EventLoopHandle], servers: [Int: CoreBound<HTTPServer>])>(([], [:]))

    public init() {}

    /// Records the group's handles (after `ReactorGroup.init` returns).
    public func setHandles(_ handles: [EventLoopHandle]) {
        state.withLock { $0.handles = handles }
    }

    /// Registers the calling core's server (in the core's setup, on its thread).
    public func register(_ server: HTTPServer) {
        let bound = CoreBound(server)
        state.withLock { $0.servers[server.loop.index] = bound }
    }

    public var handles: [EventLoopHandle] { state.withLock { $0.handles } }

    /// The server of `loop`'s core, when called on that core.
    public func server(on loop: EventLoop) -> HTTPServer? {
        state.withLock { $0.servers[loop.index] }?.value
    }

    /// A `/metrics` gatherer for the server of `loop`: every core's `metricsSnapshot()` merged.
    public func metricsGatherer(for loop: EventLoop) -> StandardRoutes.MetricsGatherer {
        let origin = loop.handle
        return { [self] completion in
            MetricsGathering.acrossCores(
                handles: self.handles, origin: origin,
                snapshot: { loop in self.server(on: loop)?.metricsSnapshot() ?? MetricsSnapshot() },
                completion: completion)
        }
    }
}
