/// The figures one event loop keeps for the viewers and publishers it runs: plain
/// integers and histograms, touched only on that loop, copied out once a second.
public struct LoadCounters: Sendable {
    // Joins.
    public var viewersStarted = 0
    public var viewersAnswered = 0
    public var viewersICEConnected = 0
    public var viewersDTLSConnected = 0
    public var viewersWithMedia = 0
    public var viewersWithKeyframe = 0
    /// Viewers that failed, refused ones (`viewersRefused`) not included.
    public var viewersFailed = 0
    /// Viewers the server refused with 503 (a full room, a busy core): it said no promptly
    /// rather than accepting a session it could not serve; not counted in `viewersFailed`.
    public var viewersRefused = 0
    /// Offers made again after a 503 + `Retry-After` (`--retry-refused`).
    public var refusalsRetried = 0
    public var viewersClosed = 0
    public var viewersStalled = 0
    /// Sessions ended with DELETE (2xx) and DELETEs that failed; set once at the end.
    public var deletesOK = 0
    public var deletesFailed = 0
    /// Answered sessions whose answer had no Location header (they cannot be DELETEd).
    public var missingLocation = 0
    public var publishersConnected = 0
    public var publishersFailed = 0
    /// Join phases, nanoseconds from the start of the viewer's POST.
    public var joinHTTP = LatencyHistogram()
    public var joinICE = LatencyHistogram()
    public var joinDTLS = LatencyHistogram()
    public var joinFirstPacket = LatencyHistogram()
    public var joinFirstKeyframe = LatencyHistogram()
    /// The last moment a viewer got its first packet (ns, monotonic); for the join span.
    public var lastFirstPacketNanos: UInt64 = 0
    public var firstJoinStartNanos: UInt64 = .max

    // Media received by viewers.
    public var packetsReceived: UInt64 = 0
    public var bytesReceived: UInt64 = 0
    public var videoExpected: UInt64 = 0
    public var videoReceived: UInt64 = 0
    public var audioExpected: UInt64 = 0
    public var audioReceived: UInt64 = 0
    public var duplicates: UInt64 = 0
    public var unknownPackets: UInt64 = 0
    public var srtpVerified: UInt64 = 0
    public var srtpFailures: UInt64 = 0
    public var stampMissing: UInt64 = 0
    public var nacksSent: UInt64 = 0
    public var nackedPackets: UInt64 = 0
    public var plisSent: UInt64 = 0
    public var receiverReportsSent: UInt64 = 0
    /// One-way latency of stamped packets on verified viewers (ns), since the start.
    public var latency = LatencyHistogram()
    /// The same, for the current second only.
    public var latencyInterval = LatencyHistogram()
    /// The same, in the steady state only (from the steady window's start: every viewer has
    /// joined and settled), so join-time queueing does not hide the forwarding latency.
    public var latencySteady = LatencyHistogram()
    /// Steady-state latency up to when the load tool processed each packet (its event loop's
    /// time), so its own queueing is included: shows how much of the latency is the tool's.
    public var latencySteadyProcessed = LatencyHistogram()
    public var jitterMaxMs: Double = 0
    public var jitterSumMs: Double = 0
    public var jitterSamples = 0

    // Publisher.
    public var publisherPacketsSent: UInt64 = 0
    public var publisherBytesSent: UInt64 = 0
    public var publisherKeyframes: UInt64 = 0
    public var publisherPLIsReceived: UInt64 = 0
    public var publisherNACKsReceived: UInt64 = 0
    public var publisherRetransmissions: UInt64 = 0
    public var sendDropped: UInt64 = 0
    /// Simulcast: keyframe requests that named each layer's SSRC (`--simulcast`).
    public var publisherLayerKeyframeRequests = [UInt64](repeating: 0, count: LoadCounters.maxLayers)
    public static let maxLayers = 4
    /// Viewers moved to a layer with `POST …/layer` (`--spread-layers`): answered 2xx, or not;
    /// set once at the end.
    public var layerRequestsOK = 0
    public var layerRequestsFailed = 0

    /// Per viewer server (`--viewer-server`): packets its viewers received, and their
    /// steady-state latency. Sized by the loop at start; merged element by element.
    public var byServer: [ServerFigures] = []

    public struct ServerFigures: Sendable {
        public var packetsReceived: UInt64 = 0
        public var latencySteady = LatencyHistogram()
    }

    /// Per-viewer delivery ratios, filled in the final snapshot only.
    public var viewerDelivery: [Double] = []
    /// Failure reasons seen (first few kept).
    public var failures: [String] = []

    public init() {}

    public mutating func noteFailure(_ reason: String) {
        if failures.count < 20 { failures.append(reason) }
    }

    public mutating func merge(_ o: LoadCounters) {
        viewersStarted += o.viewersStarted
        viewersAnswered += o.viewersAnswered
        viewersICEConnected += o.viewersICEConnected
        viewersDTLSConnected += o.viewersDTLSConnected
        viewersWithMedia += o.viewersWithMedia
        viewersWithKeyframe += o.viewersWithKeyframe
        viewersFailed += o.viewersFailed
        viewersRefused += o.viewersRefused
        refusalsRetried += o.refusalsRetried
        viewersClosed += o.viewersClosed
        viewersStalled += o.viewersStalled
        missingLocation += o.missingLocation
        publishersConnected += o.publishersConnected
        publishersFailed += o.publishersFailed
        joinHTTP.merge(o.joinHTTP)
        joinICE.merge(o.joinICE)
        joinDTLS.merge(o.joinDTLS)
        joinFirstPacket.merge(o.joinFirstPacket)
        joinFirstKeyframe.merge(o.joinFirstKeyframe)
        lastFirstPacketNanos = max(lastFirstPacketNanos, o.lastFirstPacketNanos)
        firstJoinStartNanos = min(firstJoinStartNanos, o.firstJoinStartNanos)
        packetsReceived += o.packetsReceived
        bytesReceived += o.bytesReceived
        videoExpected += o.videoExpected
        videoReceived += o.videoReceived
        audioExpected += o.audioExpected
        audioReceived += o.audioReceived
        duplicates += o.duplicates
        unknownPackets += o.unknownPackets
        srtpVerified += o.srtpVerified
        srtpFailures += o.srtpFailures
        stampMissing += o.stampMissing
        nacksSent += o.nacksSent
        nackedPackets += o.nackedPackets
        plisSent += o.plisSent
        receiverReportsSent += o.receiverReportsSent
        latency.merge(o.latency)
        latencyInterval.merge(o.latencyInterval)
        latencySteady.merge(o.latencySteady)
        latencySteadyProcessed.merge(o.latencySteadyProcessed)
        jitterMaxMs = max(jitterMaxMs, o.jitterMaxMs)
        jitterSumMs += o.jitterSumMs
        jitterSamples += o.jitterSamples
        publisherPacketsSent += o.publisherPacketsSent
        publisherBytesSent += o.publisherBytesSent
        publisherKeyframes += o.publisherKeyframes
        publisherPLIsReceived += o.publisherPLIsReceived
        publisherNACKsReceived += o.publisherNACKsReceived
        publisherRetransmissions += o.publisherRetransmissions
        sendDropped += o.sendDropped
        for i in 0..<Self.maxLayers { publisherLayerKeyframeRequests[i] += o.publisherLayerKeyframeRequests[i] }
        viewerDelivery += o.viewerDelivery
        while byServer.count < o.byServer.count { byServer.append(ServerFigures()) }
        for (i, f) in o.byServer.enumerated() {
            byServer[i].packetsReceived &+= f.packetsReceived
            byServer[i].latencySteady.merge(f.latencySteady)
        }
        for f in o.failures where failures.count < 20 { failures.append(f) }
    }

    public var expected: UInt64 { videoExpected + audioExpected }
    public var received: UInt64 { videoReceived + audioReceived }
    public var lost: UInt64 { expected > received ? expected - received : 0 }
    public var deliveryRatio: Double { expected > 0 ? Double(received) / Double(expected) : 0 }
}
