import Reactor

/// One viewer's send-side bandwidth estimate, sans-IO: fed what was sent (`SentPacketLog`),
/// the viewer's transport-cc feedback, its REMB and its receiver reports, with the time; it
/// gives bits/s and the signal they come from.
///
/// With transport-cc (in the spirit of draft-ietf-rmcat-gcc-02, as Chromium's sender does
/// it): packets are grouped by send time, the inter-group delay variation goes through a
/// trendline filter and an adaptive over-use detector, and AIMD turns that into a
/// delay-based rate; the loss the feedback shows drives a loss-based rate; the estimate is
/// the lower of the two. A viewer that sends no transport-cc gets its REMB (lowered by
/// heavy receiver-report loss), and one that sends only receiver reports a loss-based rate
/// started from what it was sent. The freshest of these, in that order of preference,
/// is the estimate.
///
/// Bounded everywhere: fixed windows, and feedback that makes no sense is ignored and
/// counted, never trusted: numbers never sent or already forgotten, repeats, arrival times
/// that jump by more than `maxClockJumpMicros` against the send times (after
/// `rebaselineAfter` such feedbacks in a row the viewer's clock is taken to have been reset
/// and the delay state starts over), REMB above `implausibleBitrate`, an acknowledged rate
/// more than `maximumAckedToSentRatio` times the rate the same packets were sent at (capped
/// there: a draining queue delivers faster than it was filled, but not that much), a probe
/// burst that arrived faster than it was sent (`ProbeCluster`). Estimates stay within `range`.
///
/// Probes: the delay-based rate never grows past 1.5 × what was acknowledged, so a viewer
/// on a low simulcast layer could never show it carries a higher one. The room sends it a
/// probe burst (`LayerProbe`) and tells the estimator its numbers (`startProbe`,
/// `closeProbe`); when the feedback has covered it, what it showed the path carried raises
/// the delay- and loss-based rates (never lowers them: decreases are the detectors' work),
/// as libwebrtc's probe results set its delay-based estimate.
public struct BandwidthEstimator {
    /// Estimates are kept within this range (bits/s).
    public static let range: ClosedRange<Double> = 30_000...50_000_000
    /// A REMB above this (10 Gbit/s) is not a measurement.
    public static let implausibleBitrate: UInt64 = 10_000_000_000
    static let maxClockJumpMicros: Int64 = 2_000_000
    static let rebaselineAfter = 3
    /// A signal counts as current for this long after its last feedback.
    static let transportCCFreshness: Duration = .seconds(3)
    static let rembFreshness: Duration = .seconds(5)
    /// Assumed round trip before a receiver report measured one.
    static let defaultRTTMicros: Int64 = 100_000
    /// A queue that drains delivers faster than it was filled: a second's queue emptied
    /// within `AckedBitrate`'s shortest span reads as 5 × the send rate. Past 8 × it would
    /// take a queue of nearly two seconds: taken as forged.
    static let maximumAckedToSentRatio = 8.0

    private var groups = PacketGroupDeltas()
    private var trendline = TrendlineFilter()
    private var detector = OveruseDetector()
    private var acked = AckedBitrate()
    /// The acknowledged packets' bytes by their send time (the same window): what the
    /// acknowledged rate is checked against.
    private var ackedBySend = AckedBitrate()
    private var probe: ProbeCluster?
    private var probeOutcome: ProbeCluster.Outcome?
    private var delayBased: AIMDRateControl?
    private var lossBased = LossBasedControl()
    /// Arrival − send time (µs) of the last accepted packet: the clock offset plus the path delay.
    private var lastOffset: Int64?
    private var absurdInARow = 0
    private var lastTransportCC: Instant?

    private var remb: Double?
    private var lastREMB: Instant?
    private var reportLoss = LossBasedControl()
    private var reportFraction = 0.0
    private var lastReport: Instant?
    private var lastReportBytes: UInt64?
    private var sentRate: Double?

    // Figures.
    public private(set) var feedbacks: UInt64 = 0
    public private(set) var packetsAcknowledged: UInt64 = 0
    public private(set) var packetsLost: UInt64 = 0
    /// Feedback entries for numbers never sent, or sent too long ago to be remembered.
    public private(set) var unknownSequence: UInt64 = 0
    /// Entries about a packet already reported.
    public private(set) var repeatedReports: UInt64 = 0
    /// Feedback whose arrival times were absurd (ignored), and times the delay state
    /// started over after a run of them.
    public private(set) var absurdFeedback: UInt64 = 0
    public private(set) var rebaselines: UInt64 = 0
    /// REMB above `implausibleBitrate`.
    public private(set) var implausibleREMB: UInt64 = 0
    /// Transport-cc feedback from a viewer that did not negotiate it (nothing was numbered).
    public private(set) var unnegotiatedFeedback: UInt64 = 0
    /// Feedback whose acknowledged rate was more than `maximumAckedToSentRatio` × the send
    /// rate of the same packets (capped there), and probe bursts it said arrived faster than
    /// they were sent (refused): bandwidth no path could have shown.
    public private(set) var implausibleRates: UInt64 = 0
    public private(set) var implausibleProbes: UInt64 = 0
    /// Probe bursts measured, and those that failed (lost, too few packets, never covered).
    public private(set) var probesMeasured: UInt64 = 0
    public private(set) var probesFailed: UInt64 = 0
    /// Everything ignored, summed (`/api/rooms`).
    public var ignoredFeedback: UInt64 {
        unknownSequence &+ repeatedReports &+ absurdFeedback &+ implausibleREMB &+ unnegotiatedFeedback
            &+ implausibleRates &+ implausibleProbes
    }
    /// Over-use detections that lowered the delay-based rate.
    public var delayDecreases: UInt64 { delayBased?.decreases ?? 0 }
    /// The detector's last verdict and threshold (ms), for diagnosis.
    var usage: OveruseDetector.Usage { detector.usage }

    public init() {}

    /// One transport-cc feedback: `forEachPacket` calls its argument with every reported
    /// sequence number and its arrival time on the viewer's clock (µs), nil when lost, in
    /// sequence order (as `RTCPTransportFeedback.forEachPacket` does). `rtt` from the
    /// viewer's receiver reports when known.
    public mutating func transportFeedback(
        log: SentPacketLog, rtt: Duration? = nil, now: Instant,
        _ forEachPacket: ((UInt16, Int64?) -> Void) -> Void
    ) {
        feedbacks &+= 1
        let rttMicros = rtt.map { Int64($0.nanoseconds / 1000) } ?? Self.defaultRTTMicros
        // First pass, nothing changed: arrival times that jump against the send times make
        // the whole feedback absurd (a forged or corrupted packet, or a reset clock).
        var absurd = false
        var reference = lastOffset
        forEachPacket { seq, arrival in
            guard !absurd, let arrival, let entry = log.lookup(seq), !entry.pointee.reported else { return }
            let offset = arrival - entry.pointee.sendMicros(now: now)
            if let r = reference, abs(offset - r) > Self.maxClockJumpMicros { absurd = true }
            reference = offset
        }
        if absurd {
            absurdFeedback &+= 1
            absurdInARow += 1
            if absurdInARow >= Self.rebaselineAfter {
                // Several in a row: the viewer's clock was reset. Start the delay state over
                // (the next feedback sets the new offset).
                rebaselines &+= 1
                absurdInARow = 0
                lastOffset = nil
                groups.reset()
                trendline.reset()
                detector.reset()
                acked.reset()
                ackedBySend.reset()
            }
            return
        }
        absurdInARow = 0
        var lost = 0
        var received = 0
        var processed = 0
        var overused = false
        forEachPacket { seq, arrival in
            guard let entry = log.lookup(seq) else {
                unknownSequence &+= 1
                return
            }
            guard !entry.pointee.reported else {
                repeatedReports &+= 1
                return
            }
            entry.pointee.reported = true
            processed += 1
            let send = entry.pointee.sendMicros(now: now)
            if probe != nil, let n = log.extended(seq), probe!.contains(n) {
                probe!.add(sequence: n, send: send, size: Int(entry.pointee.size), arrival: arrival)
            }
            let countsForLoss = send >= lossBased.countsFrom
            guard let arrival else {
                if countsForLoss { lost += 1 }
                packetsLost &+= 1
                return
            }
            lastOffset = arrival - send
            if countsForLoss { received += 1 }
            packetsAcknowledged &+= 1
            acked.add(arrival: arrival, size: Int(entry.pointee.size))
            ackedBySend.add(arrival: send, size: Int(entry.pointee.size))
            if let d = groups.add(send: send, arrival: arrival) {
                let trend = trendline.update(d)
                if detector.detect(
                    trend: trend, rawTrend: trendline.slope, sendDeltaMillis: d.sendMillis,
                    samples: trendline.sampleCount, now: d.arrival) == .overusing
                {
                    overused = true
                }
            }
        }
        guard processed > 0 else { return }
        lastTransportCC = now
        var completed: ProbeCluster.Outcome?
        if let p = probe, p.isComplete {
            probe = nil
            completed = p.outcome
            probeOutcome = completed
        }
        guard var rate = acked.rate else { return }
        if let sent = ackedBySend.rate, rate > Self.maximumAckedToSentRatio * sent {
            implausibleRates &+= 1
            rate = Self.maximumAckedToSentRatio * sent
        }
        let nowMicros = Int64(now.nanoseconds / 1000)
        if delayBased == nil {
            // The first estimate: what the path has just been seen to carry.
            delayBased = AIMDRateControl(initial: rate, range: Self.range)
        }
        delayBased!.update(
            usage: overused ? .overusing : detector.usage, acked: rate, now: nowMicros, rtt: rttMicros)
        let delayRate = delayBased!.rate
        lossBased.follow(delayRate)
        lossBased.count(
            lost: lost, received: received, now: nowMicros, rtt: rttMicros, ceiling: delayRate,
            floor: AIMDRateControl.beta * rate)
        lossBased.follow(delayRate)
        if !overused, detector.usage == .normal, lossBased.lossFraction < 0.02, let sent = ackedBySend.rate,
            rate >= 0.9 * sent
        {
            // What the path has just carried with no queue building, no loss, and arriving as
            // fast as it was sent, it can carry: the estimate is not left below it (a
            // publisher ramping its layer up faster than the 8 %/s increase would otherwise
            // read as a viewer that cannot keep up). Not while arrivals lag the sends (a queue
            // draining at the bottleneck's rate after a move down: that rate is the capacity,
            // not proof of more). Taken at the rate those packets were sent, which feedback
            // cannot inflate.
            let carried = min(rate, sent)
            delayBased!.raise(to: carried)
            lossBased.raise(to: min(carried, delayBased!.rate))
        }
        if let completed { apply(completed, overused: overused) }
    }

    /// What a probe burst showed: counted; a carried rate above the estimate raises it
    /// unless this feedback saw over-use.
    private mutating func apply(_ outcome: ProbeCluster.Outcome, overused: Bool) {
        switch outcome {
        case .carried(let r):
            probesMeasured &+= 1
            guard !overused, detector.usage != .overusing, lossBased.lossFraction <= 0.10 else { return }
            delayBased?.raise(to: r)
            if let d = delayBased?.rate { lossBased.raise(to: min(r, d)) }
        case .failed:
            probesFailed &+= 1
        case .implausible:
            implausibleProbes &+= 1
        }
    }

    /// A probe burst starts with transport-wide number `first` (`SentPacketLog.nextSequence`
    /// before its first packet), sent at `targetRate` bits/s. One at a time: a new one
    /// replaces an unfinished one.
    mutating func startProbe(first: UInt64, targetRate: Double) {
        probe = ProbeCluster(first: first, targetRate: targetRate)
        probeOutcome = nil
    }

    /// The burst has been sent; `last` its last number (the log's newest).
    mutating func closeProbe(last: UInt64) { probe?.close(last: last) }

    /// Forgets an unfinished burst (its feedback never came, or the viewer moved).
    mutating func cancelProbe() {
        if probe != nil { probesFailed &+= 1 }
        probe = nil
    }

    /// The outcome of the last burst, once, when its feedback has covered it.
    mutating func takeProbeOutcome() -> ProbeCluster.Outcome? {
        defer { probeOutcome = nil }
        return probeOutcome
    }

    /// Whether a burst is being sent or measured.
    var isProbing: Bool { probe != nil }

    /// Counts a transport-cc feedback that cannot be matched: nothing was numbered.
    mutating func ignoredWithoutNegotiation() { unnegotiatedFeedback &+= 1 }

    /// A REMB from the viewer (its own receive-side estimate).
    public mutating func remb(bitrate: UInt64, now: Instant) {
        guard bitrate <= Self.implausibleBitrate else {
            implausibleREMB &+= 1
            return
        }
        remb = min(max(Double(bitrate), Self.range.lowerBound), Self.range.upperBound)
        lastREMB = now
    }

    /// A receiver report block about one of the viewer's streams: its fraction lost
    /// (0…255), and `bytesSent`, every byte sent to the viewer so far (the rate a
    /// report-only estimate starts from and is bounded by).
    public mutating func receiverReport(fractionLost: UInt8, bytesSent: UInt64, rtt: Duration?, now: Instant) {
        let fraction = Double(fractionLost) / 256
        reportFraction = fraction
        let nowMicros = Int64(now.nanoseconds / 1000)
        if let last = lastReport, let lastBytes = lastReportBytes, now - last >= .milliseconds(200) {
            let seconds = Double((now - last).nanoseconds) / 1e9
            let sample = Double(bytesSent &- lastBytes) * 8 / seconds
            sentRate = sentRate.map { 0.7 * $0 + 0.3 * sample } ?? sample
        } else if lastReport != nil {
            return  // reports closer than 200 ms apart (audio and video): the first one counts
        }
        lastReport = now
        lastReportBytes = bytesSent
        guard let sent = sentRate else { return }
        reportLoss.follow(max(sent, Self.range.lowerBound))
        let rttMicros = rtt.map { Int64($0.nanoseconds / 1000) } ?? Self.defaultRTTMicros
        reportLoss.apply(lossFraction: fraction, now: nowMicros, rtt: rttMicros, ceiling: 1.5 * sent + 10_000)
    }

    /// The signal the estimate comes from: transport-cc while its feedback is fresh, else
    /// REMB while fresh, else receiver reports; nil before any of them gave a rate.
    public var signal: BandwidthSignal? {
        let newest = [lastTransportCC, lastREMB, lastReport].compactMap { $0 }.max()
        guard let newest else { return nil }
        if let t = lastTransportCC, lossBased.rate != nil, newest - t <= Self.transportCCFreshness { return .transportCC }
        if let r = lastREMB, remb != nil, newest - r <= Self.rembFreshness { return .remb }
        if reportLoss.rate != nil { return .receiverReports }
        if lossBased.rate != nil { return .transportCC }
        return remb != nil ? .remb : nil
    }

    /// The estimate in bits/s; nil until a signal gave one.
    public var estimate: UInt64? {
        let value: Double?
        switch signal {
        case .transportCC: value = lossBased.rate
        case .remb:
            // REMB is delay-based on the viewer's side: heavy loss lowers it as §6 would.
            value = remb.map { reportFraction > 0.10 ? $0 * (1 - 0.5 * reportFraction) : $0 }
        case .receiverReports: value = reportLoss.rate
        case nil: value = nil
        }
        return value.map { UInt64(min(max($0, Self.range.lowerBound), Self.range.upperBound)) }
    }

    /// The delay-based rate alone (transport-cc), for diagnosis and tests.
    public var delayBasedEstimate: UInt64? { delayBased.map { UInt64($0.rate) } }
}
