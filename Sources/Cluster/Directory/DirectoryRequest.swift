/// What a core asks the directory thread (`ClusterDirectory.submit`).
public enum DirectoryRequest: Sendable, Equatable {
    /// A WHIP publish: take `room` for this node, unless another node holds it.
    case claim(room: String)
    /// A WHEP play for a room this node does not hold: who holds it?
    case locate(room: String)
    /// `/api/rooms`: every room and node in the directory (bounded).
    case listing
    /// A WHEP in `CLUSTER_MODE=redirect` for a room this node does not hold: who holds it, and
    /// which other nodes carry it (edges relaying it), so the viewer goes to the least loaded.
    case route(room: String)
}

/// The directory thread's answer, delivered on the asking core.
public enum DirectoryReply: Sendable, Equatable {
    /// The room is this node's now (newly or already).
    case claimed
    /// Another node holds the room: the WHIP gets 409.
    case heldBy(node: String)
    /// `locate`: the holder's entry, or nil when no node holds the room.
    case located(NodeEntry?)
    case listing(DirectoryListing)
    /// `route`: the holder's entry (nil when no node holds the room) and the entries of the
    /// edges that carry it (bounded by `ClusterSettings.maxNodesListed`).
    case routed(origin: NodeEntry?, carriers: [NodeEntry])
    /// The directory cannot answer (Redis unreachable, queue full, an error reply): the
    /// request gets 503 with `reason`.
    case unavailable(reason: String)
}

/// `/api/rooms`'s view of the directory.
public struct DirectoryListing: Sendable, Equatable {
    /// Room name → ID of the node holding it.
    public var origins: [String: String]
    public var nodes: [NodeEntry]
    /// Room name → node ID → that node's viewers of the room at its last heartbeat
    /// (`RoomViewers`; bounded by `RoomViewers.maxListed` pairs).
    public var viewers: [String: [String: Int]]

    public init(origins: [String: String] = [:], nodes: [NodeEntry] = [], viewers: [String: [String: Int]] = [:]) {
        self.origins = origins
        self.nodes = nodes
        self.viewers = viewers
    }
}
