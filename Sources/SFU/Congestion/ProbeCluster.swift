/// One probe burst to a viewer and what its transport-cc feedback says about it, in the
/// spirit of libwebrtc's probe clusters: the burst is a run of transport-wide sequence
/// numbers (`first` through `last`, extended), sent paced at `targetRate`; every packet in
/// the run counts, the media copies that went out between the probe's own packets too (the
/// path carried all of them). When the feedback has reported the whole run, the rate the path
/// carried is the lower of the rate it was sent at and the rate it arrived at (a link that
/// arrives slower than it was sent is saturated: 95 % of the arrival rate), never above the
/// target: a probe shows only what it tried.
///
/// Feedback that claims the burst arrived more than `maximumReceiveToSendRatio` times faster
/// than it was sent is not a measurement (packets do not overtake their own sending); the
/// cluster is refused and counted as implausible (libwebrtc's `kMaxValidRatio`). Fixed size,
/// allocation-free.
struct ProbeCluster {
    enum Outcome: Equatable {
        /// What the path carried (bits/s), at most the target.
        case carried(Double)
        /// Too few packets arrived, too many were lost, or feedback never covered it.
        case failed
        /// Arrival times that no path could give: refused.
        case implausible
    }

    static let minimumPackets = 5
    /// At most this fraction of the run lost for a measurement.
    static let maximumLossFraction = 0.2
    static let maximumReceiveToSendRatio = 2.0
    /// Below this the spans are noise (transport-cc's arrival times have 250 µs steps).
    static let minimumSpanMicros: Int64 = 1000

    let first: UInt64
    /// The last number of the burst, once it has all been sent.
    private(set) var last: UInt64?
    let targetRate: Double

    private var sentBytes = 0
    private var lastSentSize = 0
    private var firstSend: Int64 = .max
    private var lastSend: Int64 = .min
    private var receivedBytes = 0
    private var firstArrivalSize = 0
    private var firstArrival: Int64 = .max
    private var lastArrival: Int64 = .min
    private var received = 0
    private var lost = 0
    private var newestReported: UInt64 = 0

    init(first: UInt64, targetRate: Double) {
        self.first = first
        self.targetRate = targetRate
    }

    /// The burst has been sent: its last number.
    mutating func close(last: UInt64) { self.last = max(last, first) }

    func contains(_ sequence: UInt64) -> Bool { sequence >= first && sequence <= (last ?? .max) }

    /// One reported packet of the run (its send time and arrival in µs, arrival nil: lost).
    mutating func add(sequence: UInt64, send: Int64, size: Int, arrival: Int64?) {
        newestReported = max(newestReported, sequence)
        sentBytes += size
        if send >= lastSend {
            lastSend = send
            lastSentSize = size
        }
        firstSend = min(firstSend, send)
        guard let arrival else {
            lost += 1
            return
        }
        received += 1
        receivedBytes += size
        if arrival < firstArrival {
            firstArrival = arrival
            firstArrivalSize = size
        }
        lastArrival = max(lastArrival, arrival)
    }

    /// Whether the feedback has reported the last packet of a closed burst.
    var isComplete: Bool { last.map { newestReported >= $0 } ?? false }

    /// The measurement, once complete.
    var outcome: Outcome {
        let total = received + lost
        guard received >= Self.minimumPackets, Double(lost) <= Self.maximumLossFraction * Double(total) else {
            return .failed
        }
        let sendSpan = lastSend - firstSend
        let receiveSpan = lastArrival - firstArrival
        // Sent within one tick (a late timer): the burst went at line rate, the target is
        // what was meant; arrival alone then says what the path carried.
        let sendRate =
            sendSpan >= Self.minimumSpanMicros ? Double(sentBytes - lastSentSize) * 8e6 / Double(sendSpan) : nil
        let receiveRate = Double(receivedBytes - firstArrivalSize) * 8e6 / Double(max(receiveSpan, Self.minimumSpanMicros))
        if let sendRate, receiveSpan < Self.minimumSpanMicros || receiveRate > Self.maximumReceiveToSendRatio * sendRate {
            return .implausible
        }
        var rate = min(sendRate ?? targetRate, receiveRate)
        if let sendRate, receiveRate < 0.9 * sendRate { rate = 0.95 * receiveRate }  // saturated
        return .carried(min(rate, targetRate))
    }
}
