@testable import SFU

/// What happens in one run, drawn from its seed: how many viewers join when and over which
/// paths, who leaves how, whether the publisher reconnects, a viewer goes dark (consent
/// loss), DTLS flights are lost, a viewer leaves in the middle of a keyframe.
struct SimulationScenario: CustomStringConvertible {
    enum Leave: String { case delete, closeNotify = "close" }

    struct Viewer {
        var joinAt: UInt64
        var downlink: PathConditions
        var uplink: PathConditions
        var leaveAt: UInt64?
        var leave = Leave.delete
        /// Its first DTLS datagrams from the server (and to it) are lost: retransmission.
        var lostServerFlights = 0
        var lostClientFlights = 0
        var goesDarkAt: UInt64?
        var leavesMidKeyframe = false
        /// Never asks for a keyframe itself (a relay or recorder pulling over WHEP): its
        /// first frame depends on the server's request alone.
        var passive = false
        /// Restarts ICE (PATCH with new credentials) at this time.
        var iceRestartAt: UInt64?
    }

    var viewers: [Viewer] = []
    var publisherUplink = PathConditions.clean
    var publisherDownlink = PathConditions.clean
    /// The publisher starts after the first viewers (they wait for it).
    var publisherJoinAt: UInt64 = 0
    /// The publisher leaves at `.0` (how) and a new one publishes `.1` later.
    var publisherReconnect: (at: UInt64, gap: UInt64, how: Leave)?
    /// Media runs until here; then everyone leaves and the run ends when nothing is left to do.
    var duration: UInt64 = 4_000_000_000
    /// The most loss any path of the run has (the checks' budgets assume at most 5 %).
    var maxLoss = 0.0

    static let ms: UInt64 = 1_000_000

    static func random(seed: UInt64) -> SimulationScenario {
        var rng = SplitMixRandom(seed: seed ^ 0x5CE7_A410)
        func uniform(_ n: UInt64) -> UInt64 { rng.next() % n }
        func chance(_ percent: UInt64) -> Bool { uniform(100) < percent }
        var s = SimulationScenario()
        func path(maxLossPerMille: UInt64) -> PathConditions {
            var c = PathConditions()
            c.delay = .milliseconds(5 + uniform(60))
            c.jitter = .milliseconds(uniform(8))
            c.loss = Double(uniform(maxLossPerMille + 1)) / 1000
            if chance(25) {
                // Bursts: rare, short; their share of loss counts against the 5 %.
                c.burstEnter = 0.004
                c.burstLeave = 0.4
                c.burstLoss = 0.5
            }
            c.reorder = chance(30) ? Double(uniform(30)) / 1000 : 0
            c.duplicate = chance(20) ? Double(uniform(10)) / 1000 : 0
            if chance(25) { c.bytesPerSecond = 250_000 + Int(uniform(500_000)) }
            s.maxLoss = max(s.maxLoss, c.loss + (c.burstEnter > 0 ? 0.005 : 0))
            return c
        }
        s.publisherUplink = path(maxLossPerMille: 20)
        s.publisherDownlink = path(maxLossPerMille: 20)
        s.publisherJoinAt = chance(30) ? 200 * ms + uniform(800) * ms : 0
        let initial = 2 + Int(uniform(5))
        let late = Int(uniform(3))
        for i in 0..<(initial + late) {
            var v = Viewer(
                joinAt: i < initial ? uniform(600) * ms : 1000 * ms + uniform(2000) * ms,
                downlink: path(maxLossPerMille: 45), uplink: path(maxLossPerMille: 45))
            if chance(20) {
                v.leaveAt = v.joinAt + 800 * ms + uniform(2000) * ms
                v.leave = chance(50) ? .delete : .closeNotify
            }
            if chance(20) { v.lostServerFlights = 1 + Int(uniform(2)) }
            v.passive = chance(20)
            // From a generator of its own, so adding it kept every earlier draw (and the
            // committed regression seeds' scenarios) as it was.
            var restart = SplitMixRandom(seed: seed ^ 0x1CE0_0000 ^ UInt64(i))
            if restart.next() % 100 < 15 { v.iceRestartAt = v.joinAt + 1000 * ms + restart.next() % 1500 * ms }
            if chance(10) { v.lostClientFlights = 1 }
            s.viewers.append(v)
        }
        if chance(30) {
            s.publisherReconnect = (
                at: 1500 * ms + uniform(1000) * ms, gap: 100 * ms + uniform(1400) * ms, how: chance(50) ? .delete : .closeNotify
            )
        }
        if chance(15), let i = s.viewers.indices.first(where: { s.viewers[$0].leaveAt == nil }) {
            s.viewers[i].leavesMidKeyframe = true
            s.publisherUplink.bytesPerSecond = 300_000
        }
        if chance(8), let i = s.viewers.indices.last(where: { s.viewers[$0].leaveAt == nil && !s.viewers[$0].leavesMidKeyframe }) {
            s.viewers[i].goesDarkAt = max(1500 * ms, s.viewers[i].joinAt + 1000 * ms) + uniform(1000) * ms
            // Consent expires 30 s after the last check; the run lasts until well after.
            s.duration = 38_000_000_000
        }
        return s
    }

    /// A join storm: `viewers` viewers join within half a second over paths with up to 2 %
    /// loss while a publisher streams; each must connect and see its first frame in time.
    static func joinStorm(seed: UInt64, viewers: Int) -> SimulationScenario {
        var rng = SplitMixRandom(seed: seed ^ 0x5708_0000)
        var s = SimulationScenario()
        s.duration = 3_000_000_000
        for _ in 0..<viewers {
            var down = PathConditions()
            down.delay = .milliseconds(5 + rng.next() % 40)
            down.loss = Double(rng.next() % 21) / 1000
            var up = down
            up.loss = Double(rng.next() % 21) / 1000
            s.viewers.append(Viewer(joinAt: 300 * ms + rng.next() % (500 * ms), downlink: down, uplink: up))
            s.maxLoss = max(s.maxLoss, down.loss, up.loss)
        }
        return s
    }

    var description: String {
        var lines = ["publisher at \(publisherJoinAt / Self.ms) ms, up: \(publisherUplink); down: \(publisherDownlink)"]
        if let r = publisherReconnect {
            lines.append("publisher leaves (\(r.how.rawValue)) at \(r.at / Self.ms) ms, a new one \(r.gap / Self.ms) ms later")
        }
        for (i, v) in viewers.enumerated() {
            var l = "v\(i): joins at \(v.joinAt / Self.ms) ms; down: \(v.downlink); up: \(v.uplink)"
            if let t = v.leaveAt { l += "; leaves (\(v.leave.rawValue)) at \(t / Self.ms) ms" }
            if v.leavesMidKeyframe { l += "; leaves in the middle of a keyframe" }
            if v.passive { l += "; never asks for keyframes" }
            if let t = v.iceRestartAt { l += "; restarts ICE at \(t / Self.ms) ms" }
            if let t = v.goesDarkAt { l += "; goes dark at \(t / Self.ms) ms" }
            if v.lostServerFlights > 0 { l += "; loses \(v.lostServerFlights) server DTLS datagram(s)" }
            if v.lostClientFlights > 0 { l += "; its first DTLS datagram is lost" }
            lines.append(l)
        }
        lines.append("media for \(duration / Self.ms) ms")
        return lines.joined(separator: "\n")
    }
}
