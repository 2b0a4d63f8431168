import Reactor

/// One viewer's automatic layer choice over time, and its probing for a higher layer.
///
/// Why probing: the viewer's send-side estimate never grows past about 1.5 × what it is sent
/// (`AIMDRateControl`), so a viewer dropped to a low simulcast layer could never show that
/// it carries a higher one again. Two ways were weighed: a timed trial switch to the next
/// layer (back at once on over-use or loss), and padding sent in short bursts (GCC probe
/// clusters). A trial switch costs a keyframe request upstream per try and, on a path that
/// cannot carry the layer, seconds of a picture that stalls behind a full queue before the
/// estimate brings it back; a probe costs a 50 ms burst the viewer never shows (duplicates of
/// its newest packets, on RTX where negotiated, which its jitter buffer discards), measured
/// exactly as the estimator measures everything else, through its transport-cc feedback.
/// So: probes. A burst is paced at `rateMultiple` × the next layer's bitrate from the room's
/// timer (`paceInterval`), and when its feedback shows the path carried the rate the layer
/// needs (`LayerChoice`'s headroom), the raised estimate moves the viewer up. The burst is
/// twice what the layer needs, for 50 ms: a gentler one is swallowed by a token-bucket
/// shaper's bucket (tc's HTB lets 1 600 bytes through at once; a 1.5 × burst on a link just
/// under the layer's need queued less than that, arrived as fast as it was sent, and moved
/// the interop test's viewer to a layer its link could not carry); a longer one (100 ms,
/// 11 KB for h) held the viewer's own frames behind it long enough to show as stalls.
///
/// Hysteresis: down at once under congestion (the estimate falls and `LayerChoice` follows
/// it at the next check) — congestion being a decrease of the estimate within
/// `congestionMemory`, or an estimate under `congestedFraction` of the layer's bitrate; an
/// estimate merely lagging a publisher that ramps its layer up faster than the estimate's
/// 8 %/s growth is not a reason to leave it (seen in the interop test: the direct viewer went
/// to h and back while Chromium ramped f). Up only after `stablePeriod` on the layer with no
/// decrease of the estimate, and a probe that showed the layer fits. A probe that failed doubles the wait
/// before the next (`minimumInterval` up to `maximumInterval`), and so does a move up that
/// had to come back down within `upHold` (the probe was wrong: a shaper's burst, a path that
/// changed).
///
/// Bounds: one burst at a time per viewer, at most `maximumBytes` a burst (and the packet
/// that crosses it: packets are sent whole) and one burst per
/// `minimumInterval`: at most 8 KiB/s per viewer (16 KiB every 2 s; a viewer that keeps
/// failing, 4 KiB/s), and at most `LayerProbeBudget.bytesPerSecond` per core across its
/// viewers. Never for a viewer pinned through the API, on the top layer, moving between
/// layers, without transport-cc, or without an estimate. Sans-IO: the room sends what
/// `bytesDue` allows; nothing here touches the fan-out's per-packet path.
struct LayerProbe {
    static let rateMultiple = 2 * LayerChoice.headroom
    static let duration: Duration = .milliseconds(50)
    static let paceInterval: Duration = .milliseconds(5)
    static let maximumBytes = 16 * 1024
    static let minimumInterval: Duration = .seconds(2)
    static let maximumInterval: Duration = .seconds(4)
    static let stablePeriod: Duration = .seconds(2)
    /// A burst whose feedback has not covered it by then failed.
    static let resultTimeout: Duration = .seconds(1)
    /// An estimate this much below the last check's counts as a decrease.
    static let decreaseFraction = 0.9
    static let congestionMemory: Duration = .seconds(5)
    static let congestedFraction = 0.8
    /// A move down this soon after a probe moved the viewer up counts as a failed probe.
    static let upHold: Duration = .seconds(10)

    /// What one check decides for a viewer.
    enum Step: Equatable {
        case stay
        /// Move to this layer at its next keyframe.
        case aim(Int)
        /// Probe for this layer: a burst at `rate` bits/s of `bytes`.
        case probe(layer: Int, rate: Double, bytes: Int)
    }

    struct Burst: Equatable {
        var layer: Int
        var rate: Double
        /// What the burst must show for the layer to fit (its bitrate with headroom).
        var needed: Double
        var startedAt: Instant
        var total: Int
        var sent = 0
    }

    enum Phase: Equatable {
        case idle
        case sending(Burst)
        case awaiting(Burst, since: Instant)
    }

    private(set) var phase = Phase.idle
    private var interval = LayerProbe.minimumInterval
    /// No probe before this: set by a layer change, a decrease of the estimate, a burst.
    private var quietUntil: Instant?
    private var lastEstimate: UInt64?
    private var lastDecreases: UInt64 = 0
    /// When the last probe that showed a layer fits was measured.
    private var upAt: Instant?
    /// When the estimate last decreased.
    private var decreasedAt: Instant?

    // Figures.
    private(set) var probes: UInt64 = 0
    private(set) var bytesSent: UInt64 = 0
    private(set) var succeeded: UInt64 = 0
    private(set) var failed: UInt64 = 0

    /// The viewer joined or changed layer: nothing to probe until it has been there a while.
    mutating func unsettle(now: Instant) {
        quietUntil = later(quietUntil, now + Self.stablePeriod)
    }

    /// The check, once a second, for a viewer on its layer (not moving).
    /// - Parameters:
    ///   - bitrates: the layers' bitrates (bits/s), 0 for one not sending.
    ///   - pinned: the layer asked for through the API, nil: automatic.
    ///   - estimate: the viewer's estimate, nil while unknown.
    ///   - decreases: the estimator's count of delay-based decreases.
    ///   - canProbe: its estimate comes from transport-cc (what a burst is measured by).
    ///   - budget: the core's probe bytes.
    mutating func step(
        bitrates: [UInt64], current: Int, pinned: Int?, estimate: UInt64?, decreases: UInt64, canProbe: Bool,
        budget: inout LayerProbeBudget, now: Instant
    ) -> Step {
        if let e = estimate, let last = lastEstimate, Double(e) < Self.decreaseFraction * Double(last) {
            decreasedAt = now
        }
        if decreases != lastDecreases { decreasedAt = now }
        if decreasedAt == now { unsettle(now: now) }
        lastEstimate = estimate
        lastDecreases = decreases
        if quietUntil == nil { unsettle(now: now) }  // first check: settle first
        if pinned != nil { return .stay }
        let choice = LayerChoice.layer(bitrates: bitrates, current: current, estimate: estimate)
        if choice != current {
            let down = choice < bitrates.count && current < bitrates.count && bitrates[choice] < bitrates[current]
            let congested =
                decreasedAt.map { now - $0 < Self.congestionMemory } ?? false
                || Double(estimate ?? 0) < Self.congestedFraction * Double(current < bitrates.count ? bitrates[current] : 0)
            if down, !congested { return .stay }
            if let up = upAt, now - up < Self.upHold, choice < bitrates.count, current < bitrates.count,
                bitrates[choice] < bitrates[current]
            {
                // Up by a probe and down again at once: as a failed probe.
                upAt = nil
                failed &+= 1
                quietUntil = later(quietUntil, now + interval)
                interval = min(Duration(nanoseconds: interval.nanoseconds * 2), Self.maximumInterval)
            }
            return .aim(choice)
        }
        guard phase == .idle, canProbe, let estimate, let quiet = quietUntil, !(now < quiet),
            let up = LayerChoice.nextUp(bitrates: bitrates, current: current)
        else { return .stay }
        let needed = Double(bitrates[up]) * LayerChoice.headroom
        guard Double(estimate) < needed else { return .stay }
        let rate = Self.rateMultiple * Double(bitrates[up])
        let bytes = min(Int(rate * Double(Self.duration.nanoseconds) / 8e9), Self.maximumBytes)
        guard budget.take(bytes, now: now) else { return .stay }
        phase = .sending(Burst(layer: up, rate: rate, needed: needed, startedAt: now, total: bytes))
        probes &+= 1
        return .probe(layer: up, rate: rate, bytes: bytes)
    }

    /// Bytes the burst may send now: its rate since it started, one pacing interval ahead;
    /// 0 when not sending.
    func bytesDue(now: Instant) -> Int {
        guard case .sending(let b) = phase else { return 0 }
        let elapsed = Double((now - b.startedAt).nanoseconds + Self.paceInterval.nanoseconds)
        return max(min(Int(b.rate * elapsed / 8e9), b.total) - b.sent, 0)
    }

    /// `bytes` of the burst were sent; true when it is complete (the caller closes it in the
    /// estimator).
    mutating func sent(_ bytes: Int, now: Instant) -> Bool {
        guard case .sending(var b) = phase else { return false }
        b.sent += bytes
        bytesSent &+= UInt64(bytes)
        if b.sent >= b.total {
            phase = .awaiting(b, since: now)
            return true
        }
        phase = .sending(b)
        return false
    }

    /// Nothing more could be sent (no packet to send, the viewer not sendable): what went is
    /// the burst.
    mutating func stopSending(now: Instant) {
        guard case .sending(let b) = phase else { return }
        phase = .awaiting(b, since: now)
    }

    /// When the burst's next packets are due.
    var nextSendTime: Instant? {
        guard case .sending(let b) = phase else { return nil }
        // The time its rate reaches what was sent, less the interval `bytesDue` looks ahead.
        let due = UInt64(Double(b.sent) * 8e9 / b.rate)
        let ahead = Self.paceInterval.nanoseconds
        return b.startedAt + Duration(nanoseconds: due > ahead ? due - ahead : 0)
    }

    /// The estimator measured the burst (`outcome`), or nil: it never will (timed out, the
    /// viewer moved). True when it showed the layer it was for fits.
    @discardableResult
    mutating func finish(_ outcome: ProbeCluster.Outcome?, now: Instant) -> Bool {
        let burst: Burst
        switch phase {
        case .idle: return false
        case .sending(let b), .awaiting(let b, _): burst = b
        }
        phase = .idle
        if case .carried(let r) = outcome, r >= burst.needed {
            succeeded &+= 1
            upAt = now
            interval = Self.minimumInterval
            quietUntil = later(quietUntil, now + Self.minimumInterval)
            return true
        }
        failed &+= 1
        quietUntil = later(quietUntil, now + interval)
        interval = min(Duration(nanoseconds: interval.nanoseconds * 2), Self.maximumInterval)
        return false
    }

    /// Whether a burst sent has waited too long for its feedback.
    func timedOut(now: Instant) -> Bool {
        guard case .awaiting(_, let since) = phase else { return false }
        return now - since >= Self.resultTimeout
    }

    private func later(_ a: Instant?, _ b: Instant) -> Instant {
        guard let a else { return b }
        return a < b ? b : a
    }
}
