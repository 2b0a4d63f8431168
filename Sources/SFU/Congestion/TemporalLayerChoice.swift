import Reactor

/// One viewer's automatic temporal cap: a finer step below a spatial switch. Checked once a
/// second (before the spatial choice) from the viewer's estimate and what its layer's
/// temporal layers send (`rates[t]`: bits/s of the frames of layers 0…t).
///
/// - Down, at once, to the highest cap whose rate fits the estimate when the cap in force
///   does not and the viewer is congested, as `LayerProbe` judges it (the estimate fell
///   within `LayerProbe.congestionMemory`, or is under `LayerProbe.congestedFraction` of
///   what it is sent): an estimate merely lagging a publisher's ramp-up moves nothing. While
///   such a cap exists the viewer `holds` its spatial layer (a lower frame rate at full size
///   before a smaller picture). When not even layer 0 fits, it is capped at 0 and the spatial
///   choice takes the viewer down a layer.
/// - Up one layer after `quietPeriod` with no step down, when the estimate has `headroom`
///   over what it is sent now. A trial: the estimate never grows much past what a viewer is
///   sent (`AIMDRateControl`), so it cannot show the next layer fits before it is sent; a
///   temporal step costs nothing upstream (no keyframe) and goes back down at the next frame.
///   A step down within `upHold` of a step up counts as a failed trial and doubles the quiet
///   period (up to `maximumQuietPeriod`): that is the hysteresis.
/// Without an estimate, or on a layer without temporal layers: no cap.
struct TemporalLayerChoice {
    static let headroom = 1.25
    static let quietPeriod: Duration = .seconds(2)
    static let maximumQuietPeriod: Duration = .seconds(16)
    static let upHold: Duration = .seconds(5)

    /// The cap in force (nil: every layer).
    private(set) var cap: Int?
    private var interval = TemporalLayerChoice.quietPeriod
    private var quietUntil: Instant?
    private var upAt: Instant?
    private var lastEstimate: UInt64?
    private var lastDecreases: UInt64 = 0
    private var decreasedAt: Instant?

    /// What one check decides.
    struct Step: Equatable {
        /// The temporal cap (nil: every layer).
        var cap: Int?
        /// The viewer's spatial layer carries it at that cap: the spatial choice leaves it there.
        var holds: Bool
    }

    /// - Parameters:
    ///   - rates: cumulative bitrates of the viewer's layer by temporal layer (`rates[t]`: the
    ///     frames of layers 0…t); fewer than two: no temporal layers.
    ///   - estimate: the viewer's bandwidth estimate (bits/s), nil while unknown.
    ///   - decreases: its estimator's count of delay-based decreases.
    mutating func step(rates: [UInt64], estimate: UInt64?, decreases: UInt64 = 0, now: Instant) -> Step {
        if let e = estimate, let last = lastEstimate, Double(e) < LayerProbe.decreaseFraction * Double(last) {
            decreasedAt = now
        }
        if decreases != lastDecreases { decreasedAt = now }
        lastEstimate = estimate
        lastDecreases = decreases
        guard rates.count > 1, let estimate, rates[rates.count - 1] > 0 else {
            cap = nil
            return Step(cap: nil, holds: false)
        }
        let top = rates.count - 1
        var c = min(cap ?? top, top)
        if rates[c] > estimate {
            let congested =
                decreasedAt.map { now - $0 < LayerProbe.congestionMemory } ?? false
                || Double(estimate) < LayerProbe.congestedFraction * Double(rates[c])
            guard congested else { return Step(cap: cap, holds: cap != nil) }
            let fits = (0..<c).last { rates[$0] <= estimate }
            if let up = upAt, now - up < Self.upHold {
                // Up and down again at once: the trial failed; wait longer before the next.
                upAt = nil
                interval = min(Duration(nanoseconds: interval.nanoseconds * 2), Self.maximumQuietPeriod)
            }
            quietUntil = now + interval
            c = fits ?? 0
            cap = c == top ? nil : c
            return Step(cap: cap, holds: fits != nil)
        }
        if c < top, quietUntil.map({ !(now < $0) }) ?? true, Double(estimate) >= Self.headroom * Double(rates[c]) {
            c += 1
            upAt = now
            quietUntil = now + Self.quietPeriod
        } else if let up = upAt, now - up >= Self.upHold {
            upAt = nil
            interval = Self.quietPeriod  // the last step up held
        }
        cap = c == top ? nil : c
        return Step(cap: cap, holds: cap != nil)
    }

    /// The viewer moved to another spatial layer, or was pinned: start over (every layer).
    mutating func reset() {
        cap = nil
        upAt = nil
        quietUntil = nil
    }
}
