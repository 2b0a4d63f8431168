/// What the cluster directory needs to know of this core's rooms (`CLUSTER_REDIS_URL`): which
/// rooms this node holds (has a publisher for) and how many viewers it serves. Control plane
/// only, on this core.
extension RoomManager {
    /// Whether `room` has a publisher on this core (connected or still setting up).
    public func hasPublisher(room: String) -> Bool {
        rooms[room]?.publisher != nil
    }

    /// The rooms this core relays from their origin (an edge's), connected.
    public func relayedRooms() -> [String] {
        rooms.compactMap { name, room in room.relay?.isConnected == true ? name : nil }
    }

    /// Each room's viewers on this core for the cluster's per-node view; the origin's relay
    /// sessions to edges are not viewers here (they are listed as the room's `relays`).
    public func viewersPerRoom() -> [String: Int] {
        var out: [String: Int] = [:]
        for (name, room) in rooms {
            out[name] = room.viewersByID.values.reduce(0) { $0 + ($1.relayFor == nil ? 1 : 0) }
        }
        return out
    }

    /// The rooms with a publisher on this core, and the viewers of every room here.
    public func directoryFigures() -> (published: [String], viewers: Int) {
        var published: [String] = []
        var viewers = 0
        for (name, room) in rooms {
            if room.publisher != nil { published.append(name) }
            viewers += room.viewerCount
        }
        return (published, viewers)
    }
}
