import Reactor
import Testing

@testable import SFU

/// Admission control on one core: the load estimate is injected (`RoomManager.coreLoad`), so
/// these tests never depend on how busy the machine running them is.
@Suite("Admission control on a busy core", .serialized)
struct AdmissionControlTests {
    static func configuration(maxCoreLoad: Double) -> RoomManagerConfiguration {
        var c = RoomManagerConfiguration()
        c.maxCoreLoad = maxCoreLoad
        return c
    }

    @Test("a new viewer on a core above MAX_CORE_LOAD is refused with 503 and a Retry-After, leaving nothing behind")
    func viewerRefused() throws {
        let server = try LoopbackRoomServer(configuration: Self.configuration(maxCoreLoad: 0.9))
        defer { server.close() }
        var load = 0.5
        server.manager.coreLoad = { load }
        let publisher = try server.publisher(room: "live")
        let admitted = try server.viewer(room: "live")
        try #require(server.connect(server.clients))

        load = 0.97
        #expect(throws: RoomError.coreBusy(load: 0.97, limit: 0.9, retryAfter: 2)) { try server.viewer(room: "live") }
        #expect(throws: RoomError.coreBusy(load: 0.97, limit: 0.9, retryAfter: 2)) { try server.viewer(room: "elsewhere") }
        #expect(server.manager.counters.refusedCoreBusy == 2)
        #expect(server.manager.sessionCount == 2, "no session made for a refused offer")
        #expect(server.manager.rooms["elsewhere"] == nil, "no room made for a refused offer")

        let error = RoomError.coreBusy(load: 0.97, limit: 0.9, retryAfter: 2)
        #expect(error.status == 503)
        #expect(error.retryAfterSeconds == 2)
        #expect(error.description.contains("busy"))
        #expect(RoomError.roomFull(limit: 3).retryAfterSeconds == nil)

        // The sessions it already had are untouched and still get media.
        #expect(server.publish(3, from: publisher))
        #expect(server.loop.run(until: { admitted.recorder.media.count >= 3 }, timeout: .seconds(10)))
        #expect(server.manager.snapshot(now: server.loop.now).first?.connectedViewers == 1)

        load = 0.85
        let later = try server.viewer(room: "live")
        #expect(server.connect([later]), "admitted again once the load is back under the limit")
    }

    @Test("a publisher creating a room is refused on a busy core; one for a room with waiting viewers is admitted")
    func publisherRefusedOnlyForNewRoom() throws {
        let server = try LoopbackRoomServer(configuration: Self.configuration(maxCoreLoad: 0.9))
        defer { server.close() }
        var load = 0.1
        server.manager.coreLoad = { load }
        _ = try server.viewer(room: "waiting")
        load = 0.99
        #expect(throws: RoomError.coreBusy(load: 0.99, limit: 0.9, retryAfter: 2)) { try server.publisher(room: "new") }
        #expect(server.manager.rooms["new"] == nil)
        _ = try server.publisher(room: "waiting")
        #expect(server.manager.counters.refusedCoreBusy == 1)
        try #require(server.connect(server.clients))
    }

    @Test("with MAX_CORE_LOAD = 0 (the default of the room configuration) nothing is refused at any load")
    func off() throws {
        let server = try LoopbackRoomServer()
        defer { server.close() }
        server.manager.coreLoad = { 1.0 }
        _ = try server.publisher(room: "live")
        _ = try server.viewer(room: "live")
        #expect(server.manager.counters.refusedCoreBusy == 0)
        #expect(RoomManagerConfiguration().maxCoreLoad == 0)
    }

    @Test("a load exactly at the limit is admitted: only a core above it refuses")
    func atLimit() throws {
        let server = try LoopbackRoomServer(configuration: Self.configuration(maxCoreLoad: 0.9))
        defer { server.close() }
        server.manager.coreLoad = { 0.9 }
        _ = try server.viewer(room: "live")
        #expect(server.manager.counters.refusedCoreBusy == 0)
    }
}
