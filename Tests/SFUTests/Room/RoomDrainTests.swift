import Reactor
import Testing

@testable import SFU

/// Graceful shutdown's room side (`RoomManager.drain`): what a peer hears when the server stops.
@Suite("Room drain on shutdown")
struct RoomDrainTests {
    @Test("drain sends every connected viewer an RTCP BYE for the streams it receives, then ends every session")
    func drainSendsByeAndEnds() throws {
        let server = try LoopbackRoomServer()
        defer { server.close() }
        let publisher = try server.publisher(room: "drain")
        let viewers = [try server.viewer(room: "drain"), try server.viewer(room: "drain")]
        try #require(server.connect([publisher] + viewers))
        let room = try #require(server.room("drain"))
        let expected: Set<UInt32> = [room.audio.ssrc, room.video.ssrc, room.video.rtxSSRC]
        var byes: [Int: Set<UInt32>] = [:]
        var publisherBye: Set<UInt32> = []
        for (i, v) in viewers.enumerated() {
            v.peer.onRTCP = { compound in
                for packet in compound {
                    if case .bye(let bye) = packet {
                        for k in 0..<bye.ssrcCount { byes[i, default: []].insert(bye.ssrc(at: k)) }
                    }
                }
            }
        }
        publisher.peer.onRTCP = { compound in
            for packet in compound {
                if case .bye(let bye) = packet {
                    for k in 0..<bye.ssrcCount { publisherBye.insert(bye.ssrc(at: k)) }
                }
            }
        }

        let summary = server.manager.drain(now: server.loop.now)
        #expect(summary.rooms == 1)
        #expect(summary.publishers == 1)
        #expect(summary.viewers == 2)
        #expect(summary.byesSent == 3)
        #expect(server.manager.sessionCount == 0)
        #expect(server.room("drain") == nil)
        server.loop.run(until: { byes.count == 2 && !publisherBye.isEmpty }, timeout: .seconds(5))
        #expect(byes[0] == expected)
        #expect(byes[1] == expected)
        #expect(publisherBye == [room.video.ssrc])
        #expect(server.manager.counters.sessionsEnded[.shutdown] == 3)
    }

    @Test("a session still setting up is ended without a BYE (it has no SRTP keys yet)")
    func pendingSessionGetsNoBye() throws {
        let server = try LoopbackRoomServer()
        defer { server.close() }
        _ = try server.publisher(room: "early")
        let summary = server.manager.drain(now: server.loop.now)
        #expect(summary.publishers == 1)
        #expect(summary.byesSent == 0)
        #expect(server.manager.sessionCount == 0)
    }
}
