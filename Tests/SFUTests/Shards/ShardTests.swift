import Reactor
import Testing

@testable import SFU

/// One room on two cores: two real room layers (core 0, the room's owner, and core 1), each
/// a `RoomManager` on its own UDP socket, joined by real `CoreRing`s and a `CoreBoard`, with
/// control messages delivered on the next loop turn as the mailbox delivers them. Viewers
/// are placed as `RoomRoutes` places them (`placeViewer`, then `playOnShard` on the core
/// chosen), and real client peers do ICE, DTLS and SRTP with whichever core they were given.
@Suite("One room on two cores: fan-out shards", .serialized)
final class ShardTests {
    let owner: LoopbackRoomServer
    let shard: LoopbackRoomServer
    let rings: CoreRings
    let board = CoreBoard(cores: 2)
    private var ringTimer: TimerHandle?
    /// While set, `.close` messages between the cores wait in `heldCloses` (a close still on
    /// its way); `releaseCloses` delivers them.
    var holdCloses = false
    private var heldCloses: [() -> Void] = []

    /// `minViewers`: the room spreads from its third viewer on (no margin), so with the room's
    /// own weight (10, counted as its home placed it) on the owner, viewers 3… go to core 1
    /// until it is as heavy.
    init(minViewers: Int = 2, ringBytes: Int = 1 << 20) throws {
        rings = CoreRings(cores: 2, bytes: ringBytes)
        var c = RoomManagerConfiguration()
        c.shardMinViewers = minViewers
        c.shardMargin = 0
        owner = try LoopbackRoomServer(configuration: c, coreIndex: 0)
        shard = try LoopbackRoomServer(configuration: c, on: owner.loop, coreIndex: 1)
        let managers = [owner.manager, shard.manager]
        let loop = owner.loop
        for (i, m) in managers.enumerated() {
            m.shardRings = rings
            m.board = board
            m.shardControl = { [unowned self, unowned loop] core, message in
                let target = managers[core]
                let deliver = { [unowned target] in target.applyShardControl(message, from: i, now: loop.now) }
                if holdCloses, case .close = message { heldCloses.append(deliver) } else { loop.executeSoon(deliver) }
            }
        }
        // Each core reads its inbound ring every turn (the loop's `onRingMessages`).
        var timer: TimerHandle?
        timer = loop.scheduleTimer(after: .milliseconds(1)) { [unowned self] in
            readRings()
            if let timer { owner.loop.reschedule(timer, at: owner.loop.now + .milliseconds(1)) }
        }
        ringTimer = timer
    }

    deinit {
        if let ringTimer { owner.loop.cancelTimer(ringTimer) }
        for m in [owner.manager, shard.manager] { m.shardControl = nil }
        shard.close()
        owner.close()
    }

    var loop: EventLoop { owner.loop }

    func readRings() {
        if let r = rings.ring(from: 0, to: 1), r.hasMessages { shard.manager.readRing(r, now: loop.now) }
        if let r = rings.ring(from: 1, to: 0), r.hasMessages { owner.manager.readRing(r, now: loop.now) }
    }

    /// A viewer placed as `RoomRoutes.playPlaced` places it; returns it with its core.
    func viewer(_ room: String) throws -> (TestClient, core: Int) {
        switch owner.manager.placeViewer(room: try RoomName(validating: room), now: loop.now) {
        case .here:
            return (try owner.viewer(room: room), 0)
        case .shard(let core, let open):
            let client = try shard.makeClient(.viewer, room: room, create: { [unowned self] offer in
                try shard.manager.playOnShard(open, offer: offer, now: loop.now)
            }) { OfferBuilder.viewerOffer($0) }
            return (client, core)
        }
    }

    /// A publisher and `count` viewers, connected; the viewers split over the two cores.
    func room(_ name: String, viewers count: Int) throws -> (TestClient, [TestClient], [Int]) {
        let publisher = try owner.publisher(room: name)
        board.add(0, CoreBoard.roomWeight)  // as its home would when placing it
        #expect(owner.connect([publisher]))
        var viewers: [TestClient] = []
        var cores: [Int] = []
        for _ in 0..<count {
            let (v, core) = try viewer(name)
            viewers.append(v)
            cores.append(core)
            #expect(loop.run(until: { v.peer.isConnected }, timeout: .seconds(20)))
        }
        return (publisher, viewers, cores)
    }

    func server(ofCore core: Int) -> LoopbackRoomServer { core == 0 ? owner : shard }

    @Test("viewers on both cores get every packet of the publisher, in order, decrypted, with continuous sequence numbers")
    func everyViewerEveryPacket() throws {
        let (publisher, viewers, cores) = try room("big", viewers: 6)
        #expect(cores.filter { $0 == 0 }.count == 2 && cores.filter { $0 == 1 }.count == 4, "\(cores)")
        let shardRoom = try #require(shard.room("big"))
        #expect(shardRoom.shardSource?.owner == 0)
        #expect(owner.room("big")?.shards.map(\.placed) == [4])
        #expect(board.weight(0) == 10 + 2 && board.weight(1) == 4)

        for _ in 0..<6 { #expect(owner.publish(8, from: publisher)) }
        #expect(loop.run(until: { viewers.allSatisfy { $0.recorder.media.count >= 48 } }, timeout: .seconds(20)))
        for (v, core) in zip(viewers, cores) {
            let got = v.recorder.media
            #expect(got.map(\.id) == publisher.sentIDs, "viewer on core \(core)")
            #expect(v.recorder.mediaSSRC == server(ofCore: core).room("big")?.video.ssrc)
            #expect(v.peer.unprotectFailures == 0)
            for (a, b) in zip(got, got.dropFirst()) { #expect(b.sequenceNumber == a.sequenceNumber &+ 1) }
        }
        // One copy per core crossed, not one per viewer.
        #expect(owner.manager.counters.shardPacketsOut >= 48 && owner.manager.counters.shardPacketsOut < 48 + 8)
        #expect(shard.manager.counters.shardPacketsIn == owner.manager.counters.shardPacketsOut)
        #expect(rings.ring(from: 0, to: 1)?.drops == 0)
        #expect(shard.room("big")?.video.packetsOut ?? 0 >= 4 * 48)
    }

    @Test("keyframe requests of shard viewers reach the publisher through the ring, throttled on the shard")
    func keyframeRequestsFromTheShard() throws {
        let (publisher, viewers, cores) = try room("kf", viewers: 5)
        var plis = 0
        publisher.peer.onRTCP = { compound in
            for packet in compound {
                if case .pli = packet { plis += 1 }
            }
        }
        // Keyframes answer the requests made at connect: no throttle is waiting for one now.
        publisher.sendsKeyframes = true
        #expect(owner.publish(8, from: publisher))
        publisher.sendsKeyframes = false
        let onShard = zip(viewers, cores).filter { $0.1 == 1 }.map(\.0)
        #expect(onShard.count == 3)
        #expect(loop.run(until: { onShard.allSatisfy { $0.recorder.media.count >= 8 } }, timeout: .seconds(20)))
        owner.settle(.milliseconds(600))  // past the keyframe throttle's interval since connecting
        let shardThrottle = try #require(shard.room("kf")).video.keyframeThrottle
        let suppressedBefore = shardThrottle.requestsSuppressed
        let plisBefore = plis
        let fromShardsBefore = owner.manager.counters.shardKeyframeRequestsIn
        for v in onShard {
            let media = try #require(v.video?.remoteSSRC)
            v.peer.sendRTCP { $0.addPictureLossIndication(senderSSRC: 1, mediaSSRC: media) }
            v.socket.flush()
        }
        #expect(loop.run(until: { plis > plisBefore }, timeout: .seconds(10)))
        #expect(owner.manager.counters.shardKeyframeRequestsIn == fromShardsBefore + 1)
        #expect(try #require(shard.room("kf")).video.keyframeThrottle.requestsSuppressed - suppressedBefore >= 2)
    }

    @Test("a shard viewer's NACK is answered from the shard's own history")
    func nackRepairedOnTheShard() throws {
        let (publisher, viewers, cores) = try room("nack", viewers: 3)
        let v = try #require(zip(viewers, cores).first { $0.1 == 1 }?.0)
        #expect(owner.publish(16, from: publisher))
        #expect(loop.run(until: { v.recorder.media.count >= 16 }, timeout: .seconds(20)))
        let seqs = v.recorder.media.prefix(3).map(\.sequenceNumber)
        let ownerAnswered = owner.room("nack")?.video.nacksAnswered ?? 0
        let media = try #require(v.video?.remoteSSRC)
        v.peer.sendRTCP { $0.addNack(senderSSRC: 1, mediaSSRC: media, lost: seqs) }
        v.socket.flush()
        #expect(loop.run(until: { v.recorder.repairs.count >= 3 }, timeout: .seconds(10)))
        #expect(Set(v.recorder.repairs.map(\.sequenceNumber)) == Set(seqs))
        #expect((shard.room("nack")?.video.nacksAnswered ?? 0) >= 3)
        #expect(owner.room("nack")?.video.nacksAnswered == ownerAnswered)
    }

    @Test("a new publisher reaches the shard: its viewers go on, continuous, with the new one's packets")
    func publisherReconnectReachesTheShard() throws {
        let (first, viewers, cores) = try room("again", viewers: 4)
        #expect(owner.publish(8, from: first))
        #expect(loop.run(until: { viewers.allSatisfy { $0.recorder.media.count >= 8 } }, timeout: .seconds(20)))
        #expect(owner.manager.endSession(room: "again", id: first.sessionID, now: loop.now))
        owner.drop(first)
        owner.settle(.milliseconds(50))
        #expect(shard.room("again")?.video.source == nil, "the shard heard the publisher leave")
        let second = try owner.publisher(room: "again", videoSSRC: 0x0C0C_0001, firstSequence: 30_000)
        #expect(owner.connect([second]))
        owner.settle(.milliseconds(50))
        #expect(shard.room("again")?.video.source != nil)
        #expect(owner.publish(8, from: second))
        #expect(loop.run(until: { viewers.allSatisfy { $0.recorder.media.count >= 16 } }, timeout: .seconds(20)))
        for (v, core) in zip(viewers, cores) {
            let got = v.recorder.media
            #expect(got.map(\.id) == first.sentIDs + second.sentIDs, "core \(core)")
            for (a, b) in zip(got, got.dropFirst()) { #expect(b.sequenceNumber == a.sequenceNumber &+ 1, "core \(core)") }
        }
    }

    @Test("closing the room ends the viewers on every core and leaves no room, session, shard or weight behind")
    func roomCloseReachesEveryCore() throws {
        _ = try room("closing", viewers: 5)
        #expect(shard.manager.sessionCount == 3)
        #expect(owner.manager.closeRoom("closing", now: loop.now))
        owner.settle(.milliseconds(100))
        for m in [owner.manager, shard.manager] {
            #expect(m.sessionCount == 0)
            #expect(m.rooms.isEmpty && m.roomsByShardID.isEmpty && m.shardRooms.isEmpty)
        }
        #expect(board.weight(0) == CoreBoard.roomWeight && board.weight(1) == 0)  // the placement is its home's to end
        #expect(shard.manager.counters.sessionsEnded[.roomClosed] == 3)
    }

    func releaseCloses() {
        holdCloses = false
        for deliver in heldCloses { loop.executeSoon(deliver) }
        heldCloses = []
    }

    /// The old owner closed the room and forgot it, so its home may place the room anew on
    /// the core that still holds a shard of it, before the close reaches that core (the close
    /// and the new request come from different cores). The new owner ends the stale shard
    /// there and then; it used to refuse the publisher (500, "owned by another core").
    @Test("a room made anew on a core that still holds a shard of its closed owner: the stale shard ends, the new room serves")
    func roomMadeAnewWhereAStaleShardIs() throws {
        let (_, viewers, cores) = try room("anew", viewers: 5)
        let onShard = zip(viewers, cores).filter { $0.1 == 1 }.map(\.0)
        #expect(onShard.count == 3)
        holdCloses = true
        #expect(owner.manager.closeRoom("anew", now: loop.now))
        owner.settle(.milliseconds(20))
        #expect(owner.room("anew") == nil && shard.room("anew")?.shardSource != nil, "gone on the owner, its close held")

        let publisher = try shard.publisher(room: "anew", videoSSRC: 0x0C0C_0001)
        #expect(shard.manager.counters.staleShardRoomsClosed == 1)
        #expect(shard.manager.counters.sessionsEnded[.roomClosed] == 3, "the stale shard's viewers ended")
        #expect(shard.manager.shardRooms.isEmpty && shard.room("anew")?.shardSource == nil)
        #expect(shard.connect([publisher]))
        let viewer = try shard.viewer(room: "anew")
        #expect(shard.connect([viewer]))

        releaseCloses()  // the old close arrives: no shard of that owner here any more
        owner.settle(.milliseconds(50))
        #expect(shard.room("anew")?.publisher != nil)
        #expect(shard.publish(8, from: publisher))
        #expect(loop.run(until: { viewer.recorder.media.count >= 8 }, timeout: .seconds(10)))
        #expect(board.weight(1) == 1, "the new room's viewer; the stale shard's weight returned")
    }

    @Test("the shard goes when its last viewer leaves; the owner stops sending to it")
    func lastShardViewerLeaves() throws {
        let (publisher, viewers, cores) = try room("leave", viewers: 4)
        let onShard = zip(viewers, cores).filter { $0.1 == 1 }.map(\.0)
        #expect(onShard.count == 2)
        for v in onShard {
            #expect(shard.manager.endSession(room: "leave", id: v.sessionID, now: loop.now))
            shard.drop(v)
        }
        owner.settle(.milliseconds(50))
        #expect(shard.manager.rooms.isEmpty && shard.manager.shardRooms.isEmpty)
        #expect(owner.room("leave")?.shards.isEmpty == true)
        let before = owner.manager.counters.shardPacketsOut
        #expect(owner.publish(8, from: publisher))
        #expect(owner.manager.counters.shardPacketsOut == before)
        #expect(board.weight(1) == 0)
    }

    @Test("a ring that fills drops for its shard, counted, and never holds up the owner's own viewers")
    func fullRingDrops() throws {
        let small = try ShardTests(ringBytes: 4096)
        let (publisher, viewers, cores) = try small.room("full", viewers: 4)
        // 60 packets of ~240 bytes in one receive batch: more than a 4 KiB ring holds before
        // the shard's next read.
        #expect(small.owner.publish(60, from: publisher))
        let local = zip(viewers, cores).filter { $0.1 == 0 }.map(\.0)
        #expect(small.loop.run(until: { local.allSatisfy { $0.recorder.media.count >= 60 } }, timeout: .seconds(20)))
        small.owner.settle(.milliseconds(50))
        let drops = try #require(small.rings.ring(from: 0, to: 1)).drops
        #expect(drops > 0)
        #expect(small.owner.manager.counters.shardRingDrops == drops)
        #expect(small.owner.manager.counters.shardPacketsOut + drops == 60)
        for v in local { #expect(v.recorder.media.map(\.id) == publisher.sentIDs) }
    }

    @Test("a session ID names its core; an ID naming none is refused")
    func sessionIDsNameTheirCore() {
        for core in [0, 1, 7, 255, 1023] {
            let id = RoomManager.sessionID(core: core)
            #expect(id.utf8.count == 32)
            #expect(RoomManager.core(ofSession: id) == core)
        }
        #expect(RoomManager.core(ofSession: "zz" + String(repeating: "0", count: 30)) == nil)
        #expect(RoomManager.core(ofSession: "001") == nil)
    }

    @Test("a small room stays on its core; a room with no publisher keeps its viewers on its core")
    func smallRoomsStay() throws {
        let (_, _, cores) = try room("small", viewers: 2)
        #expect(cores == [0, 0])
        #expect(owner.room("small")?.shards.isEmpty == true)
        let waiting = try (0..<4).map { _ in try viewer("nobody-yet").core }
        #expect(waiting == [0, 0, 0, 0])
    }

    /// A room name whose home (hash) is `core` of two.
    func name(homedOn core: Int, _ prefix: String) -> String {
        (0...).lazy.map { "\(prefix)\($0)" }.first { RoomPlacement.core(forRoom: $0, cores: 2) == core }!
    }

    @Test("a new room goes to the lighter core; its home remembers it while a request may still be on its way there")
    func roomsPlacedByLoad() throws {
        // Core 0 carries a room (weight 10): the next new room homed on core 0 goes to core 1.
        board.add(0, CoreBoard.roomWeight)
        let room = name(homedOn: 0, "placed")
        let first = try #require(owner.manager.owner(ofRoom: room, creating: true))
        #expect(first.core == 1)
        #expect(owner.manager.owner(ofRoom: name(homedOn: 0, "absent"), creating: false) == nil)
        // The request reaches core 1 and makes the room there.
        let publisher = try shard.publisher(room: room)
        shard.manager.handledPlaced(room, first)
        #expect(shard.connect([publisher]))
        // A second request is on its way when the room goes: the home keeps the placement ...
        let second = try #require(owner.manager.owner(ofRoom: room, creating: false))
        #expect(second.core == 1)
        #expect(shard.manager.closeRoom(room, now: loop.now))
        owner.settle(.milliseconds(20))
        #expect(owner.manager.placements[room] != nil)
        // ... until that request, which leaves no room, is handled.
        shard.manager.handledPlaced(room, second)
        owner.settle(.milliseconds(20))
        #expect(owner.manager.placements[room] == nil)
        #expect(board.weight(1) == 0, "the placement's weight went with it")
        // Now the room is new again: placed by load afresh (core 1 is the lighter again).
        #expect(owner.manager.owner(ofRoom: room, creating: true)?.core == 1)
        #expect(owner.manager.counters.roomsPlacedElsewhere == 2)
    }

    @Test("rooms homed on both cores spread evenly by load, not by their names' hash")
    func manyRoomsEvenly() throws {
        var placed = [0, 0]
        for i in 0..<40 {
            let room = "r\(i)"
            let home = RoomPlacement.core(forRoom: room, cores: 2)
            let manager = home == 0 ? owner.manager : shard.manager
            let ticket = try #require(manager.owner(ofRoom: room, creating: true))
            placed[ticket.core] += 1
        }
        #expect(placed == [20, 20], "\(placed)")
    }
}
