import Reactor

/// What one direction of a simulated network path does to datagrams: random and burst
/// loss (Gilbert–Elliott), reordering, duplication, delay with jitter, a bandwidth cap.
struct PathConditions: CustomStringConvertible {
    /// Share of datagrams lost independently (0…1).
    var loss = 0.0
    /// Burst loss: the chance per datagram to enter the bad state, to leave it, and the loss
    /// in it. Zero `burstEnter`: no bursts.
    var burstEnter = 0.0
    var burstLeave = 0.3
    var burstLoss = 0.5
    /// Share of datagrams held back behind the next one (they arrive late by `reorderDelay`).
    var reorder = 0.0
    var reorderDelay: Duration = .milliseconds(15)
    /// Share of datagrams delivered twice.
    var duplicate = 0.0
    /// One-way delay and a uniform jitter on top (jitter alone never reorders: a datagram never
    /// arrives before the one sent before it on the same path unless `reorder` says so).
    var delay: Duration = .milliseconds(20)
    var jitter = Duration(nanoseconds: 0)
    /// Bytes per second the path carries (0: unlimited); datagrams queue behind each other,
    /// and a queue longer than `queueLimit` drops (tail drop).
    var bytesPerSecond = 0
    var queueLimit: Duration = .milliseconds(300)
    /// Everything is dropped (a peer gone dark, a cut link).
    var down = false

    static let clean = PathConditions(loss: 0, delay: .milliseconds(10))

    var description: String {
        var parts = ["delay \(delay.milliseconds) ms"]
        if jitter.nanoseconds > 0 { parts.append("jitter \(jitter.milliseconds) ms") }
        if loss > 0 { parts.append("loss \(Int(loss * 1000)) ‰") }
        if burstEnter > 0 { parts.append("bursts \(Int(burstEnter * 1000)) ‰ in, \(Int(burstLoss * 100)) % lost") }
        if reorder > 0 { parts.append("reorder \(Int(reorder * 1000)) ‰") }
        if duplicate > 0 { parts.append("duplicate \(Int(duplicate * 1000)) ‰") }
        if bytesPerSecond > 0 { parts.append("cap \(bytesPerSecond * 8 / 1000) kbit/s") }
        return parts.joined(separator: ", ")
    }
}
