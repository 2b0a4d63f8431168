import Cluster
import SFU

/// The body of `GET /api/rooms`, written here from the plain `RoomSnapshot` values the rooms'
/// cores hand over: the SFU says what a room is, the API says how it is shown.
enum RoomListingJSON {
    /// `{"rooms":[…]}` with one object per room, in the order given.
    static func text(rooms: some Sequence<RoomSnapshot>) -> String {
        var o = JSONWriter()
        o.beginObject()
        o.key("rooms")
        o.beginArray()
        for room in rooms { write(room, to: &o) }
        o.endArray()
        o.endObject()
        return o.text
    }

    /// What a node of a cluster adds to its listing: the directory's rooms and nodes, or why
    /// it could not be read (the local rooms are listed either way).
    struct ClusterView {
        var node: String
        var listing: DirectoryListing?
        var unavailable: String?
    }

    /// `{"rooms":[…],"cluster":{…}}`: the local rooms with their origin node (from the
    /// directory), then the directory's rooms held by other nodes or by none but watched on
    /// some (`"local":false`), then the nodes. Every room lists its viewers per node
    /// (`"nodes"`: this node's live, the others' from their last heartbeat).
    static func text(rooms: [RoomSnapshot], cluster: ClusterView) -> String {
        var o = JSONWriter()
        o.beginObject()
        o.key("rooms")
        o.beginArray()
        let origins = cluster.listing?.origins ?? [:]
        let viewers = cluster.listing?.viewers ?? [:]
        let nodes = Dictionary((cluster.listing?.nodes ?? []).map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        for room in rooms {
            let perNode = RoomViewers.entries(
                directory: viewers[room.name] ?? [:], this: cluster.node,
                localViewers: room.viewers - room.relayViewers.count, origin: origins[room.name])
            write(room, to: &o, origin: .some(origins[room.name]), perNode: perNode)
        }
        let local = Set(rooms.map(\.name))
        let elsewhere = Set(origins.keys).union(viewers.keys).subtracting(local)
        for name in elsewhere.sorted() {
            let origin = origins[name]
            o.beginObject()
            o.field("name", name)
            o.field("local", false)
            o.key("origin")
            if let origin { o.string(origin) } else { o.null() }
            o.key("origin_url")
            if let origin, let url = nodes[origin]?.url { o.string(url.text) } else { o.null() }
            o.key("publisher")
            o.null()
            o.key("tracks")
            o.beginArray()
            o.endArray()
            o.field("viewers", 0)
            writeNodes(RoomViewers.entries(directory: viewers[name] ?? [:], this: cluster.node, localViewers: nil, origin: origin), to: &o)
            o.endObject()
        }
        o.endArray()
        o.key("cluster")
        o.beginObject()
        o.field("node", cluster.node)
        o.field("directory", cluster.unavailable.map { "unavailable: \($0)" } ?? "ok")
        o.key("nodes")
        o.beginArray()
        for node in cluster.listing?.nodes ?? [] {
            o.beginObject()
            o.field("id", node.id)
            o.key("url")
            if let url = node.url { o.string(url.text) } else { o.null() }
            o.field("load", node.load, decimals: 3)
            o.field("viewers", node.viewers)
            o.endObject()
        }
        o.endArray()
        o.endObject()
        o.endObject()
        return o.text
    }

    /// `"nodes":[{"node","viewers","origin"}…]`: a room's viewers on each node that carries it.
    static func writeNodes(_ entries: [(node: String, viewers: Int, origin: Bool)], to o: inout JSONWriter) {
        o.key("nodes")
        o.beginArray()
        for e in entries {
            o.beginObject()
            o.field("node", e.node)
            o.field("viewers", e.viewers)
            o.field("origin", e.origin)
            o.endObject()
        }
        o.endArray()
    }

    /// One room's object; `origin` (a node of a cluster only): the ID of the node holding it,
    /// `.some(nil)` when the directory does not know it; `perNode`: its viewers per node.
    static func write(
        _ room: RoomSnapshot, to o: inout JSONWriter, origin: String?? = nil,
        perNode: [(node: String, viewers: Int, origin: Bool)]? = nil
    ) {
        o.beginObject()
        o.field("name", room.name)
        o.field("core", room.core)
        if let origin {
            o.field("local", true)
            o.key("origin")
            if let origin { o.string(origin) } else { o.null() }
        }
        if let perNode { writeNodes(perNode, to: &o) }
        o.key("publisher")
        if let publisher = room.publisher {
            o.beginObject()
            o.field("state", publisher.state)
            o.field("packets", publisher.packets)
            o.field("bytes", publisher.bytes)
            o.field("srtp_errors", publisher.srtpErrors)
            o.key("loss")
            o.raw(decimal(publisher.lossFraction))
            o.field("nacks_sent", publisher.nacksSent)
            o.field("rtx_repaired", publisher.repairedPackets)
            o.key("rtt_ms")
            optionalDecimal(publisher.rttMillis, to: &o)
            o.endObject()
        } else {
            o.null()
        }
        o.key("tracks")
        o.beginArray()
        for t in room.tracks {
            o.beginObject()
            o.field("kind", t.kind)
            if let rid = t.rid {
                o.field("rid", rid)
                o.field("layer_viewers", t.viewers)
            }
            o.field("codec", t.codec)
            o.field("ssrc", t.ssrc)
            o.field("bitrate_bps", t.bitrate)
            o.field("packets_in", t.packetsIn)
            o.field("bytes_in", t.bytesIn)
            o.field("packets_out", t.packetsOut)
            o.field("bytes_out", t.bytesOut)
            o.field("keyframes", t.keyframes)
            o.field("keyframe_requests", t.keyframeRequests)
            o.field("nacks_received", t.nacksReceived)
            o.field("nacks_answered", t.nacksAnswered)
            o.field("rtx_packets", t.rtxPackets)
            o.field("rtx_bytes", t.rtxBytes)
            o.field("instant_starts", t.instantStarts)
            if t.temporalCaps { o.field("temporal_caps", true) }
            if t.temporalBitrates.count > 1 {
                o.key("temporal_bitrates_bps")
                o.beginArray()
                for b in t.temporalBitrates { o.number(b) }
                o.endArray()
                o.field("temporal_held", t.temporalHeld)
            }
            o.key("instant_start_bytes")
            if let b = t.instantStartBytes { o.number(b) } else { o.null() }
            o.key("viewer_loss")
            optionalDecimal(t.viewerLoss, to: &o)
            o.key("viewer_rtt_ms")
            optionalDecimal(t.viewerRTTMillis, to: &o)
            o.endObject()
        }
        o.endArray()
        o.field("viewers", room.viewers)
        o.field("connected_viewers", room.connectedViewers)
        // Each core's viewers of it: the owner's (`core`) and those of its shards.
        o.key("viewers_per_core")
        o.beginObject()
        for (core, n) in room.viewersPerCore.sorted(by: { $0.key < $1.key }) { o.field("\(core)", n) }
        o.endObject()
        if let relay = room.relay {
            // An edge's room: played from its origin through this node's one relay of it.
            o.key("relayed_from")
            o.beginObject()
            o.field("node", relay.origin)
            o.field("state", relay.state)
            o.field("packets", relay.packets)
            o.field("bytes", relay.bytes)
            o.field("keyframe_requests", relay.keyframeRequests)
            o.field("nacks", relay.nacks)
            o.field("reconnects", relay.reconnects)
            o.endObject()
        }
        if !room.relayViewers.isEmpty {
            // An origin's room: the edge nodes relaying it, one entry per relay session.
            o.key("relays")
            o.beginArray()
            for node in room.relayViewers { o.string(node) }
            o.endArray()
        }
        o.field("packets_in", room.packetsIn)
        o.field("bytes_in", room.bytesIn)
        o.field("packets_out", room.packetsOut)
        o.field("bytes_out", room.bytesOut)
        o.key("viewer_details")
        o.beginArray()
        for v in room.viewerDetails {
            o.beginObject()
            o.field("state", v.state)
            o.field("packets_sent", v.packetsSent)
            o.field("bytes_sent", v.bytesSent)
            o.key("loss")
            optionalDecimal(v.loss, to: &o)
            o.key("rtt_ms")
            optionalDecimal(v.rttMillis, to: &o)
            o.field("nacks", v.nacks)
            o.field("nacks_answered", v.nacksAnswered)
            o.field("rtx_bytes", v.rtxBytes)
            o.field("plis", v.plis)
            o.field("nack_missing", v.nackMissing)
            o.field("nack_repeats", v.nackRepeats)
            o.field("nack_over_budget", v.nackOverBudget)
            o.field("repair_follow_ups", v.repairFollowUps)
            o.key("bandwidth_estimate_bps")
            if let e = v.bandwidthEstimate { o.number(e) } else { o.null() }
            o.key("bandwidth_signal")
            if let s = v.bandwidthSignal { o.string(s) } else { o.null() }
            o.field("bandwidth_feedback_ignored", v.bandwidthFeedbackIgnored)
            // Only while true: the listing of a live viewer is as it was.
            if v.catchingUp { o.field("catching_up", true) }
            if let layer = v.layer {
                o.field("layer", layer)
                o.key("target_layer")
                if let t = v.targetLayer { o.string(t) } else { o.null() }
                o.field("pinned", v.pinned)
                o.field("probes", v.probes)
                o.field("probe_bytes", v.probeBytes)
                o.field("probes_up", v.probesUp)
                o.field("layer_moves", v.layerMoves)
                o.key("move_step_ticks")
                if let t = v.moveStepTicks { o.number(t) } else { o.null() }
                o.key("move_report_step_ticks")
                if let t = v.moveReportStepTicks { o.number(t) } else { o.null() }
            }
            // Temporal layers: for a viewer that has had a temporal cap (the listing of the
            // others is as it was).
            if v.temporalCap != nil || v.temporalTarget != nil || v.temporalPinned || v.temporalHeld > 0 {
                o.key("temporal_cap")
                if let c = v.temporalCap { o.number(c) } else { o.null() }
                o.key("temporal_target")
                if let c = v.temporalTarget { o.number(c) } else { o.null() }
                o.field("temporal_pinned", v.temporalPinned)
                o.field("temporal_held", v.temporalHeld)
            }
            o.endObject()
        }
        o.endArray()
        o.endObject()
    }

    /// A finite number rounded to 4 decimals, as JSON (0 when not finite).
    static func decimal(_ v: Double) -> String {
        guard v.isFinite else { return "0" }
        return "\((v * 10_000).rounded() / 10_000)"
    }

    private static func optionalDecimal(_ v: Double?, to o: inout JSONWriter) {
        if let v { o.raw(decimal(v)) } else { o.null() }
    }
}
