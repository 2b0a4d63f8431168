import Glibc
import Synchronization
import Testing
@testable import Reactor

/// Confined to its loop: what the mailbox delivered.
private final class Received {
    var seen: [UInt8]
    var count = 0
    var duplicates = 0
    init(total: Int) { seen = [UInt8](repeating: 0, count: total) }
}

@Suite("Mailbox", .serialized)
struct MailboxTests {
    @Test("N producer threads post to one loop: nothing lost, nothing duplicated", arguments: BackendKind.available)
    func multiProducerStress(backend: BackendKind) throws {
        let producers = 4
        let perProducer = 25_000
        let total = producers * perProducer
        let group = try ReactorGroup(cores: 1, backend: backend) { loop in
            loop.context = Received(total: total)
        }
        let target = group.handles[0]
        var threads: [OSThread] = []
        for p in 0..<producers {
            threads.append(try OSThread.spawn {
                for i in 0..<perProducer {
                    let id = p * perProducer + i
                    target.execute { (loop: EventLoop) in
                        let r = loop.context as! Received
                        if r.seen[id] != 0 { r.duplicates += 1 }
                        r.seen[id] = 1
                        r.count += 1
                    }
                }
            })
        }
        for t in threads { t.join() }
        let verdict = Mutex<(count: Int, dup: Int, missing: Int)?>(nil)
        target.execute { (loop: EventLoop) in
            let r = loop.context as! Received
            let missing = r.seen.lazy.filter { $0 == 0 }.count
            verdict.withLock { $0 = (r.count, r.duplicates, missing) }
        }
        let deadline = Instant.now() + .seconds(10)
        while verdict.withLock({ $0 }) == nil, Instant.now() < deadline { usleepMs(1) }
        group.stop()
        group.wait()
        let v = try #require(verdict.withLock { $0 })
        #expect(v.count == total)
        #expect(v.dup == 0)
        #expect(v.missing == 0)
    }

    @Test("a sleeping loop wakes for a posted job within milliseconds", arguments: BackendKind.available)
    func wakesSleepingLoop(backend: BackendKind) throws {
        let group = try ReactorGroup(cores: 1, backend: backend)
        let done = Atomic<UInt64>(0)
        for _ in 0..<20 {
            usleepMs(2)  // let the loop go to sleep
            let sent = Instant.now()
            let before = done.load(ordering: .acquiring)
            group.handles[0].execute { done.store(before + 1, ordering: .releasing) }
            while done.load(ordering: .acquiring) == before {
                if Instant.now() - sent > .seconds(2) { break }
            }
            #expect(Instant.now() - sent < .seconds(1))
        }
        #expect(done.load(ordering: .acquiring) == 20)
        group.stop()
        group.wait()
    }
}

func usleepMs(_ ms: Int) {
    var ts = timespec(tv_sec: ms / 1000, tv_nsec: (ms % 1000) * 1_000_000)
    nanosleep(&ts, nil)
}
