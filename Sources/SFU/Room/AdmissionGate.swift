import Glibc
import Reactor

/// Decides whether a core can take one more session. The core's load estimate lags by about
/// its time constant (≈ 1 s), so the sessions admitted within that time are not (all) in it
/// yet: they are counted in, each at the average cost of the core's sessions now. Without
/// that, clients retrying after a refusal all come back when the estimate dips under the
/// limit, and hundreds are admitted before it rises again (measured: 1390 admitted at 97 % of
/// the core against 1139 at 85 % without retries). A core with few sessions is busy mostly
/// with other things (HTTP, timers), so below `sharingSessions` a session counts as that
/// fraction of the load at most.
struct AdmissionGate {
    /// How fast the memory of past admissions fades (the load estimate's time constant).
    let timeConstant: Duration
    /// Admissions within about the last `timeConstant`, decayed.
    private(set) var recentAdmissions: Double = 0
    private var decayedAt = Instant(nanoseconds: 0)

    static let sharingSessions = 100

    init(timeConstant: Duration = .seconds(1)) { self.timeConstant = timeConstant }

    /// The load the core is heading for if it takes no one else: `load` plus the recent
    /// admissions at the current cost per session.
    mutating func projectedLoad(load: Double, sessions: Int, now: Instant) -> Double {
        let elapsed = Double((now - decayedAt).nanoseconds) / Double(max(timeConstant.nanoseconds, 1))
        recentAdmissions *= exp(-elapsed)
        decayedAt = now
        return load + recentAdmissions * load / Double(max(sessions, Self.sharingSessions))
    }

    /// Admits one session if the projected load is within `limit`; returns the projected
    /// load when it refuses.
    mutating func admit(load: Double, sessions: Int, limit: Double, now: Instant) -> Double? {
        let projected = projectedLoad(load: load, sessions: sessions, now: now)
        guard projected <= limit else { return projected }
        recentAdmissions += 1
        return nil
    }
}
