/// Where `CLUSTER_MODE=redirect` sends a viewer of a room another node holds: the least loaded
/// of the room's origin and the edges that carry it already (`DirectoryScripts.route`), so
/// viewers spread over the nodes that have the room rather than all landing on its origin.
public enum RedirectChoice {
    /// Loads closer than this count as equal (heartbeat figures are smoothed and seconds old);
    /// between equals, fewer viewers wins, then the origin.
    public static let loadTolerance = 0.1

    /// The node to send the viewer to: one with a usable URL when there is one (else the
    /// origin, whose refusal is then the answer), never `excluding` (this node).
    public static func target(origin: NodeEntry, carriers: [NodeEntry], excluding: String) -> NodeEntry {
        var best = origin
        for c in carriers where c.url != nil && c.id != excluding && c.id != origin.id {
            if best.url == nil || c.load < best.load - loadTolerance
                || (abs(c.load - best.load) <= loadTolerance && c.viewers < best.viewers)
            {
                best = c
            }
        }
        return best
    }
}
