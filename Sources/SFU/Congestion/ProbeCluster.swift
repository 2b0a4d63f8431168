/// One probe burst to a viewer and what its transport-cc feedback says about it, in the
/// spirit of libwebrtc's probe clusters: the burst is a run of transport-wide sequence
/// numbers (`first` through `last`, extended), sent paced at `targetRate`; every packet in
/// the run counts, the media copies that went out between the probe's own packets too (the
/// path carried all of them). When the feedback has reported the whole run, the rate the path
/// carried is the lower of the rate it was sent at and the rate it arrived at (a link that
/// arrives slower than it was sent is saturated: 95 % of the arrival rate), never above the
/// target: a probe shows only what it tried.
///
/// The arrival rate is taken over the later half of the arrivals: a token-bucket shaper (an
/// HTB class, a cable modem) lets its bucket's worth through at line rate before it holds
/// packets to its rate, so the first packets of a short burst say nothing about the rate;
/// by the later half the bottleneck's queue has formed and spaces them at its rate (measured
/// on the interop test's 400 kbit/s HTB: over the whole burst a 500 kbit/s probe read as
/// carried, over its later half as 400). Up to `maximumArrivals` arrivals are kept (inline,
/// no allocation); a burst of `LayerProbe.maximumBytes` has at most about 40 packets.
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
    static let maximumArrivals = 48

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
    /// The arrivals (µs) and sizes kept for the later-half rate, in the order reported.
    private var arrivals = InlineArray<48, Int64>(repeating: 0)
    private var sizes = InlineArray<48, UInt16>(repeating: 0)

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
        if received <= Self.maximumArrivals {
            arrivals[received - 1] = arrival
            sizes[received - 1] = UInt16(truncatingIfNeeded: min(size, 0xFFFF))
        }
    }

    /// Bits/s over the later half of the kept arrivals (in arrival order), the first of them
    /// not counted (it starts the span); nil with too few.
    private var laterHalfRate: Double? {
        let n = min(received, Self.maximumArrivals)
        guard n >= 4 else { return nil }
        var a = arrivals
        var z = sizes
        for i in 1..<n {  // insertion sort: few, and nearly in order already
            var j = i
            while j > 0, a[j - 1] > a[j] {
                a.swapAt(j - 1, j)
                z.swapAt(j - 1, j)
                j -= 1
            }
        }
        let from = n / 2
        var bytes = 0
        for i in (from + 1)..<n { bytes += Int(z[i]) }
        return Double(bytes) * 8e6 / Double(max(a[n - 1] - a[from], Self.minimumSpanMicros))
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
        let arrived = min(receiveRate, laterHalfRate ?? receiveRate)
        var rate = min(sendRate ?? targetRate, arrived)
        if let sendRate, arrived < 0.9 * sendRate { rate = 0.95 * arrived }  // saturated
        return .carried(min(rate, targetRate))
    }
}
