/// Per-core plain counters of the media path; read at scrape time, never shared.
public struct RoomCounters: Sendable {
    public var roomsCreated: UInt64 = 0
    public var sessionsCreated: UInt64 = 0
    public var sessionsEnded: [PeerSession.EndReason: UInt64] = [:]
    public var offersRejected: UInt64 = 0
    public var refusedRoomFull: UInt64 = 0
    /// New sessions refused because the core was busy (admission control).
    public var refusedCoreBusy: UInt64 = 0
    /// New sessions refused because their client IP had too many sessions in set-up.
    public var refusedPendingPerIP: UInt64 = 0
    /// Media moved to a new address after the peer confirmed it; moves refused by the rate
    /// limit; checks not answered because their transaction ID came from another address.
    public var iceAddressMoves: UInt64 = 0
    public var iceMovesRateLimited: UInt64 = 0
    public var stunReplaysRefused: UInt64 = 0
    public var setupTimeouts: UInt64 = 0
    public var consentExpiries: UInt64 = 0
    public var dtlsFailures: UInt64 = 0
    public var stunUnknownUfrag: UInt64 = 0
    public var stunRejected: UInt64 = 0
    public var pliFromViewers: UInt64 = 0
    public var pliSent: UInt64 = 0
    /// Keyframes asked for again because a viewer had not received our DTLS Finished when
    /// the one at its connection went out.
    public var viewerKeyframesReRequested: UInt64 = 0
    /// Viewers that connected with no keyframe to start them from (instant start off, none
    /// yet, or too much sent since it): a keyframe was asked of the publisher instead.
    public var instantStartsUnavailable: UInt64 = 0
    /// Simulcast: viewers moved between layers, and layer requests refused (no simulcast, a
    /// RID the publisher does not send).
    public var layerSwitches: UInt64 = 0
    public var layerRequestsRefused: UInt64 = 0
    /// Temporal layers: layer requests refused for their temporal cap (not 0-3 or `auto`, or
    /// a malformed body), and viewer NACKs for numbers its cap left unused or too old to map.
    public var temporalRequestsRefused: UInt64 = 0
    public var nackTemporalUnmapped: UInt64 = 0
    /// Probe bursts sent to viewers on automatic for a higher layer (`LayerProbe`), their
    /// bytes, those that showed the layer fits, and those the core's budget held back.
    public var layerProbes: UInt64 = 0
    public var layerProbeBytes: UInt64 = 0
    public var layerProbesUp: UInt64 = 0
    public var layerProbesOverBudget: UInt64 = 0
    /// Viewers on automatic aimed lower from their bandwidth feedback, before the per-second
    /// check (`RoomManager.downswitchOnFeedback`).
    public var layerDownswitchesOnFeedback: UInt64 = 0
    /// Viewers started from the latest keyframe in the history, those whose keyframe left the
    /// history before they caught up, and the packets and bytes the starts sent.
    public var instantStarts: UInt64 = 0
    public var instantStartsAborted: UInt64 = 0
    public var instantStartPackets: UInt64 = 0
    public var instantStartBytes: UInt64 = 0
    /// Starts sent back to their keyframe: the viewer had no keys yet when they began.
    public var instantStartRewinds: UInt64 = 0
    /// Starts moved on to a newer keyframe before they caught up (no request upstream).
    public var instantStartJumps: UInt64 = 0
    /// The core's shared budget for instant starts (`CatchUpBudget`): bytes sent under it,
    /// sends it held back for a later turn, and turns that emptied it.
    public var instantStartBudgetBytes: UInt64 = 0
    public var instantStartBudgetHeldBack: UInt64 = 0
    public var instantStartBudgetLimitedTurns: UInt64 = 0
    // Dropped packets by reason.
    public var droppedUnknownSource: UInt64 = 0
    public var droppedGarbage: UInt64 = 0
    public var droppedUnexpectedRTP: UInt64 = 0
    public var droppedSRTPErrors: UInt64 = 0
    public var droppedMalformed: UInt64 = 0
    public var droppedUnknownSSRC: UInt64 = 0
    /// Packets of one SSRC more than a peer may have SRTP streams for (`SRTPContext`).
    public var droppedTooManySSRCs: UInt64 = 0
    public var droppedPublisherRTX: UInt64 = 0
    /// Fan-out copies not sent: the viewer negotiated another codec, SRTP protect failed, the
    /// socket's send queue was full, or the publisher left before its batch went out.
    public var droppedCodecMismatch: UInt64 = 0
    public var droppedProtectFailed: UInt64 = 0
    public var droppedSendQueueFull: UInt64 = 0
    public var droppedPublisherLeft: UInt64 = 0
    // Quality loop.
    /// NACK packets from viewers answered from the history, and NACKs naming no track of theirs.
    public var nackPacketsFromViewers: UInt64 = 0
    public var nackUnknownSSRC: UInt64 = 0
    /// NACK packets sent to publishers and the packets they named.
    public var upstreamNacksSent: UInt64 = 0
    public var upstreamNackedPackets: UInt64 = 0
    /// Publisher packets recovered through its RTX, and its padding-only RTX probes.
    public var publisherRTXRepaired: UInt64 = 0
    public var publisherRTXProbes: UInt64 = 0
    public var transportFeedbacksSent: UInt64 = 0
    public var senderReportsToViewers: UInt64 = 0
    public var receiverReportsSent: UInt64 = 0
    // Edge relays (`RelaySource`): set up, ended, and the RTP they brought from origins.
    public var relaysAttached: UInt64 = 0
    public var relaysEnded: UInt64 = 0
    public var relayPacketsIn: UInt64 = 0
    /// One room on every core (`RoomManager+Shards`). On an owner: shards opened and closed,
    /// packets written to shard rings, and messages refused by a full ring (that shard misses
    /// them; its viewers' NACKs and keyframe requests repair it). On a shard core: shard rooms
    /// opened, packets read from rings, messages for a room no longer here, keyframe requests
    /// taken from shards (on the owner).
    public var shardsOpened: UInt64 = 0
    /// On a home core: new rooms placed, and those placed on another core (the lighter one).
    public var roomsPlaced: UInt64 = 0
    public var roomsPlacedElsewhere: UInt64 = 0
    public var shardsClosed: UInt64 = 0
    public var shardPacketsOut: UInt64 = 0
    public var shardRingDrops: UInt64 = 0
    public var shardRoomsOpened: UInt64 = 0
    /// Shard rooms ended because this core became the room's owner before the old owner's
    /// close arrived (`RoomManager.roomToOwn`).
    public var staleShardRoomsClosed: UInt64 = 0
    public var shardPacketsIn: UInt64 = 0
    public var shardMessagesUnknown: UInt64 = 0
    public var shardKeyframeRequestsIn: UInt64 = 0
    public var relayBytesIn: UInt64 = 0

    public init() {}

    /// Refused new sessions by reason label, for `/metrics`.
    public var refusedByReason: [(String, UInt64)] {
        [("core_busy", refusedCoreBusy), ("room_full", refusedRoomFull), ("pending_per_ip", refusedPendingPerIP)]
    }

    /// Dropped packets by reason label, for `/metrics`.
    public var droppedByReason: [(String, UInt64)] {
        [
            ("unknown_source", droppedUnknownSource), ("garbage", droppedGarbage),
            ("unexpected", droppedUnexpectedRTP), ("srtp", droppedSRTPErrors), ("malformed", droppedMalformed),
            ("unknown_ssrc", droppedUnknownSSRC), ("too_many_ssrcs", droppedTooManySSRCs),
            ("publisher_rtx", droppedPublisherRTX),
            ("codec_mismatch", droppedCodecMismatch), ("protect_failed", droppedProtectFailed),
            ("send_queue_full", droppedSendQueueFull), ("publisher_left", droppedPublisherLeft),
        ]
    }

    /// Adds a room's fan-out drops and instant starts, both tracks (a live room's at scrape
    /// time, a closed room's for good).
    mutating func addFanoutFigures(of room: Room) {
        for f in room.fanouts {
            droppedCodecMismatch &+= f.droppedNoCodecMatch
            droppedProtectFailed &+= f.protectErrors
            droppedSendQueueFull &+= f.sendQueueFull
            droppedPublisherLeft &+= f.droppedNoSource
            instantStarts &+= f.instantStarts
            instantStartsAborted &+= f.instantStartsAborted
            instantStartPackets &+= f.instantStartPackets
            instantStartRewinds &+= f.instantStartRewinds
            instantStartJumps &+= f.instantStartJumps
            instantStartBytes &+= f.instantStartBytes
        }
    }

    /// Adds another core's counters (folding at scrape time).
    public mutating func add(_ o: RoomCounters) {
        roomsCreated &+= o.roomsCreated
        sessionsCreated &+= o.sessionsCreated
        for (k, v) in o.sessionsEnded { sessionsEnded[k, default: 0] &+= v }
        offersRejected &+= o.offersRejected
        refusedRoomFull &+= o.refusedRoomFull
        refusedCoreBusy &+= o.refusedCoreBusy
        refusedPendingPerIP &+= o.refusedPendingPerIP
        iceAddressMoves &+= o.iceAddressMoves
        iceMovesRateLimited &+= o.iceMovesRateLimited
        stunReplaysRefused &+= o.stunReplaysRefused
        setupTimeouts &+= o.setupTimeouts
        consentExpiries &+= o.consentExpiries
        dtlsFailures &+= o.dtlsFailures
        stunUnknownUfrag &+= o.stunUnknownUfrag
        stunRejected &+= o.stunRejected
        pliFromViewers &+= o.pliFromViewers
        pliSent &+= o.pliSent
        viewerKeyframesReRequested &+= o.viewerKeyframesReRequested
        instantStartsUnavailable &+= o.instantStartsUnavailable
        layerSwitches &+= o.layerSwitches
        layerRequestsRefused &+= o.layerRequestsRefused
        temporalRequestsRefused &+= o.temporalRequestsRefused
        nackTemporalUnmapped &+= o.nackTemporalUnmapped
        layerProbes &+= o.layerProbes
        layerProbeBytes &+= o.layerProbeBytes
        layerProbesUp &+= o.layerProbesUp
        layerDownswitchesOnFeedback &+= o.layerDownswitchesOnFeedback
        layerProbesOverBudget &+= o.layerProbesOverBudget
        instantStarts &+= o.instantStarts
        instantStartsAborted &+= o.instantStartsAborted
        instantStartPackets &+= o.instantStartPackets
        instantStartBytes &+= o.instantStartBytes
        instantStartRewinds &+= o.instantStartRewinds
        instantStartJumps &+= o.instantStartJumps
        instantStartBudgetBytes &+= o.instantStartBudgetBytes
        instantStartBudgetHeldBack &+= o.instantStartBudgetHeldBack
        instantStartBudgetLimitedTurns &+= o.instantStartBudgetLimitedTurns
        droppedUnknownSource &+= o.droppedUnknownSource
        droppedGarbage &+= o.droppedGarbage
        droppedUnexpectedRTP &+= o.droppedUnexpectedRTP
        droppedSRTPErrors &+= o.droppedSRTPErrors
        droppedMalformed &+= o.droppedMalformed
        droppedUnknownSSRC &+= o.droppedUnknownSSRC
        droppedTooManySSRCs &+= o.droppedTooManySSRCs
        droppedPublisherRTX &+= o.droppedPublisherRTX
        droppedCodecMismatch &+= o.droppedCodecMismatch
        droppedProtectFailed &+= o.droppedProtectFailed
        droppedSendQueueFull &+= o.droppedSendQueueFull
        droppedPublisherLeft &+= o.droppedPublisherLeft
        nackPacketsFromViewers &+= o.nackPacketsFromViewers
        nackUnknownSSRC &+= o.nackUnknownSSRC
        upstreamNacksSent &+= o.upstreamNacksSent
        upstreamNackedPackets &+= o.upstreamNackedPackets
        publisherRTXRepaired &+= o.publisherRTXRepaired
        publisherRTXProbes &+= o.publisherRTXProbes
        transportFeedbacksSent &+= o.transportFeedbacksSent
        senderReportsToViewers &+= o.senderReportsToViewers
        receiverReportsSent &+= o.receiverReportsSent
    }
}
