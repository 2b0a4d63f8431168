/// The cluster's per-node view of rooms (`/api/rooms` on any node: each room's viewers on
/// every node that carries it). Each node writes its own rooms' viewer counts at every
/// heartbeat (`livesfu:views:<node>`, see `DirectoryScripts.views`); a listing reads them back.
/// Both sides are bounded here, without I/O.
public enum RoomViewers {
    /// Rooms a node reports at most per heartbeat: those with the most viewers (a node holds
    /// up to 10 000 rooms per core; the view is for people, not for routing).
    public static let maxReported = 1000
    /// (room, node) pairs one listing reads at most, over every node.
    public static let maxListed = 1000
    /// Longest room name read back (a room name's bound); longer = garbage, skipped.
    static let maxRoomBytes = 64

    /// What this node reports: every core's rooms merged (a room lives on one core; should two
    /// name it, their counts add), the rooms with the most viewers first (ties by name), at
    /// most `limit`.
    public static func report(_ perCore: [[String: Int]], limit: Int = maxReported) -> [(room: String, viewers: Int)] {
        var merged: [String: Int] = [:]
        for core in perCore {
            for (room, viewers) in core { merged[room, default: 0] += max(viewers, 0) }
        }
        let ordered = merged.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
        return ordered.prefix(max(limit, 0)).map { (room: $0.key, viewers: $0.value) }
    }

    /// One room's entries for a listing on node `this`: node → viewers from the directory,
    /// with this node's own live figure in place of what it wrote at its last heartbeat
    /// (`localViewers` nil: the room is not here, whatever the directory still says); the
    /// origin first, then by node ID.
    public static func entries(
        directory: [String: Int], this: String, localViewers: Int?, origin: String?
    ) -> [(node: String, viewers: Int, origin: Bool)] {
        var all = directory
        all[this] = localViewers
        return all.map { (node: $0.key, viewers: $0.value, origin: $0.key == origin) }
            .sorted { $0.origin != $1.origin ? $0.origin : $0.node < $1.node }
    }
}
