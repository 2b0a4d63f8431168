/// A Sendable picture of one room, taken on its core for `/api/rooms` and `/metrics`: plain
/// values; how they are shown is the HTTP layer's (`RoomListingJSON`, `CoreMetrics`).
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
        /// Viewers started from the latest keyframe, and what a viewer connecting now would
        /// be sent (bytes since the keyframe; nil: a keyframe would be asked for instead).
        public var instantStarts: UInt64 = 0
        public var instantStartBytes: Int?
        /// Simulcast: the layer's RID (nil without simulcast) and the viewers on it.
        public var rid: String?
        public var viewers = 0
        /// Temporal layers (VP8, VP9): bits/s of the frames of layers 0…t by t (empty or one
        /// entry without temporal layers), and copies held back by viewers' temporal caps.
        public var temporalBitrates: [UInt64] = []
        public var temporalHeld: UInt64 = 0
        /// Whether its viewers may be capped at a temporal layer (`temporal=N`): its codec's
        /// temporal layers are read (VP8, VP9), whether or not the publisher sends any.
        public var temporalCaps = false
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
        /// Simulcast: the RID of the layer it is on, and of the one it is moving to.
        public var layer: String?
        public var targetLayer: String?
        public var nackMissing: UInt64 = 0
        public var nackRepeats: UInt64 = 0
        public var nackOverBudget: UInt64 = 0
        public var repairFollowUps: UInt64 = 0
        /// The send-side bandwidth estimate (bits/s) and the signal it comes from
        /// (`BandwidthSignal`: transport-cc, remb, receiver-reports); nil before one.
        public var bandwidthEstimate: UInt64?
        public var bandwidthSignal: String?
        /// Feedback entries the estimator ignored (unknown or repeated numbers, absurd
        /// arrival times, implausible REMB).
        public var bandwidthFeedbackIgnored: UInt64 = 0
        /// Simulcast: whether it is pinned to its layer through the API, and the probe bursts
        /// sent to it (and their bytes) to show it carries a higher layer.
        public var pinned = false
        public var probes: UInt64 = 0
        public var probeBytes: UInt64 = 0
        /// Bursts that showed the next layer fits.
        public var probesUp: UInt64 = 0
        /// Its moves between layers; the timestamp step (RTP ticks) its last move gave the new
        /// layer's keyframe, and the step both layers' sender reports put between the two
        /// frames' captures (nil: no fresh report for one of them).
        public var layerMoves: UInt64 = 0
        /// Its video is being sent out of the history (an instant start, or a move's catch-up
        /// from the new layer's keyframe): not yet live.
        public var catchingUp = false
        public var moveStepTicks: UInt32?
        public var moveReportStepTicks: Int64?
        /// Temporal layers: the cap in force (nil: every layer), the one it is going to (up at
        /// the next switching point, down at the next frame), whether it was asked for
        /// through the API, and the packets it held back.
        public var temporalCap: Int?
        public var temporalTarget: Int?
        public var temporalPinned = false
        public var temporalHeld: UInt64 = 0
    }

    /// On an edge: the relay the room is played through from its origin node.
    public struct Relay: Sendable {
        public var origin: String
        /// `connecting` or `connected`.
        public var state: String
        public var packets: UInt64
        public var bytes: UInt64
        public var keyframeRequests: UInt64
        public var nacks: UInt64
        /// Relays set up again for the room after one ended.
        public var reconnects: Int
    }

    public var name: String
    public var core: Int
    /// A shard (`RoomManager+Shards`): the core that owns the room; nil on the owner. A
    /// shard's figures are its viewers' (its ingress is the owner's, not counted again).
    public var shardOf: Int?
    /// Viewers by core: this core's alone in a core's snapshot; every core's once merged
    /// (`merged`).
    public var viewersPerCore: [Int: Int] = [:]
    public var publisher: Publisher?
    public var tracks: [Track]
    public var viewers: Int
    public var connectedViewers: Int
    public var packetsIn: UInt64
    public var bytesIn: UInt64
    public var packetsOut: UInt64
    public var bytesOut: UInt64
    public var viewerDetails: [Viewer] = []
    public var relay: Relay?
    /// On an origin: the edge nodes whose relays are among the viewers, one entry per relay.
    public var relayViewers: [String] = []

    /// Every core's snapshots with each room's shards folded into its owner's: viewers, their
    /// figures and the egress summed, viewers listed by core. A shard whose owner's snapshot is
    /// missing (the room just closed there) stands alone.
    public static func merged(_ all: [RoomSnapshot]) -> [RoomSnapshot] {
        var byName: [String: RoomSnapshot] = [:]
        for r in all where r.shardOf == nil { byName[r.name] = r }
        for r in all where r.shardOf != nil {
            guard var owner = byName[r.name] else {
                byName[r.name] = r
                continue
            }
            owner.viewers += r.viewers
            owner.connectedViewers += r.connectedViewers
            owner.packetsOut &+= r.packetsOut
            owner.bytesOut &+= r.bytesOut
            owner.viewerDetails += r.viewerDetails
            owner.viewersPerCore.merge(r.viewersPerCore, uniquingKeysWith: +)
            for t in r.tracks {
                guard let i = owner.tracks.firstIndex(where: { $0.kind == t.kind && $0.rid == t.rid }) else { continue }
                owner.tracks[i].packetsOut &+= t.packetsOut
                owner.tracks[i].bytesOut &+= t.bytesOut
                owner.tracks[i].viewers += t.viewers
                owner.tracks[i].nacksReceived &+= t.nacksReceived
                owner.tracks[i].nacksAnswered &+= t.nacksAnswered
                owner.tracks[i].rtxPackets &+= t.rtxPackets
                owner.tracks[i].rtxBytes &+= t.rtxBytes
                owner.tracks[i].instantStarts &+= t.instantStarts
            }
            byName[r.name] = owner
        }
        return Array(byName.values)
    }
}
