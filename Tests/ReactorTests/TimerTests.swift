import Testing
@testable import Reactor

@Suite("Timers", .serialized)
struct TimerTests {
    @Test("timers fire in deadline order, equal deadlines in scheduling order", arguments: BackendKind.available)
    func order(backend: BackendKind) throws {
        let loop = try EventLoop(backend: backend)
        defer { loop.close() }
        var fired: [Int] = []
        let base = loop.now
        loop.scheduleTimer(at: base + .milliseconds(30)) { fired.append(3) }
        loop.scheduleTimer(at: base + .milliseconds(10)) { fired.append(1) }
        loop.scheduleTimer(at: base + .milliseconds(20)) { fired.append(2) }
        loop.scheduleTimer(at: base + .milliseconds(20)) { fired.append(22) }
        #expect(loop.run(until: { fired.count == 4 }, timeout: .seconds(2)))
        #expect(fired == [1, 2, 22, 3])
        #expect(Instant.now() - base >= .milliseconds(30))
        #expect(loop.counters.timersFired == 4)
    }

    @Test("a cancelled timer never fires", arguments: BackendKind.available)
    func cancel(backend: BackendKind) throws {
        let loop = try EventLoop(backend: backend)
        defer { loop.close() }
        var fired: [Int] = []
        let a = loop.scheduleTimer(after: .milliseconds(5)) { fired.append(1) }
        loop.scheduleTimer(after: .milliseconds(15)) { fired.append(2) }
        loop.cancelTimer(a)
        loop.cancelTimer(a)  // twice is harmless
        #expect(!a.isScheduled)
        #expect(loop.run(until: { fired.count == 1 }, timeout: .seconds(2)))
        loop.run(until: { false }, timeout: .milliseconds(20))
        #expect(fired == [2])
    }

    @Test("a handle re-armed later fires once, at the new deadline", arguments: BackendKind.available)
    func rearm(backend: BackendKind) throws {
        let loop = try EventLoop(backend: backend)
        defer { loop.close() }
        var firedAt: [Instant] = []
        let start = loop.now
        let t = loop.scheduleTimer(at: start + .milliseconds(5)) { firedAt.append(Instant.now()) }
        loop.reschedule(t, at: start + .milliseconds(25))
        #expect(loop.run(until: { firedAt.count == 1 }, timeout: .seconds(2)))
        #expect(firedAt[0] - start >= .milliseconds(25))
        // Re-arm after firing: the same handle, no new allocation needed.
        loop.reschedule(t, at: loop.now + .milliseconds(2))
        #expect(loop.run(until: { firedAt.count == 2 }, timeout: .seconds(2)))
        #expect(loop.scheduledTimerCount == 0)
    }

    @Test("ten thousand timers with random deadlines and cancellations fire in order")
    func many() throws {
        let loop = try EventLoop()
        defer { loop.close() }
        var rng = SystemRandomNumberGenerator()
        var fired: [UInt64] = []
        var handles: [TimerHandle] = []
        var cancelled = Set<Int>()
        let base = loop.now
        for i in 0..<10_000 {
            let d = UInt64.random(in: 0...40, using: &rng)
            let at = base + .milliseconds(d)
            handles.append(loop.scheduleTimer(at: at) { fired.append(at.nanoseconds) })
            if i % 7 == 0 { cancelled.insert(i) }
        }
        for i in cancelled { loop.cancelTimer(handles[i]) }
        let expected = 10_000 - cancelled.count
        #expect(loop.run(until: { fired.count == expected }, timeout: .seconds(3)))
        #expect(fired == fired.sorted())
        #expect(loop.scheduledTimerCount == 0)
    }

    @Test("the heap stays ordered under random schedule, re-arm and cancel")
    func heapProperty() {
        var heap = TimerHeap()
        var rng = SystemRandomNumberGenerator()
        var live: [TimerHandle] = []
        for _ in 0..<5000 {
            switch Int.random(in: 0..<3, using: &rng) {
            case 0:
                let t = TimerHandle(deadline: Instant(nanoseconds: 0), body: {})
                heap.schedule(t, at: Instant(nanoseconds: UInt64.random(in: 0..<1000, using: &rng)))
                live.append(t)
            case 1 where !live.isEmpty:
                let t = live[Int.random(in: 0..<live.count, using: &rng)]
                heap.schedule(t, at: Instant(nanoseconds: UInt64.random(in: 0..<1000, using: &rng)))
            default:
                if !live.isEmpty {
                    let i = Int.random(in: 0..<live.count, using: &rng)
                    heap.cancel(live[i])
                    live.remove(at: i)
                }
            }
        }
        #expect(heap.count == live.count)
        var last: UInt64 = 0
        while let t = heap.popDue(Instant(nanoseconds: .max)) {
            #expect(t.deadline.nanoseconds >= last)
            last = t.deadline.nanoseconds
        }
        #expect(heap.count == 0)
    }
}
