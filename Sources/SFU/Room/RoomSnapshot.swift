/// A Sendable picture of one room, taken on its core for `/api/rooms` and `/metrics`.
public struct RoomSnapshot: Sendable {
    public struct Publisher: Sendable {
        public var state: String
        public var packets: UInt64
        public var bytes: UInt64
        public var srtpErrors: UInt64
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
            o.endObject()
        }
        o.endArray()
        o.field("viewers", viewers)
        o.field("connected_viewers", connectedViewers)
        o.field("packets_in", packetsIn)
        o.field("bytes_in", bytesIn)
        o.field("packets_out", packetsOut)
        o.field("bytes_out", bytesOut)
        o.endObject()
    }
}
