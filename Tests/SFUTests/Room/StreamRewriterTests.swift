import Reactor
import Testing

@testable import SFU

@Suite("Outbound stream continuity")
struct StreamRewriterTests {
    let t0 = Instant(nanoseconds: 1_000_000_000)

    @Test("the first publisher's numbering passes through unchanged")
    func passthrough() {
        var r = StreamRewriter(clockRate: 90_000)
        let a = r.rewrite(ssrc: 7, sequenceNumber: 100, timestamp: 5000, now: t0)
        let b = r.rewrite(ssrc: 7, sequenceNumber: 101, timestamp: 8000, now: t0)
        #expect(a == (100, 5000))
        #expect(b == (101, 8000))
    }

    @Test("a reconnecting publisher continues the sequence and advances the timestamp by the pause")
    func reconnect() {
        var r = StreamRewriter(clockRate: 90_000)
        _ = r.rewrite(ssrc: 7, sequenceNumber: 65535, timestamp: 4_294_967_000, now: t0)
        // New source 2 s later with unrelated bases.
        let out = r.rewrite(ssrc: 9, sequenceNumber: 17, timestamp: 1234, now: t0 + .seconds(2))
        #expect(out.sequenceNumber == 0)  // 65535 + 1 wraps
        #expect(out.timestamp == 4_294_967_000 &+ 180_000)
        let next = r.rewrite(ssrc: 9, sequenceNumber: 18, timestamp: 1234 + 3000, now: t0 + .seconds(2))
        #expect(next == (1, 4_294_967_000 &+ 183_000))
    }

    @Test("reordered packets keep their relative order and do not move the high-water mark back")
    func reordered() {
        var r = StreamRewriter(clockRate: 48_000)
        _ = r.rewrite(ssrc: 1, sequenceNumber: 10, timestamp: 0, now: t0)
        _ = r.rewrite(ssrc: 1, sequenceNumber: 12, timestamp: 1920, now: t0)
        let late = r.rewrite(ssrc: 1, sequenceNumber: 11, timestamp: 960, now: t0)
        #expect(late == (11, 960))
        #expect(r.lastSequenceNumber == 12)
    }

    @Test("the outbound stream runs on across the wrap: a packet after 65 535 is the newest")
    func acrossTheWrap() {
        var r = StreamRewriter(clockRate: 90_000)
        let t0 = Instant(nanoseconds: 1_000_000_000)
        _ = r.rewrite(ssrc: 1, sequenceNumber: 65_535, timestamp: 0, now: t0)
        _ = r.rewrite(ssrc: 1, sequenceNumber: 0, timestamp: 3000, now: t0)
        _ = r.rewrite(ssrc: 1, sequenceNumber: 65_534, timestamp: 0, now: t0)  // late, from before the wrap
        #expect(r.lastSequenceNumber == 0)
    }
}

@Suite("Room names and placement")
struct RoomNameTests {
    @Test("valid names are accepted and odd ones refused with a reason")
    func names() throws {
        #expect(try RoomName(validating: "demo-1_a.b").value == "demo-1_a.b")
        #expect(throws: RoomNameError.empty) { try RoomName(validating: "") }
        #expect(throws: RoomNameError.badCharacter) { try RoomName(validating: "../etc") }
        #expect(throws: RoomNameError.badCharacter) { try RoomName(validating: "a b") }
        #expect(throws: RoomNameError.badCharacter) { try RoomName(validating: "é") }
        #expect(throws: RoomNameError.tooLong(64)) { try RoomName(validating: String(repeating: "a", count: 65)) }
    }

    @Test("placement is stable and spreads rooms over cores")
    func placement() {
        var counts = [0, 0]
        for i in 0..<1000 { counts[RoomPlacement.core(forRoom: "room\(i)", cores: 2)] += 1 }
        #expect(counts.allSatisfy { $0 > 400 })
        #expect(RoomPlacement.core(forRoom: "x", cores: 4) == RoomPlacement.core(forRoom: "x", cores: 4))
    }
}

@Suite("Keyframe request throttle")
struct KeyframeThrottleTests {
    @Test("a hundred viewers asking at once cause one upstream request per interval")
    func storm() {
        var t = KeyframeRequestThrottle()
        let t0 = Instant(nanoseconds: 5_000_000_000)
        var sent = 0
        for i in 0..<100 where t.request(now: t0 + .milliseconds(UInt64(i))) { sent += 1 }
        #expect(sent == 1)
        let later = t.request(now: t0 + .milliseconds(600))
        #expect(later)
        #expect(t.requestsSuppressed == 99)
    }

    @Test("an unanswered request is retried, an answered one is not")
    func retry() {
        var t = KeyframeRequestThrottle()
        let t0 = Instant(nanoseconds: 1_000_000_000)
        let first = t.request(now: t0)
        let early = t.retryDue(now: t0 + .milliseconds(900))
        let due = t.retryDue(now: t0 + .milliseconds(1000))
        t.keyframeReceived()
        let afterKeyframe = t.retryDue(now: t0 + .milliseconds(5000))
        #expect(first && !early && due && !afterKeyframe)
    }

    @Test("a request held back by the interval goes up when it ends, unless a keyframe came first")
    func heldBack() {
        var t = KeyframeRequestThrottle()
        let t0 = Instant(nanoseconds: 1_000_000_000)
        let first = t.request(now: t0)
        t.keyframeReceived()  // answers the first request
        let held = t.request(now: t0 + .milliseconds(200))  // a viewer that missed that keyframe
        let early = t.retryDue(now: t0 + .milliseconds(499))
        let due = t.retryDue(now: t0 + .milliseconds(500))
        let again = t.retryDue(now: t0 + .milliseconds(900))  // now an unanswered sent request: 1 s
        #expect(first && !held && !early && due && !again)
        var k = KeyframeRequestThrottle()
        _ = k.request(now: t0)
        _ = k.request(now: t0 + .milliseconds(100))
        k.keyframeReceived()
        let answered = k.retryDue(now: t0 + .milliseconds(600))
        #expect(!answered && k.requestsSent == 1)
    }

    @Test("a request held for another layer's goes up when the hold ends, not before, and not once a keyframe came")
    func heldForAnotherLayer() {
        let t0 = Instant(nanoseconds: 1_000_000_000)
        var t = KeyframeRequestThrottle()
        t.hold(until: t0 + .milliseconds(350))
        let asked = t.request(now: t0 + .milliseconds(100))  // held still: not sent
        #expect(!asked && t.nextRetryTime == t0 + .milliseconds(350))
        let early = t.retryDue(now: t0 + .milliseconds(349))
        let due = t.retryDue(now: t0 + .milliseconds(350))
        #expect(!early && due && t.requestsSent == 1)
        var k = KeyframeRequestThrottle()
        k.hold(until: t0 + .milliseconds(350))
        k.keyframeReceived()
        #expect(k.nextRetryTime == nil && !k.retryDue(now: t0 + .seconds(2)))
    }

    @Test("a publisher's layers are asked for keyframes 350 ms apart: libwebrtc drops a second request within 300 ms")
    func spacingAcrossLayers() {
        let t0 = Instant(nanoseconds: 1_000_000_000)
        let last = (at: t0, layer: 1)
        #expect(RoomManager.keyframeRequestHeld(after: last, layer: 2, now: t0 + .milliseconds(100)) == t0 + .milliseconds(350))
        #expect(RoomManager.keyframeRequestHeld(after: last, layer: 2, now: t0 + .milliseconds(350)) == nil)
        #expect(RoomManager.keyframeRequestHeld(after: last, layer: 1, now: t0 + .milliseconds(100)) == nil, "the same layer: its own throttle")
        #expect(RoomManager.keyframeRequestHeld(after: nil, layer: 2, now: t0) == nil)
    }
}
