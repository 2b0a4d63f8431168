import Reactor
import Testing

@testable import SFU

/// The core's shared budget for instant starts: a storm of joiners shares one bucket of
/// bytes per turn, keyframes first, earliest start first; starts that cannot catch up before
/// the next keyframe move on to it. A storm then costs later pictures, never a keyframe
/// request upstream.
@Suite("Instant start: the core's shared budget", .serialized)
struct CatchUpBudgetTests {
    static func at(_ ms: Int64) -> Instant { Instant(nanoseconds: UInt64(ms) * 1_000_000) }

    @Test("the bucket holds at most its burst, refills with time, and never lets more out than it was given")
    func bucket() {
        var b = CatchUpBudget()
        b.beginTurn(now: Self.at(1000), bytesPerSecond: 1_000_000)
        #expect(b.burst == 20_000, "20 ms of 1 MB/s")
        #expect(b.available == 20_000, "starts full")
        var sent = 0
        while b.allows(1200) {
            b.spend(1200, keyframe: false)
            sent += 1200
        }
        #expect(sent == 19_200)
        #expect(b.sendsHeldBack == 1 && b.limitedTurns == 1)
        b.beginTurn(now: Self.at(1005), bytesPerSecond: 1_000_000)
        #expect(b.available == 800 + 5000, "5 ms earn 5 000 bytes")
        b.beginTurn(now: Self.at(9000), bytesPerSecond: 1_000_000)
        #expect(b.available == 20_000, "never more than the burst, however long the pause")
        #expect(b.spentBytes <= b.grantedBytes)
        // Off: everything is allowed, and still counted.
        var off = CatchUpBudget()
        off.beginTurn(now: Self.at(1000), bytesPerSecond: 0)
        let allowed = off.allows(1 << 20)
        #expect(allowed)
        off.spend(1000, keyframe: true)
        #expect(off.spentBytes == 1000 && off.keyframeBytes == 1000 && off.sendsHeldBack == 0)
        // A tiny rate still lets the largest packet through.
        var tiny = CatchUpBudget()
        tiny.beginTurn(now: Self.at(1000), bytesPerSecond: 10)
        let fits = tiny.allows(TrackFanout.maximumPacketBytes)
        #expect(fits)
    }

    /// One room on a real `RoomManager` whose video track has a publisher stream and viewers
    /// with keys; the core's turns (`sendInstantStarts`) run on a virtual clock.
    final class Storm {
        let output = DatagramQueue(pool: BufferPool(slotSize: 2048, slotCount: 8192), capacity: 8192)
        let manager: RoomManager
        let room: Room
        var fanout: TrackFanout { room.video }
        var sessions: [PeerSession] = []
        var tracks: [ViewerTrack] = []
        let identity: DTLSIdentity
        var nextSequence: UInt16 = 65_000  // wraps during the run
        var timestamp: UInt32 = 4_294_000_000  // wraps too
        /// Whether each outbound packet (the room's numbering) belongs to a keyframe.
        var isKeyframePacket: [UInt16: Bool] = [:]
        /// Per viewer: the packets it got, in its own numbering, whether each was a keyframe's.
        var received: [[(seq: UInt16, key: Bool)]] = []
        /// Viewers with their whole first keyframe, and whether any later packet reached a
        /// viewer while one of them still had none.
        var keyframesComplete = 0
        var laterPacketBeforeEveryKeyframe = false
        static let keyframePackets = 4
        static let packetBytes = 500
        static let media = NegotiatedMedia(
            mid: "0", index: 0, kind: .video, direction: .sendonly,
            codec: SDPCodec(payloadType: 96, encodingName: "VP8", clockRate: 90_000), codecName: .vp8,
            extensions: NegotiatedExtensions([]))

        init(bytesPerSecond: Int) throws {
            var c = RoomManagerConfiguration()
            c.instantStartBytesPerSecond = bytesPerSecond
            identity = try DTLSIdentity.generate()
            manager = RoomManager(coreIndex: 0, identity: identity, configuration: c, output: output)
            room = try manager.room(named: "storm", now: Storm.at0)
            room.video.attach(source: Self.media)
        }
        static let at0 = Instant(nanoseconds: 1_000_000_000)

        func connectViewer(now: Instant) throws -> ViewerTrack {
            let i = sessions.count
            let key = (0..<28).map { UInt8(truncatingIfNeeded: $0 * 7 + i) }
            let session = PeerSession(
                id: "v\(i)", role: .viewer, roomName: "storm",
                ice: IceLiteAgent(localUfrag: "u\(i)", localPassword: "p", remoteUfrag: "r\(i)", remotePassword: nil),
                dtls: try DTLSTransport(
                    identity: identity, role: .server,
                    remoteFingerprint: (algorithm: "sha-256", value: Array(repeating: "00", count: 32).joined(separator: ":"))),
                tracks: [Self.media], now: now)
            try session.installKeys(SRTPKeys(profile: .aeadAes128Gcm, role: .server, clientWriteKey: key, serverWriteKey: key))
            session.state = .connected
            session.address = SocketAddress(ip: "10.9.0.1", port: UInt16(20_000 + i))
            sessions.append(session)
            received.append([])
            let track = ViewerTrack(session: session, kind: .video, media: Self.media)
            session.viewerTracks.append(track)
            tracks.append(track)
            fanout.add(track)
            return track
        }

        /// One frame as one receive batch; a keyframe's layers are told as `handleRTP` does.
        func frame(keyframe: Bool, now: Instant) {
            for k in 0..<(keyframe ? Self.keyframePackets : 1) {
                var bytes: [UInt8] = [0x80, 0x60, UInt8(nextSequence >> 8), UInt8(nextSequence & 0xFF)]
                bytes += [UInt8(timestamp >> 24), UInt8(timestamp >> 16 & 0xFF), UInt8(timestamp >> 8 & 0xFF), UInt8(timestamp & 0xFF)]
                bytes += [0, 0, 0, 7]
                bytes += [UInt8](repeating: keyframe ? 0xAA : 0x55, count: Self.packetBytes - 12)
                bytes.withUnsafeMutableBytes { raw in
                    guard let rtp = try? RTPPacket(parsing: raw) else { return }
                    fanout.forward(rtp, isKeyframe: keyframe && k == 0, now: now, output: output)
                    isKeyframePacket[rtp.sequenceNumber] = keyframe
                }
                nextSequence &+= 1
            }
            timestamp &+= 4500
            fanout.flushPending(output: output)
            deliver()
            if keyframe {
                manager.keyframedLayers.append((room, fanout))
                manager.batchEnded(now: now)
            }
        }

        /// Takes every queued datagram as its viewer gets it: its number, and in the room's
        /// numbering whether it was a keyframe's. `catchUp`: what a turn of the starts sent.
        func deliver(catchUp: Bool = false) {
            output.drain { address, bytes in
                let i = Int(address.port) - 20_000
                guard i >= 0, i < received.count, bytes.count >= 12 else { return }
                let seq = UInt16(bytes[2]) << 8 | UInt16(bytes[3])
                let track = tracks[i]
                let roomSeq = track.rewrites ? seq &- track.offsets.sequence : seq
                let key = isKeyframePacket[roomSeq] ?? false
                if !key, received[i].count < Self.keyframePackets {
                    Issue.record("viewer \(i): a later packet before its keyframe was whole")
                }
                // Live copies (a viewer that caught up) do not count: they are not the starts'.
                if catchUp, !key, keyframesComplete < received.count { laterPacketBeforeEveryKeyframe = true }
                received[i].append((seq, key))
                if key, received[i].count == Self.keyframePackets { keyframesComplete += 1 }
            }
        }
    }

    @Test("1 000 viewers join at once: every one gets its keyframe before anyone gets later packets, none is aborted, no keyframe is asked for upstream, and the starts never send more than the budget")
    func joinStorm() throws {
        let viewers = 1000
        let rate = 4_000_000  // bytes/s for every start together: far less than 1 000 viewers' own pace
        let storm = try Storm(bytesPerSecond: rate)
        // 20 frames a second of 500 bytes, a 4-packet keyframe every 2 s; the storm comes 1 s
        // into an interval (~12 KB to send each viewer: 12 MB, 3 s of the budget, while the
        // next keyframe is 1 s away, and the one after 3 s).
        var ms: Int64 = 1000
        var frame = 0
        func step(_ now: Instant) {
            if ms % 50 == 0 {
                storm.frame(keyframe: frame % 40 == 0, now: now)
                frame += 1
            }
            if let due = storm.fanout.nextCatchUpTime, !(now < due) {
                let before = storm.manager.catchUpBudget.spentBytes
                storm.manager.sendInstantStarts(now: now)
                let spent = storm.manager.catchUpBudget.spentBytes - before
                #expect(spent <= UInt64(storm.manager.catchUpBudget.burst), "a turn spends at most the bucket")
                storm.deliver(catchUp: true)
            }
        }
        while ms < 2000 {  // a keyframe at 1 s
            step(Self.at(ms))
            ms += 1
        }
        let stormAt = Self.at(ms)
        for _ in 0..<viewers {
            let v = try storm.connectViewer(now: stormAt)
            storm.manager.startViewerPicture(v.session, room: storm.room, now: stormAt)
            #expect(v.catchingUp)
        }
        storm.deliver(catchUp: true)
        while ms < 30_000, storm.fanout.nextCatchUpTime != nil {
            step(Self.at(ms))
            ms += 1
        }
        let f = storm.fanout
        #expect(f.nextCatchUpTime == nil, "every start caught up")
        #expect(storm.keyframesComplete == viewers, "every viewer got a whole keyframe")
        #expect(!storm.laterPacketBeforeEveryKeyframe, "keyframes first: no later packet before every viewer had one")
        #expect(f.instantStarts == UInt64(viewers))
        #expect(f.instantStartsAborted == 0)
        #expect(f.keyframeThrottle.requestsSent == 0 && f.keyframeThrottle.requestsSuppressed == 0, "nothing asked upstream")
        #expect(f.instantStartJumps > 0, "the budget was too small to catch everyone up before the next keyframe")
        let budget = storm.manager.catchUpBudget
        #expect(budget.limitedTurns > 0 && budget.sendsHeldBack > 0, "the storm was held back")
        #expect(budget.spentBytes <= budget.grantedBytes)
        let elapsed = UInt64((Self.at(ms) - stormAt).nanoseconds)
        #expect(budget.spentBytes <= UInt64(budget.burst) + UInt64(rate) * elapsed / 1_000_000_000 + UInt64(rate) / 100)
        #expect(budget.spentBytes == f.instantStartBytes)
        // What each viewer got is one stream: no gap to NACK, no repeat, across its jump.
        for (i, got) in storm.received.enumerated() {
            let contiguous = zip(got, got.dropFirst()).allSatisfy { $1.seq == $0.seq &+ 1 }
            if !contiguous { Issue.record("viewer \(i): its numbering has a gap or a repeat") }
            if !contiguous { break }
        }
        storm.manager.noteCatchUpBudgetFigures()
        #expect(storm.manager.mediaCounters.instantStartBudgetHeldBack == budget.sendsHeldBack)
        withExtendedLifetime(storm.sessions) {}
    }
}
