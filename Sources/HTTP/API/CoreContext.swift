import Cluster
import Reactor
import SFU

/// What each core hangs on its `EventLoop.context`: its rooms. Mailbox jobs find the
/// owning core's `RoomManager` through it. Not Sendable: it never leaves its core.
public final class CoreContext {
    public let rooms: RoomManager
    /// Every core's handle (set once the group has started).
    public var cores: [EventLoopHandle] = []
    /// This core's HTTP server (kept alive here; its figures go into `/metrics`).
    public var http: HTTPServer?
    /// The cluster directory (`CLUSTER_REDIS_URL`); nil for a node on its own.
    public var directory: ClusterDirectory?
    /// This core's edge relays (`CLUSTER_MODE=edge`); nil otherwise.
    public var edge: EdgeRelays?

    public init(rooms: RoomManager) {
        self.rooms = rooms
    }
}
