import Reactor

/// Where a video track's latest keyframe starts in its history, and how much the stream has
/// sent since: what a viewer that connects now needs to decode at once (instant start), and
/// where a viewer moving to this simulcast layer starts (kept when instant start is off). The
/// packets themselves stay in the track's `PacketHistory` (no second copy); this keeps their
/// place, and says how large the history must be to hold a whole keyframe interval, up to
/// `maxBytes`.
struct KeyframeCache {
    /// The most a viewer is sent from the past (bytes since the keyframe) and the most the
    /// history is grown for it (`INSTANT_START_MAX_BYTES`); 0 = off.
    let maxBytes: Int
    /// Outbound sequence number of the keyframe's first packet; nil before one, or after the
    /// publisher changed.
    private(set) var start: UInt16?
    private(set) var timestamp: UInt32 = 0
    /// The track's packets-in and bytes-in counts at the keyframe.
    private var startPackets: UInt64 = 0
    private var startBytes: UInt64 = 0
    /// Bytes and packets between the last two keyframes (the keyframe interval's size), 0
    /// before the second.
    private(set) var intervalBytes = 0
    private(set) var intervalPackets = 0

    init(maxBytes: Int) { self.maxBytes = max(maxBytes, 0) }

    /// A keyframe's first packet (`first`, after any packets of the same timestamp before it)
    /// was stored; `packetsIn` and `bytesIn` are the track's counts before it. A repaired
    /// packet of an older keyframe changes nothing.
    mutating func keyframeStored(first: UInt16, timestamp ts: UInt32, packetsIn: UInt64, bytesIn: UInt64) {
        if let start {
            if ts == timestamp {
                // More of the same keyframe (H.264 parameter sets and IDR flagged apart).
                if SequenceNumber(start).isNewer(than: SequenceNumber(first)) { self.start = first }
                return
            }
            guard SequenceNumber(first).isNewer(than: SequenceNumber(start)) else { return }
            intervalBytes = Int(clamping: bytesIn &- startBytes)
            intervalPackets = Int(clamping: packetsIn &- startPackets)
        }
        start = first
        timestamp = ts
        startPackets = packetsIn
        startBytes = bytesIn
    }

    /// The publisher changed: its stream needs its own keyframe.
    mutating func reset() {
        start = nil
        intervalBytes = 0
        intervalPackets = 0
    }

    /// Bytes the stream has received since the keyframe (`bytesIn`: the track's count now).
    func bytesSince(bytesIn: UInt64) -> Int { Int(clamping: bytesIn &- startBytes) }

    /// The keyframe to start a viewer from: nil when off, before a keyframe, when more than
    /// `maxBytes` have come since (a viewer is then better served by a fresh keyframe), or
    /// when the history no longer holds it.
    func usableStart(in history: PacketHistory, bytesIn: UInt64) -> UInt16? {
        guard maxBytes > 0, let start, bytesSince(bytesIn: bytesIn) <= maxBytes,
              history.storedPacket(sequenceNumber: start) != nil
        else { return nil }
        return start
    }

    /// What the history must hold for a keyframe interval (the last one measured, or the one
    /// in progress when longer), with a quarter of headroom; zero when off, before a keyframe,
    /// or when the interval is past `maxBytes` (holding more would start no one).
    func wantedHistory(packetsIn: UInt64, bytesIn: UInt64) -> (bytes: Int, packets: Int) {
        guard maxBytes > 0, start != nil else { return (0, 0) }
        let bytes = max(intervalBytes, bytesSince(bytesIn: bytesIn))
        guard bytes <= maxBytes else { return (0, 0) }
        let packets = max(intervalPackets, Int(clamping: packetsIn &- startPackets))
        return (bytes * 5 / 4, packets * 5 / 4)
    }
}
