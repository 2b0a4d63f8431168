import Cluster
import Reactor
import Testing

@Suite("Directory state: claims, heartbeats, reconnects (no Redis)")
struct DirectoryStateTests {
    let t0 = Instant(nanoseconds: 1_000_000_000)
    let beat = Duration.seconds(3)

    func up() -> DirectoryState {
        var s = DirectoryState(interval: beat, now: t0)
        s.connected(now: t0)
        return s
    }

    @Test("requests are refused at once, with the reason, while Redis is unreachable")
    func refusedWhileDown() {
        var s = DirectoryState(interval: beat, now: t0)
        #expect(s.shouldConnect(now: t0))
        s.failed("redis unreachable: Connection refused", now: t0)
        guard case .unavailable(let reason) = s.immediateAnswer(to: .claim(room: "r")) else {
            Issue.record("a claim went to Redis while it is down")
            return
        }
        #expect(reason.contains("Connection refused"))
        #expect(s.immediateAnswer(to: .locate(room: "r")) != nil)
        #expect(!s.registered)
        #expect(!s.heartbeatDue(now: t0 + .seconds(100)))
    }

    @Test("reconnects back off, doubling up to one heartbeat interval, and register at once when back")
    func backoff() {
        var s = DirectoryState(interval: beat, now: t0)
        var now = t0
        var waits: [UInt64] = []
        for _ in 0..<6 {
            s.failed("down", now: now)
            #expect(!s.shouldConnect(now: now))
            waits.append((s.nextConnect - now).milliseconds)
            now = s.nextConnect
            #expect(s.shouldConnect(now: now))
        }
        #expect(waits == [250, 500, 1000, 2000, 3000, 3000])
        s.connected(now: now)
        #expect(s.heartbeatDue(now: now))
        #expect(s.immediateAnswer(to: .locate(room: "r")) == nil)
    }

    @Test("a claimed room with its publisher live is refreshed; once the publisher is gone it is released")
    func claimFollowsPublisher() {
        var s = up()
        s.claimAnswered(room: "live", holder: nil, now: t0)
        var plan = s.plan(now: t0, live: ["live"], complete: true)
        #expect(plan.refresh == ["live"])
        #expect(plan.release.isEmpty)
        s.heartbeatDone(plan, lost: [], now: t0)
        #expect(s.registered)
        #expect(s.nextHeartbeat == t0 + beat)
        // The publisher ended: released once the claim is older than two beats.
        let later = t0 + .seconds(6)
        plan = s.plan(now: later, live: [], complete: true)
        #expect(plan.release == ["live"])
        s.heartbeatDone(plan, lost: [], now: later)
        #expect(s.claims.isEmpty)
    }

    @Test("a fresh claim whose publisher is not reported yet is kept (the WHIP is still being set up)")
    func freshClaimKept() {
        var s = up()
        s.claimAnswered(room: "new", holder: nil, now: t0)
        let plan = s.plan(now: t0 + .seconds(1), live: [], complete: true)
        #expect(plan.refresh == ["new"])
        #expect(plan.release.isEmpty)
    }

    @Test("an incomplete report (a core did not answer) releases nothing")
    func incompleteReleasesNothing() {
        var s = up()
        s.claimAnswered(room: "on-slow-core", holder: nil, now: t0)
        let plan = s.plan(now: t0 + .seconds(60), live: [], complete: false)
        #expect(plan.release.isEmpty)
        #expect(plan.refresh == ["on-slow-core"])
    }

    @Test("a room published here but unknown to the directory (Redis restarted empty) is claimed again")
    func reclaimAfterRedisLostIt() {
        var s = up()
        let plan = s.plan(now: t0, live: ["kept"], complete: true)
        #expect(plan.refresh == ["kept"])
        s.heartbeatDone(plan, lost: [], now: t0)
        #expect(s.claims["kept"] != nil)
    }

    @Test("a room another node took during an outage is counted once as a conflict and not fought over")
    func conflict() {
        var s = up()
        s.claimAnswered(room: "split", holder: nil, now: t0)
        var plan = s.plan(now: t0, live: ["split"], complete: true)
        s.heartbeatDone(plan, lost: ["split"], now: t0)
        #expect(s.conflicts == 1)
        #expect(s.claims["split"] == nil)
        plan = s.plan(now: t0 + beat, live: ["split"], complete: true)
        #expect(plan.refresh.isEmpty)
        s.heartbeatDone(plan, lost: [], now: t0 + beat)
        #expect(s.conflicts == 1)
        // Its publisher ended here: a later publisher here may claim it again.
        plan = s.plan(now: t0 + beat + beat, live: [], complete: true)
        _ = plan
        #expect(!s.conflicted.contains("split"))
    }

    @Test("a claim another node holds is not recorded; past the claim bound a new room is refused")
    func claimBound() {
        var s = DirectoryState(interval: beat, maxClaims: 2, now: t0)
        s.connected(now: t0)
        s.claimAnswered(room: "theirs", holder: "node-b", now: t0)
        #expect(s.claims.isEmpty)
        s.claimAnswered(room: "a", holder: nil, now: t0)
        s.claimAnswered(room: "b", holder: nil, now: t0)
        #expect(s.immediateAnswer(to: .claim(room: "c")) != nil)
        #expect(s.immediateAnswer(to: .claim(room: "a")) == nil)
    }

    @Test("a failed link unregisters the node; beatSoon brings the next beat forward")
    func unregisterAndBeatSoon() {
        var s = up()
        let plan = s.plan(now: t0, live: [], complete: true)
        s.heartbeatDone(plan, lost: [], now: t0)
        #expect(!s.heartbeatDue(now: t0 + .seconds(1)))
        s.beatSoon(now: t0 + .seconds(1))
        #expect(s.heartbeatDue(now: t0 + .seconds(1)))
        s.failed("reset", now: t0 + .seconds(1))
        #expect(!s.registered)
        #expect(s.link == .down(reason: "reset"))
    }
}
