/// A Sendable picture of one room, taken on its core for `/api/rooms` and `/metrics`.
public struct RoomSnapshot: Sendable {
    public struct Publisher: Sendable {
        public var state: String
        public var packets: UInt64
        public var bytes: UInt64
        public var srtpErrors: UInt64
        /// Uplink loss the server sees (cumulative lost / expected, over all its media streams).
        public var lossFraction: Double = 0
        /// NACK packets sent to the publisher, and packets it repaired by RTX.
        public var nacksSent: UInt64 = 0
        public var repairedPackets: UInt64 = 0
        /// Round-trip time to the publisher (ms), from its NACK round trips; nil before one.
        public var rttMillis: Double?
    }

    public struct Track: Sendable {
        public var kind: String
        public var codec: String
        public var ssrc: UInt32
        /// Bits per second over the last second.
        public var bitrate: UInt64
        public var packetsIn: UInt64
        public var bytesIn: UInt64
        public var packetsOut: UInt64
        public var bytesOut: UInt64
        public var keyframes: UInt64
        public var keyframeRequests: UInt64
        /// Packets viewers NACKed, resent to them, and the RTX bytes among the resends.
        public var nacksReceived: UInt64 = 0
        public var nacksAnswered: UInt64 = 0
        public var rtxPackets: UInt64 = 0
        public var rtxBytes: UInt64 = 0
        /// Mean loss fraction (0…1) and RTT (ms) from the viewers' receiver reports.
        public var viewerLoss: Double?
        public var viewerRTTMillis: Double?
    }

    /// One viewer's figures (no session id: the session URL is its only credential).
    public struct Viewer: Sendable {
        public var state: String
        public var packetsSent: UInt64
        public var bytesSent: UInt64
        /// Loss fraction (0…1) and RTT (ms) from its receiver reports, nil before one.
        public var loss: Double?
        public var rttMillis: Double?
        public var nacks: UInt64
        public var nacksAnswered: UInt64
        public var rtxBytes: UInt64
        public var plis: UInt64
        /// NACKed packets not resent: gone from the history, repeats within an RTT, over the
        /// resend budget; and the follow-up copies of repairs sent.
        public var nackMissing: UInt64 = 0
        public var nackRepeats: UInt64 = 0
        public var nackOverBudget: UInt64 = 0
        public var repairFollowUps: UInt64 = 0
    }

    public var name: String
    public var core: Int
    public var publisher: Publisher?
    public var tracks: [Track]
    public var viewers: Int
    public var connectedViewers: Int
    public var packetsIn: UInt64
    public var bytesIn: UInt64
    public var packetsOut: UInt64
    public var bytesOut: UInt64
    public var viewerDetails: [Viewer] = []

    /// Writes the JSON object of `/api/rooms` for this room.
    public func write(to o: inout JSONWriter) {
        o.beginObject()
        o.field("name", name)
        o.field("core", core)
        o.key("publisher")
        if let publisher {
            o.beginObject()
            o.field("state", publisher.state)
            o.field("packets", publisher.packets)
            o.field("bytes", publisher.bytes)
            o.field("srtp_errors", publisher.srtpErrors)
            o.key("loss")
            o.raw(Self.decimal(publisher.lossFraction))
            o.field("nacks_sent", publisher.nacksSent)
            o.field("rtx_repaired", publisher.repairedPackets)
            o.key("rtt_ms")
            if let r = publisher.rttMillis { o.raw(Self.decimal(r)) } else { o.null() }
            o.endObject()
        } else {
            o.null()
        }
        o.key("tracks")
        o.beginArray()
        for t in tracks {
            o.beginObject()
            o.field("kind", t.kind)
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
            o.key("viewer_loss")
            if let l = t.viewerLoss { o.raw(Self.decimal(l)) } else { o.null() }
            o.key("viewer_rtt_ms")
            if let r = t.viewerRTTMillis { o.raw(Self.decimal(r)) } else { o.null() }
            o.endObject()
        }
        o.endArray()
        o.field("viewers", viewers)
        o.field("connected_viewers", connectedViewers)
        o.field("packets_in", packetsIn)
        o.field("bytes_in", bytesIn)
        o.field("packets_out", packetsOut)
        o.field("bytes_out", bytesOut)
        o.key("viewer_details")
        o.beginArray()
        for v in viewerDetails {
            o.beginObject()
            o.field("state", v.state)
            o.field("packets_sent", v.packetsSent)
            o.field("bytes_sent", v.bytesSent)
            o.key("loss")
            if let l = v.loss { o.raw(Self.decimal(l)) } else { o.null() }
            o.key("rtt_ms")
            if let r = v.rttMillis { o.raw(Self.decimal(r)) } else { o.null() }
            o.field("nacks", v.nacks)
            o.field("nacks_answered", v.nacksAnswered)
            o.field("rtx_bytes", v.rtxBytes)
            o.field("plis", v.plis)
            o.field("nack_missing", v.nackMissing)
            o.field("nack_repeats", v.nackRepeats)
            o.field("nack_over_budget", v.nackOverBudget)
            o.field("repair_follow_ups", v.repairFollowUps)
            o.endObject()
        }
        o.endArray()
        o.endObject()
    }

    /// A finite number rounded to 4 decimals, as JSON.
    static func decimal(_ v: Double) -> String {
        guard v.isFinite else { return "0" }
        return "\((v * 10_000).rounded() / 10_000)"
    }
}
