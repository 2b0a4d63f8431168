import Reactor
import Testing

@testable import SFU

/// The room layer says when it must run next (`nextTimeout`) instead of being ticked at a
/// fixed rate, and tells its owner when an input makes something due sooner.
@Suite("Room deadlines", .serialized)
struct RoomDeadlineTests {
    @Test("an idle core has no deadline; an offer makes its set-up timeout one")
    func idleAndSetup() throws {
        let server = try LoopbackRoomServer()
        defer { server.close() }
        server.manager.tick(now: server.loop.now)
        #expect(server.manager.nextTimeout == nil)
        var lowered: [Instant] = []
        server.manager.deadlineLowered = { lowered.append($0) }
        let before = server.loop.now
        _ = try server.publisher(room: "deadline")
        let t = try #require(server.manager.nextTimeout)
        #expect(!(before + server.manager.configuration.setupTimeout + .seconds(1) < t))
        #expect(lowered.last == t)
    }

    @Test("a gap in the publisher's stream makes its NACK due within the reorder wait, and the owner is told")
    func gapMakesNackDue() throws {
        let server = try LoopbackRoomServer()
        defer { server.close() }
        let publisher = try server.publisher(room: "deadline")
        try #require(server.connect([publisher]))
        #expect(server.publish(8, from: publisher))
        server.manager.tick(now: server.loop.now)  // recomputes: nothing urgent pending
        var lowered: [Instant] = []
        server.manager.deadlineLowered = { lowered.append($0) }
        publisher.nextSequence &+= 3  // three packets lost
        let sent = server.loop.now
        #expect(server.publish(4, from: publisher))
        let due = try #require(lowered.last)
        #expect(due < sent + .milliseconds(200))
        #expect(server.manager.nextTimeout == due)
    }

    @Test("a connected session keeps the once-a-second work due")
    func slowTick() throws {
        let server = try LoopbackRoomServer()
        defer { server.close() }
        let publisher = try server.publisher(room: "deadline")
        try #require(server.connect([publisher]))
        let now = server.loop.now
        server.manager.tick(now: now)
        let t = try #require(server.manager.nextTimeout)
        #expect(!(now + .seconds(1) < t))
    }
}
