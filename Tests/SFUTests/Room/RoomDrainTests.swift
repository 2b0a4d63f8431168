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

/// The set-up milestones (`SessionLifecycle`): histograms and events.
@Suite("Session lifecycle milestones")
struct SessionLifecycleTests {
    @Test("offer → connected and offer → first media are recorded once per session, with events in order")
    func milestones() throws {
        let server = try LoopbackRoomServer()
        defer { server.close() }
        var events: [String: [SessionLifecycle.Event]] = [:]
        server.manager.lifecycle.observer = { s, event, _ in events[s.id, default: []].append(event) }
        let publisher = try server.publisher(room: "m")
        let viewer = try server.viewer(room: "m")
        try #require(server.connect([publisher, viewer]))
        let lifecycle = server.manager.lifecycle
        #expect(lifecycle.connectSeconds(.publisher).count == 1)
        #expect(lifecycle.connectSeconds(.viewer).count == 1)
        #expect(lifecycle.firstMediaSeconds(.viewer).count == 0)
        #expect(server.publish(10, from: publisher))
        server.loop.run(until: { lifecycle.firstMediaSeconds(.viewer).count == 1 }, timeout: .seconds(5))
        #expect(lifecycle.firstMediaSeconds(.publisher).count == 1)
        #expect(lifecycle.firstMediaSeconds(.viewer).count == 1)
        #expect(server.publish(10, from: publisher))
        server.settle()
        #expect(lifecycle.firstMediaSeconds(.viewer).count == 1)
        #expect(server.manager.endSession(room: "m", id: viewer.sessionID, now: server.loop.now))
        let viewerEvents = events[viewer.sessionID] ?? []
        #expect(viewerEvents.contains(.iceConnected))
        #expect(viewerEvents.contains(.dtlsConnected))
        let connected = try #require(viewerEvents.firstIndex(of: .connected))
        let first = try #require(viewerEvents.firstIndex(of: .firstMediaOut))
        #expect(connected < first)
        #expect(viewerEvents.last == .ended(.deleted))
        #expect(events[publisher.sessionID]?.contains(.firstMediaIn) == true)
    }
}
