import Reactor
import SFU

/// What each core hangs on its `EventLoop.context`: its rooms. Mailbox jobs find the
/// owning core's `RoomManager` through it. Not Sendable: it never leaves its core.
public final class CoreContext {
    public let rooms: RoomManager
    /// Every core's handle (set once the group has started).
    public var cores: [EventLoopHandle] = []
    /// This core's HTTP figures for `/metrics` (set by whoever starts the core's server).
    public var httpMetrics: (() -> MetricsSnapshot)?

    public init(rooms: RoomManager) {
        self.rooms = rooms
    }
}
