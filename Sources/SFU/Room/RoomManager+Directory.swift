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
