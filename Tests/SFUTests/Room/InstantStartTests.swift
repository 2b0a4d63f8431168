import Reactor
import Testing

@testable import SFU

/// Instant start: a viewer that connects gets the packets since the latest keyframe out of the
/// track's history (the keyframe at once, the rest paced), then the live stream, with no gap,
/// no repeat and no keyframe request.
@Suite("Instant start from the latest keyframe", .serialized)
struct InstantStartTests {
    /// A track with one publisher and viewers whose datagrams are decrypted and kept.
    final class Bench {
        let output = DatagramQueue(pool: BufferPool(slotSize: 2048, slotCount: 1024), capacity: 1024)
        let fanout: TrackFanout
        /// The core's shared budget for starts (none by default: each start paced alone).
        var budget = CatchUpBudget()
        var sessions: [PeerSession] = []
        var receivers: [SRTPContext] = []
        /// Sequence numbers each viewer received, in order.
        var received: [[UInt16]] = []
        var nextSequence: UInt16 = 1000
        var timestamp: UInt32 = 90_000
        static let media = NegotiatedMedia(
            mid: "0", index: 0, kind: .video, direction: .sendonly,
            codec: SDPCodec(payloadType: 96, encodingName: "VP8", clockRate: 90_000), codecName: .vp8,
            extensions: NegotiatedExtensions([]))

        init(maxBytes: Int = 4 << 20, historyStartBytes: Int = 256 * 1024) {
            fanout = TrackFanout(
                kind: .video, streamID: "s", cname: "c", historyStartBytes: historyStartBytes, instantStartMaxBytes: maxBytes)
            fanout.attach(source: Self.media)
        }

        /// A viewer that has just connected (keys installed, address known), not yet started.
        func connectViewer(now: Instant) throws -> ViewerTrack {
            let i = sessions.count
            let key = (0..<28).map { UInt8(truncatingIfNeeded: $0 * 5 + i) }
            let session = PeerSession(
                id: "v\(i)", role: .viewer, roomName: "r",
                ice: IceLiteAgent(localUfrag: "u\(i)", localPassword: "p", remoteUfrag: "r\(i)", remotePassword: nil),
                dtls: try DTLSTransport(
                    identity: try DTLSIdentity.generate(), role: .server,
                    remoteFingerprint: (algorithm: "sha-256", value: Array(repeating: "00", count: 32).joined(separator: ":"))),
                tracks: [Self.media], now: now)
            try session.installKeys(SRTPKeys(profile: .aeadAes128Gcm, role: .server, clientWriteKey: key, serverWriteKey: key))
            session.state = .connected
            session.address = SocketAddress(ip: "10.0.0.\(i + 1)", port: 5000)
            receivers.append(try SRTPContext(keys: SRTPKeys(profile: .aeadAes128Gcm, role: .client, clientWriteKey: key, serverWriteKey: key)))
            received.append([])
            sessions.append(session)
            let track = ViewerTrack(session: session, kind: .video, media: Self.media)
            fanout.add(track)
            return track
        }

        /// One frame of `packets` packets of `size` bytes as one receive batch (the keyframe's
        /// first packet flagged), the fan-out flushed at its end.
        func frame(keyframe: Bool, packets: Int = 3, size: Int = 1000, flagged: Int = 0, now: Instant) {
            for k in 0..<packets {
                var bytes: [UInt8] = [0x80, k == packets - 1 ? 0xE0 : 0x60, UInt8(nextSequence >> 8), UInt8(nextSequence & 0xFF)]
                bytes += [UInt8(timestamp >> 24), UInt8(timestamp >> 16 & 0xFF), UInt8(timestamp >> 8 & 0xFF), UInt8(timestamp & 0xFF)]
                bytes += [0, 0, 0, 7]
                bytes += [UInt8](repeating: UInt8(truncatingIfNeeded: k), count: size - 12)
                bytes.withUnsafeMutableBytes { raw in
                    guard let rtp = try? RTPPacket(parsing: raw) else { return }
                    fanout.forward(rtp, isKeyframe: keyframe && k == flagged, now: now, output: output)
                }
                nextSequence &+= 1
            }
            timestamp &+= 3000
            fanout.flushPending(output: output)
            deliver()
        }

        func deliver() {
            output.drain { address, bytes in
                guard let i = sessions.firstIndex(where: { $0.address == address }) else { return }
                var datagram = Array(bytes)
                let n = datagram.withUnsafeMutableBytes { try? receivers[i].unprotectRTP($0, length: $0.count) }
                guard let n, n >= 12 else {
                    Issue.record("viewer \(i): a datagram that does not decrypt")
                    return
                }
                received[i].append(UInt16(datagram[2]) << 8 | UInt16(datagram[3]))
            }
        }

        /// A viewer joining 10 frames after a 6-packet keyframe (`now` moves to its join), its
        /// start begun: the keyframe sent, the rest paced.
        func lateViewer(now: inout Instant) throws -> ViewerTrack {
            let first = now
            frame(keyframe: true, packets: 6, now: now)
            for i in 0..<10 {
                now = first + .milliseconds(UInt64(i + 1) * 33)
                frame(keyframe: false, now: now)
            }
            let viewer = try connectViewer(now: now)
            #expect(start(viewer, now: now))
            deliver()
            return viewer
        }
        func start(_ viewer: ViewerTrack, pace: UInt64? = nil, now: Instant) -> Bool {
            fanout.startCatchUp(viewer, pace: pace, now: now, budget: &budget, output: output)
        }

        func sendDue(now: Instant) -> Int { fanout.sendDueCatchUps(now: now, budget: &budget, output: output) }

        /// Runs the paced starts until none is left (at most `limit` steps of `step`).
        func runCatchUps(from now: Instant, step: Duration = .milliseconds(5), limit: Int = 10_000) -> (Instant, aborted: Int) {
            var t = now
            var aborted = 0
            for _ in 0..<limit {
                guard let due = fanout.nextCatchUpTime else { break }
                t = max(t + step, due)
                aborted += fanout.sendDueCatchUps(now: t, budget: &budget, output: output)
                deliver()
            }
            return (t, aborted)
        }
    }

    static func at(_ ms: Int64) -> Instant { Instant(nanoseconds: UInt64(ms) * 1_000_000) }

    /// The outbound numbers are the history's; what a viewer must get is a run with no gap.
    static func isContiguous(_ seqs: [UInt16]) -> Bool {
        zip(seqs, seqs.dropFirst()).allSatisfy { $1 == $0 &+ 1 }
    }

    @Test("a late viewer gets the keyframe and every packet since at once, then the live stream: no gap, no repeat")
    func lateViewerStartsAtTheKeyframe() throws {
        let bench = Bench()
        var now = Self.at(1000)
        bench.frame(keyframe: false, now: now)  // before the keyframe: not sent to the late viewer
        bench.frame(keyframe: true, packets: 6, now: now)
        for i in 0..<40 {
            now = Self.at(1000 + Int64(i + 1) * 33)
            bench.frame(keyframe: false, now: now)
        }
        let viewer = try bench.connectViewer(now: now)
        #expect(bench.start(viewer, now: now))
        bench.deliver()
        // The keyframe's six packets went at once, unpaced.
        #expect(bench.received[0].count >= 6)
        #expect(viewer.catchingUp)
        // Live frames while it catches up are not fanned out to it (they come in order).
        bench.frame(keyframe: false, now: now + .milliseconds(10))
        let (end, aborted) = bench.runCatchUps(from: now + .milliseconds(10))
        #expect(aborted == 0)
        #expect(!viewer.catchingUp)
        bench.frame(keyframe: false, now: end + .milliseconds(33))
        let seqs = bench.received[0]
        #expect(seqs.count == 6 + 40 * 3 + 3 + 3, "keyframe, 40 frames since, one during, one after")
        #expect(Self.isContiguous(seqs), "in order with no gap or repeat")
        #expect(bench.fanout.instantStarts == 1)
        #expect(bench.fanout.instantStartPackets == UInt64(6 + 41 * 3))
        withExtendedLifetime(bench.sessions) {}
    }

    /// A client that lost the server's DTLS Finished decrypts only what reaches it after it
    /// has the keys; packets older than the first it decrypted are "before its start" and it
    /// never asks for them. So a start sent again (the client retransmitted its Finished) is
    /// numbered on from what was sent: the keyframe comes again as new packets, after all it
    /// saw, and a loss among them is a gap it asks for (simulation seed 210 on two cores).
    @Test("a start sent again after a lost Finished is numbered on from what was sent: the keyframe again as new packets, no gap")
    func startSentAgainIsNumberedOn() throws {
        let bench = Bench()
        var now = Self.at(1000)
        let viewer = try bench.lateViewer(now: &now)
        let firstStart = bench.received[0]
        #expect(firstStart.count >= 6 && viewer.catchingUp)
        // Still being started, just after its start began (the client's Finished came again):
        // back to its keyframe at once; the next retransmission within the interval changes
        // nothing (simulation seed 1202: the first rewind used to wait for the interval too,
        // and a viewer that never asks for keyframes never saw a picture).
        now = now + .milliseconds(50)
        bench.fanout.rewindCatchUp(viewer, now: now)
        bench.fanout.rewindCatchUp(viewer, now: now + .milliseconds(100))
        #expect(bench.fanout.instantStartRewinds == 1)
        let (end, _) = bench.runCatchUps(from: now)
        #expect(!viewer.catchingUp)
        let seqs = bench.received[0]
        #expect(Self.isContiguous(seqs), "numbered on, no repeat and no gap: \(seqs.prefix(12))")
        #expect(seqs.count == firstStart.count + 6 + 10 * 3, "what was sent, then the keyframe and every packet since")
        // Live, then it lost everything again: started again from the keyframe, numbered on.
        bench.frame(keyframe: false, now: end + .milliseconds(33))
        let before = bench.received[0].count
        #expect(bench.fanout.restartCatchUp(viewer, now: end + .milliseconds(40), budget: &bench.budget, output: bench.output))
        bench.deliver()
        _ = bench.runCatchUps(from: end + .milliseconds(40))
        bench.frame(keyframe: false, now: end + .milliseconds(66))
        let again = bench.received[0]
        #expect(Self.isContiguous(again), "numbered on after the restart too")
        #expect(again.count == before + 6 + 11 * 3 + 3, "the keyframe and every packet since, then live")
        withExtendedLifetime(bench.sessions) {}
    }

    @Test("a start that jumps to a later keyframe keeps the publisher's timeline (its timestamps as they are) and numbers on")
    func jumpKeepsTimeline() throws {
        let bench = Bench()
        var now = Self.at(1000)
        let viewer = try bench.lateViewer(now: &now)
        #expect(bench.received[0].count >= 6 && viewer.catchingUp, "its keyframe sent, the rest paced")
        // The next keyframe, 11 frames (33 000 ticks) after the one it was sent: it goes on
        // from there. Its timestamp keeps that distance from the last packet the viewer got
        // (a fixed one-frame step, as for a rewind, would put the new keyframe 30 000 ticks
        // early and move the viewer's video against its audio).
        now = now + .milliseconds(33)
        bench.frame(keyframe: true, packets: 6, now: now)
        #expect(bench.fanout.jumpCatchUpsToLatestKeyframe() == 1)
        #expect(viewer.offsets.timestamp == 0, "timestamps as the publisher's: \(viewer.offsets.timestamp)")
        _ = bench.runCatchUps(from: now)
        #expect(!viewer.catchingUp)
        #expect(Self.isContiguous(bench.received[0]), "numbered on, no gap: \(bench.received[0].prefix(12))")
        withExtendedLifetime(bench.sessions) {}
    }

    @Test("after the keyframe the start is paced at a multiple of the stream's bitrate, not one burst")
    func paced() throws {
        let bench = Bench()
        var now = Self.at(1000)
        bench.frame(keyframe: true, packets: 10, now: now)
        // ~1.2 Mbit/s for 3 s: 30 frames a second of five 1000-byte packets.
        for i in 0..<90 {
            now = Self.at(1000 + Int64(i + 1) * 33)
            bench.frame(keyframe: false, packets: 5, now: now)
        }
        let viewer = try bench.connectViewer(now: now)
        #expect(bench.start(viewer, now: now))
        bench.deliver()
        let first = bench.received[0].count
        #expect(first >= 10 && first < 10 + 90 * 5 / 4, "the keyframe at once, the rest not in the same burst: \(first)")
        let (end, _) = bench.runCatchUps(from: now)
        let took = end - now
        // 450 KB at 4 × ~1.2 Mbit/s (floor 2 Mbit/s) is ~0.75 s; a burst would take one step.
        #expect(took > .milliseconds(300) && took < .seconds(3), "caught up in \(took)")
        #expect(Self.isContiguous(bench.received[0]))
        withExtendedLifetime(bench.sessions) {}
    }

    @Test("a start given a pace (a move down a layer for congestion) paces its keyframe too, at that rate")
    func pacedKeyframe() throws {
        let bench = Bench()
        let now = Self.at(1000)
        bench.frame(keyframe: true, packets: 10, now: now)  // 10 kB
        let viewer = try bench.connectViewer(now: now)
        #expect(bench.start(viewer, pace: 400_000, now: now))
        bench.deliver()
        #expect(bench.received[0].count <= 1, "not the keyframe at once: \(bench.received[0].count)")
        let (end, _) = bench.runCatchUps(from: now, step: .milliseconds(5))
        // 10 kB at 50 kB/s: ~200 ms (less the first packet's).
        #expect(end - now >= .milliseconds(150) && end - now < .milliseconds(400), "took \(end - now)")
        #expect(bench.received[0].count == 10 && Self.isContiguous(bench.received[0]))
        let other = try bench.connectViewer(now: end)
        #expect(bench.start(other, now: end))
        bench.deliver()
        #expect(bench.received[1].count == 10, "without a pace: the keyframe at once")
        withExtendedLifetime(bench.sessions) {}
    }

    @Test("a viewer held for a move down is skipped by the fan-out until released")
    func heldForMove() throws {
        let bench = Bench()
        var now = Self.at(1000)
        let viewer = try bench.connectViewer(now: now)
        bench.frame(keyframe: true, now: now)
        #expect(bench.received[0].count == 3)
        viewer.heldForMove = true
        now = Self.at(1033)
        bench.frame(keyframe: false, now: now)
        #expect(bench.received[0].count == 3, "nothing while held")
        viewer.heldForMove = false
        bench.frame(keyframe: false, now: Self.at(1066))
        #expect(bench.received[0].count == 6)
        withExtendedLifetime(bench.sessions) {}
    }

    @Test("no start without a keyframe, past the byte bound, or when off: the caller asks for a keyframe")
    func unavailable() throws {
        let none = Bench()
        none.frame(keyframe: false, now: Self.at(1000))
        #expect(!none.start(try none.connectViewer(now: Self.at(1000)), now: Self.at(1000)))
        #expect(none.fanout.instantStartAvailableBytes == nil)

        let bounded = Bench(maxBytes: 20_000)
        bounded.frame(keyframe: true, now: Self.at(1000))
        #expect(bounded.fanout.instantStartAvailableBytes == 3000)
        for i in 0..<10 { bounded.frame(keyframe: false, now: Self.at(1033 + Int64(i) * 33)) }
        #expect(bounded.fanout.instantStartAvailableBytes == nil, "33 KB since the keyframe, past the 20 KB bound")
        #expect(!bounded.start(try bounded.connectViewer(now: Self.at(2000)), now: Self.at(2000)))

        let off = Bench(maxBytes: 0)
        off.frame(keyframe: true, now: Self.at(1000))
        #expect(!off.start(try off.connectViewer(now: Self.at(1000)), now: Self.at(1000)))
        withExtendedLifetime([none.sessions, bounded.sessions, off.sessions]) {}
    }

    @Test("a start whose keyframe leaves the history before it caught up is aborted (the caller asks for a keyframe); the viewer goes live")
    func abortedWhenTheHistoryComesRound() throws {
        // The smallest history (16 KiB), never resized (one instant: no rate window ends).
        let bench = Bench(historyStartBytes: 16 * 1024)
        let now = Self.at(1000)
        bench.frame(keyframe: true, packets: 2, now: now)
        for _ in 0..<3 { bench.frame(keyframe: false, now: now) }
        let viewer = try bench.connectViewer(now: now)
        #expect(bench.start(viewer, now: now))
        for _ in 0..<10 { bench.frame(keyframe: false, now: now) }  // 30 KB: the arena comes round
        #expect(bench.sendDue(now: now + .milliseconds(5)) == 1)
        #expect(!viewer.catchingUp)
        #expect(bench.fanout.instantStartsAborted == 1)
        withExtendedLifetime(bench.sessions) {}
    }

    @Test("a new publisher ends the starts in progress: its stream needs its own keyframe")
    func newPublisherEndsStarts() throws {
        let bench = Bench()
        let now = Self.at(1000)
        bench.frame(keyframe: true, now: now)
        for i in 0..<30 { bench.frame(keyframe: false, packets: 5, now: now + .milliseconds(UInt64(i) * 33)) }
        let viewer = try bench.connectViewer(now: now + .seconds(1))
        #expect(bench.start(viewer, now: now + .seconds(1)))
        bench.fanout.attach(source: Bench.media)
        #expect(!viewer.catchingUp)
        #expect(bench.fanout.nextCatchUpTime == nil)
        #expect(bench.fanout.instantStartAvailableBytes == nil)
        withExtendedLifetime(bench.sessions) {}
    }

    @Test("the history grows to hold a whole keyframe interval (up to the bound), so a viewer joining just before the next keyframe still starts")
    func historyHoldsTheInterval() throws {
        // 4 s keyframe interval at ~1.2 Mbit/s: ~600 KB per interval, more than 2.5 s of history.
        let bench = Bench(historyStartBytes: 16 * 1024)
        var ms: Int64 = 1000
        for i in 0..<(3 * 120 + 110) {
            bench.frame(keyframe: i % 120 == 0, packets: 5, now: Self.at(ms))
            ms += 33
        }
        // 110 frames (3.6 s) into the fourth interval.
        let available = try #require(bench.fanout.instantStartAvailableBytes)
        #expect(available == 110 * 5 * 1000)
        #expect(bench.fanout.history!.byteCapacity >= available)
        let viewer = try bench.connectViewer(now: Self.at(ms))
        #expect(bench.start(viewer, now: Self.at(ms)))
        let (_, aborted) = bench.runCatchUps(from: Self.at(ms))
        #expect(aborted == 0)
        #expect(bench.received[0].count == 110 * 5)
        #expect(Self.isContiguous(bench.received[0]))
        withExtendedLifetime(bench.sessions) {}
    }

    @Test("a keyframe's parameter sets sent just before its flagged packet (same timestamp) are part of the start")
    func parameterSetsBelongToTheKeyframe() throws {
        let bench = Bench()
        let now = Self.at(1000)
        bench.frame(keyframe: false, now: now)
        let keyframeFirst = bench.nextSequence
        bench.frame(keyframe: true, packets: 4, flagged: 2, now: now)  // SPS, PPS, then the IDR
        bench.frame(keyframe: false, now: now)
        let viewer = try bench.connectViewer(now: now)
        #expect(bench.start(viewer, now: now))
        bench.deliver()
        #expect(bench.received[0].first == keyframeFirst)
        withExtendedLifetime(bench.sessions) {}
    }

    @Test("a repaired packet of an older keyframe, flagged late, keeps the newer start; the interval between keyframes is measured")
    func olderKeyframeRepair() {
        let history = PacketHistory(slotCount: 64, slotSize: 1500, byteCapacity: 64 * 1024)
        for seq in UInt16(10)...16 {
            let p = [UInt8](repeating: 0, count: 100)
            p.withUnsafeBytes { _ = history.store($0, sequenceNumber: seq, now: Self.at(1000)) }
        }
        var cache = KeyframeCache(maxBytes: 1 << 20)
        cache.keyframeStored(first: 11, timestamp: 200, packetsIn: 1, bytesIn: 100)
        cache.keyframeStored(first: 10, timestamp: 100, packetsIn: 5, bytesIn: 500)
        #expect(cache.start == 11)
        cache.keyframeStored(first: 15, timestamp: 400, packetsIn: 5, bytesIn: 500)
        #expect(cache.start == 15)
        #expect(cache.intervalBytes == 4 * 100)
        #expect(cache.intervalPackets == 4)
        #expect(cache.usableStart(in: history, bytesIn: 700) == 15)
        #expect(cache.usableStart(in: history, bytesIn: 500 + (1 << 20) + 1) == nil, "past the bound")
        #expect(KeyframeCache(maxBytes: 0).usableStart(in: history, bytesIn: 700) == nil)
    }
}
