import Testing

@testable import HTTP
@testable import SFU

/// The `/api/rooms` body, byte for byte, from a snapshot with every field set (and the
/// optional ones both present and absent).
@Suite("Room listing JSON")
struct RoomListingJSONTests {
    static let rooms: [RoomSnapshot] = {
        var live = RoomSnapshot(
            name: "live \"1\"", core: 2,
            publisher: RoomSnapshot.Publisher(
                state: "connected", packets: 1200, bytes: 1_340_000, srtpErrors: 1, lossFraction: 0.012_345_6,
                nacksSent: 7, repairedPackets: 5, rttMillis: 23.456_78),
            tracks: [
                RoomSnapshot.Track(
                    kind: "audio", codec: "opus", ssrc: 0xDEAD_BEEF, bitrate: 48_000, packetsIn: 500, bytesIn: 60_000,
                    packetsOut: 1000, bytesOut: 120_000, keyframes: 0, keyframeRequests: 0),
                RoomSnapshot.Track(
                    kind: "video", codec: "VP8", ssrc: 42, bitrate: 1_500_000, packetsIn: 700, bytesIn: 1_280_000,
                    packetsOut: 1400, bytesOut: 2_560_000, keyframes: 3, keyframeRequests: 4, nacksReceived: 9,
                    nacksAnswered: 8, rtxPackets: 6, rtxBytes: 7200, instantStarts: 2, instantStartBytes: 123456,
                    viewerLoss: 0.25, viewerRTTMillis: 12.5),
            ],
            viewers: 2, connectedViewers: 1, packetsIn: 1200, bytesIn: 1_340_000, packetsOut: 2400, bytesOut: 2_680_000)
        live.viewersPerCore = [2: 1, 0: 1]
        live.viewerDetails = [
            RoomSnapshot.Viewer(
                state: "connected", packetsSent: 1200, bytesSent: 1_340_000, loss: 0.000_04, rttMillis: 30, nacks: 3,
                nacksAnswered: 2, rtxBytes: 2400, plis: 1, nackMissing: 1, nackRepeats: 2, nackOverBudget: 3,
                repairFollowUps: 4, bandwidthEstimate: 1_234_567, bandwidthSignal: "transport-cc",
                bandwidthFeedbackIgnored: 5),
            RoomSnapshot.Viewer(
                state: "new", packetsSent: 0, bytesSent: 0, loss: nil, rttMillis: nil, nacks: 0, nacksAnswered: 0,
                rtxBytes: 0, plis: 0),
        ]
        let empty = RoomSnapshot(
            name: "empty", core: 0, publisher: nil, tracks: [], viewers: 0, connectedViewers: 0, packetsIn: 0, bytesIn: 0,
            packetsOut: 0, bytesOut: 0)
        return [empty, live]
    }()

    /// Written by `RoomSnapshot.write(to:)` in the SFU before the rendering moved to HTTP.
    static let golden = #"""
        {"rooms":[{"name":"empty","core":0,"publisher":null,"tracks":[],"viewers":0,"connected_viewers":0,"viewers_per_core":{},"packets_in":0,"bytes_in":0,"packets_out":0,"bytes_out":0,"viewer_details":[]},{"name":"live \"1\"","core":2,"publisher":{"state":"connected","packets":1200,"bytes":1340000,"srtp_errors":1,"loss":0.0123,"nacks_sent":7,"rtx_repaired":5,"rtt_ms":23.4568},"tracks":[{"kind":"audio","codec":"opus","ssrc":3735928559,"bitrate_bps":48000,"packets_in":500,"bytes_in":60000,"packets_out":1000,"bytes_out":120000,"keyframes":0,"keyframe_requests":0,"nacks_received":0,"nacks_answered":0,"rtx_packets":0,"rtx_bytes":0,"instant_starts":0,"instant_start_bytes":null,"viewer_loss":null,"viewer_rtt_ms":null},{"kind":"video","codec":"VP8","ssrc":42,"bitrate_bps":1500000,"packets_in":700,"bytes_in":1280000,"packets_out":1400,"bytes_out":2560000,"keyframes":3,"keyframe_requests":4,"nacks_received":9,"nacks_answered":8,"rtx_packets":6,"rtx_bytes":7200,"instant_starts":2,"instant_start_bytes":123456,"viewer_loss":0.25,"viewer_rtt_ms":12.5}],"viewers":2,"connected_viewers":1,"viewers_per_core":{"0":1,"2":1},"packets_in":1200,"bytes_in":1340000,"packets_out":2400,"bytes_out":2680000,"viewer_details":[{"state":"connected","packets_sent":1200,"bytes_sent":1340000,"loss":0.0,"rtt_ms":30.0,"nacks":3,"nacks_answered":2,"rtx_bytes":2400,"plis":1,"nack_missing":1,"nack_repeats":2,"nack_over_budget":3,"repair_follow_ups":4,"bandwidth_estimate_bps":1234567,"bandwidth_signal":"transport-cc","bandwidth_feedback_ignored":5},{"state":"new","packets_sent":0,"bytes_sent":0,"loss":null,"rtt_ms":null,"nacks":0,"nacks_answered":0,"rtx_bytes":0,"plis":0,"nack_missing":0,"nack_repeats":0,"nack_over_budget":0,"repair_follow_ups":0,"bandwidth_estimate_bps":null,"bandwidth_signal":null,"bandwidth_feedback_ignored":0}]}]}
        """#

    @Test("every field of every room, in the order and format the API has always had")
    func golden() {
        #expect(RoomListingJSON.text(rooms: Self.rooms) == Self.golden)
    }

    @Test("a room's shards fold into its owner's entry: viewers summed and listed by core, egress summed, ingress once")
    func shardsMerge() {
        var owner = RoomSnapshot(
            name: "big", core: 0, publisher: nil,
            tracks: [RoomSnapshot.Track(kind: "video", codec: "VP8", ssrc: 1, bitrate: 1000, packetsIn: 10, bytesIn: 100, packetsOut: 20, bytesOut: 200, keyframes: 1, keyframeRequests: 1)],
            viewers: 2, connectedViewers: 2, packetsIn: 10, bytesIn: 100, packetsOut: 20, bytesOut: 200)
        owner.viewersPerCore = [0: 2]
        var shard = RoomSnapshot(
            name: "big", core: 1, shardOf: 0, publisher: nil,
            tracks: [RoomSnapshot.Track(kind: "video", codec: "VP8", ssrc: 2, bitrate: 1000, packetsIn: 10, bytesIn: 100, packetsOut: 30, bytesOut: 300, keyframes: 1, keyframeRequests: 0)],
            viewers: 3, connectedViewers: 3, packetsIn: 0, bytesIn: 0, packetsOut: 30, bytesOut: 300)
        shard.viewersPerCore = [1: 3]
        let other = RoomSnapshot(
            name: "small", core: 1, publisher: nil, tracks: [], viewers: 1, connectedViewers: 1, packetsIn: 0, bytesIn: 0,
            packetsOut: 0, bytesOut: 0)
        let merged = RoomSnapshot.merged([shard, other, owner]).sorted { $0.name < $1.name }
        #expect(merged.map(\.name) == ["big", "small"])
        let big = merged[0]
        #expect(big.core == 0 && big.shardOf == nil)
        #expect(big.viewers == 5 && big.connectedViewers == 5 && big.viewersPerCore == [0: 2, 1: 3])
        #expect(big.packetsIn == 10 && big.packetsOut == 50 && big.bytesOut == 500)
        #expect(big.tracks.first?.packetsOut == 50 && big.tracks.first?.packetsIn == 10 && big.tracks.first?.keyframes == 1)
    }

    @Test("a simulcast viewer shows its layer, whether it is pinned, the probe bursts sent to it, the timestamp step of its last move, and that it is catching up")
    func simulcastViewer() {
        var room = RoomSnapshot(
            name: "sc", core: 0, publisher: nil, tracks: [], viewers: 1, connectedViewers: 1, packetsIn: 0, bytesIn: 0,
            packetsOut: 0, bytesOut: 0)
        var v = RoomSnapshot.Viewer(
            state: "connected", packetsSent: 0, bytesSent: 0, loss: nil, rttMillis: nil, nacks: 0, nacksAnswered: 0,
            rtxBytes: 0, plis: 0, layer: "q", bandwidthEstimate: 290_000, bandwidthSignal: "transport-cc")
        v.probes = 3
        v.probeBytes = 17_000
        v.probesUp = 1
        v.layerMoves = 2
        v.moveStepTicks = 1
        v.moveReportStepTicks = -3000
        v.catchingUp = true
        room.viewerDetails = [v]
        let text = RoomListingJSON.text(rooms: [room])
        #expect(text.contains(#""bandwidth_estimate_bps":290000,"bandwidth_signal":"transport-cc""#))
        #expect(text.contains(#""bandwidth_feedback_ignored":0,"catching_up":true,"#), "\(text)")
        #expect(text.contains(#""layer":"q","target_layer":null,"pinned":false,"probes":3,"probe_bytes":17000,"probes_up":1"#), "\(text)")
        #expect(text.contains(#""layer_moves":2,"move_step_ticks":1,"move_report_step_ticks":-3000"#), "\(text)")
    }

    @Test("numbers are rounded to 4 decimals; a number JSON cannot hold is written as 0")
    func decimals() {
        #expect(RoomListingJSON.decimal(0.123_456) == "0.1235")
        #expect(RoomListingJSON.decimal(2) == "2.0")
        #expect(RoomListingJSON.decimal(.nan) == "0" && RoomListingJSON.decimal(.infinity) == "0")
    }
}
