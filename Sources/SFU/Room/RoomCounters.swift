/// Per-core plain counters of the media path; read at scrape time, never shared.
public struct RoomCounters: Sendable {
    public var roomsCreated: UInt64 = 0
    public var sessionsCreated: UInt64 = 0
    public var sessionsEnded: [PeerSession.EndReason: UInt64] = [:]
    public var offersRejected: UInt64 = 0
    public var refusedRoomFull: UInt64 = 0
    public var setupTimeouts: UInt64 = 0
    public var consentExpiries: UInt64 = 0
    public var dtlsFailures: UInt64 = 0
    public var stunUnknownUfrag: UInt64 = 0
    public var stunRejected: UInt64 = 0
    public var pliFromViewers: UInt64 = 0
    public var pliSent: UInt64 = 0
    // Dropped packets by reason.
    public var droppedUnknownSource: UInt64 = 0
    public var droppedGarbage: UInt64 = 0
    public var droppedUnexpectedRTP: UInt64 = 0
    public var droppedSRTPErrors: UInt64 = 0
    public var droppedMalformed: UInt64 = 0
    public var droppedUnknownSSRC: UInt64 = 0
    public var droppedPublisherRTX: UInt64 = 0

    public init() {}

    /// Dropped packets by reason label, for `/metrics`.
    public var droppedByReason: [(String, UInt64)] {
        [
            ("unknown_source", droppedUnknownSource), ("garbage", droppedGarbage),
            ("unexpected", droppedUnexpectedRTP), ("srtp", droppedSRTPErrors), ("malformed", droppedMalformed),
            ("unknown_ssrc", droppedUnknownSSRC), ("publisher_rtx", droppedPublisherRTX),
        ]
    }

    /// Adds another core's counters (folding at scrape time).
    public mutating func add(_ o: RoomCounters) {
        roomsCreated &+= o.roomsCreated
        sessionsCreated &+= o.sessionsCreated
        for (k, v) in o.sessionsEnded { sessionsEnded[k, default: 0] &+= v }
        offersRejected &+= o.offersRejected
        refusedRoomFull &+= o.refusedRoomFull
        setupTimeouts &+= o.setupTimeouts
        consentExpiries &+= o.consentExpiries
        dtlsFailures &+= o.dtlsFailures
        stunUnknownUfrag &+= o.stunUnknownUfrag
        stunRejected &+= o.stunRejected
        pliFromViewers &+= o.pliFromViewers
        pliSent &+= o.pliSent
        droppedUnknownSource &+= o.droppedUnknownSource
        droppedGarbage &+= o.droppedGarbage
        droppedUnexpectedRTP &+= o.droppedUnexpectedRTP
        droppedSRTPErrors &+= o.droppedSRTPErrors
        droppedMalformed &+= o.droppedMalformed
        droppedUnknownSSRC &+= o.droppedUnknownSSRC
        droppedPublisherRTX &+= o.droppedPublisherRTX
    }
}
