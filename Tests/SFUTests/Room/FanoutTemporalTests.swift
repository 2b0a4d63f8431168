import Reactor
import Testing

@testable import SFU

/// Temporal caps in the batch fan-out (`TrackFanout.flushPending`) and its repairs: a capped
/// viewer gets only the frames within its cap, decrypting to one continuous stream, while an
/// uncapped viewer of the same batch gets every packet as it was; a NACK of a capped
/// viewer's number is answered with the packet it names, numbered as before.
@Suite("Fan-out with temporal caps", .serialized)
struct FanoutTemporalTests {
    static func media() -> NegotiatedMedia {
        NegotiatedMedia(
            mid: "0", index: 0, kind: .video, direction: .sendonly,
            codec: SDPCodec(payloadType: 96, encodingName: "VP8", clockRate: 90_000), codecName: .vp8,
            extensions: NegotiatedExtensions([]))
    }

    /// A connected viewer session with its own SRTP keys, and the receiver that decrypts for it.
    static func key(_ i: Int) -> [UInt8] { (0..<28).map { UInt8(truncatingIfNeeded: $0 * 5 + i) } }

    /// A receiver for viewer `i`'s copies (a fresh one has no replay list yet).
    static func receiver(_ i: Int) throws -> FanoutHeaderReuseTests.Receiver {
        try FanoutHeaderReuseTests.Receiver(
            keys: SRTPKeys(profile: .aeadAes128Gcm, role: .client, clientWriteKey: key(i), serverWriteKey: key(i)))
    }

    static func viewerSession(index i: Int, media: NegotiatedMedia = media()) throws -> (PeerSession, FanoutHeaderReuseTests.Receiver) {
        let key = Self.key(i)
        let keys = SRTPKeys(profile: .aeadAes128Gcm, role: .server, clientWriteKey: key, serverWriteKey: key)
        let receiver = try Self.receiver(i)
        let session = PeerSession(
            id: "v\(i)", role: .viewer, roomName: "r",
            ice: IceLiteAgent(localUfrag: "u\(i)", localPassword: "p", remoteUfrag: "r\(i)", remotePassword: nil),
            dtls: try DTLSTransport(
                identity: try DTLSIdentity.generate(), role: .server,
                remoteFingerprint: (algorithm: "sha-256", value: Array(repeating: "00", count: 32).joined(separator: ":"))),
            tracks: [media], now: Instant(nanoseconds: 1))
        try session.installKeys(keys)
        session.state = .connected
        session.address = SocketAddress(ip: "10.0.1.\(i + 1)", port: 5000)
        return (session, receiver)
    }

    struct Got: Equatable {
        var sequence: UInt16
        var pictureID: UInt16
        var tl0: UInt8
        var tid: UInt8
        var frame: UInt8
    }

    static func parse(_ packet: [UInt8]) -> Got {
        var copy = packet
        // The fan-out adds a transport-wide sequence element: the payload is past the header.
        let header = (try? withRTP(&copy) { $0.headerLength }) ?? 12
        let d = Array(packet[header...])
        return Got(
            sequence: UInt16(packet[2]) << 8 | UInt16(packet[3]), pictureID: UInt16(d[2] & 0x7F) << 8 | UInt16(d[3]),
            tl0: d[4], tid: d[5] >> 6, frame: d[10])
    }

    @Test("viewers capped at 0 and 1 get TL0 (a quarter of the frames) and TL0+TL1, continuous, through a cap change; the uncapped viewer gets every packet unchanged; a capped viewer's NACK is answered with the packet it names")
    func cappedViewers() throws {
        let output = DatagramQueue(pool: BufferPool(slotSize: 2048, slotCount: 256))
        var now = Instant(nanoseconds: 1_000_000_000)
        let fanout = TrackFanout(kind: .video, streamID: "s", cname: "c", historyStartBytes: 256 * 1024)
        fanout.attach(source: Self.media())
        var sessions: [PeerSession] = []
        var receivers: [FanoutHeaderReuseTests.Receiver] = []
        var tracks: [ViewerTrack] = []
        for i in 0..<3 {
            let (s, r) = try Self.viewerSession(index: i)
            let t = ViewerTrack(session: s, kind: .video, media: Self.media())
            fanout.add(t)
            sessions.append(s)
            receivers.append(r)
            tracks.append(t)
        }
        tracks[1].setTemporalCap(0)
        tracks[2].setTemporalCap(1)
        func deliver() {
            output.drain { address, bytes in
                guard let i = sessions.firstIndex(where: { $0.address == address }) else { return }
                receivers[i].received(bytes)
            }
        }
        var stream = L1T3Stream(sequence: 65_000, pictureID: 0x7FE0)
        var sent = 0
        for f in 0..<48 {
            if f == 24 {
                tracks[1].setTemporalCap(2)  // up at the next layer-sync frame
                tracks[2].setTemporalCap(0)  // down at the next frame
            }
            for p in try stream.nextFrame() {
                var bytes = p.bytes
                bytes.withUnsafeMutableBytes { raw in
                    guard let rtp = try? RTPPacket(parsing: raw) else { return }
                    fanout.forward(rtp, isKeyframe: p.frame == 0 && p.bytes[12] & 0x10 != 0, now: now, output: output)
                }
                sent += 1
            }
            fanout.flushPending(output: output)
            deliver()
            now = now + .milliseconds(33)
        }
        #expect(receivers.allSatisfy { $0.failures == 0 })
        let all = receivers[0].packets.map(Self.parse)
        #expect(all.count == sent && all.map(\.sequence) == (0..<sent).map { 65_000 &+ UInt16($0) }, "the uncapped viewer: every packet as sent")
        let zero = receivers[1].packets.map(Self.parse)
        let one = receivers[2].packets.map(Self.parse)
        #expect(zero.prefix { $0.frame < 24 }.allSatisfy { $0.tid == 0 } && zero.prefix { $0.frame < 24 }.count == 12)
        #expect(zero.contains { $0.frame >= 24 && $0.tid == 2 }, "capped at 2 from a layer-sync frame on")
        #expect(one.prefix { $0.frame < 24 }.allSatisfy { $0.tid <= 1 } && one.prefix { $0.frame < 24 }.count == 24)
        #expect(one.filter { $0.frame > 24 }.allSatisfy { $0.tid == 0 })
        for got in [zero, one] {
            for (a, b) in zip(got, got.dropFirst()) {
                #expect(b.sequence == a.sequence &+ 1)
                #expect(b.pictureID == (a.frame == b.frame ? a.pictureID : (a.pictureID &+ 1) & 0x7FFF))
                if b.tid == 0, a.tid == 0, a.frame != b.frame { #expect(b.tl0 == a.tl0 &+ 1) }
            }
        }
        #expect(fanout.temporalHeld > 0)

        // A NACK for the capped-at-0 viewer's fifth packet: mapped back and resent as it was.
        let wanted = zero[4]
        let input = try #require(tracks[1].temporal?.inputSequence(forOutput: wanted.sequence))
        // A plain resend repeats the packet's SRTP index: a fresh receiver, without the replay
        // list that would refuse it.
        receivers[1] = try Self.receiver(1)
        fanout.resend(sequenceNumber: input, to: tracks[1], now: now, output: output)
        deliver()
        #expect(receivers[1].packets.map(Self.parse) == [wanted])
        withExtendedLifetime(sessions) {}
    }

    @Test("a layer's bitrate by temporal cap: layers 0…t summed, the same as the cumulative rates the temporal choice reads; no cap is the whole layer")
    func bitrateByTemporalCap() throws {
        let output = DatagramQueue(pool: BufferPool(slotSize: 2048, slotCount: 256))
        let fanout = TrackFanout(kind: .video, streamID: "s", cname: "c", historyStartBytes: 256 * 1024)
        fanout.attach(source: Self.media())
        var stream = L1T3Stream()
        var now = Instant(nanoseconds: 1_000_000_000)
        for _ in 0..<100 {  // 3.3 s: three whole windows
            for p in try stream.nextFrame() {
                var bytes = p.bytes
                bytes.withUnsafeMutableBytes { raw in
                    guard let rtp = try? RTPPacket(parsing: raw) else { return }
                    fanout.forward(rtp, isKeyframe: false, now: now, output: output)
                }
            }
            fanout.flushPending(output: output)
            now = now + .milliseconds(33)
        }
        let rates = fanout.cumulativeTemporalBitrates(now: now)
        #expect(rates.count == 3 && rates[0] > 0 && rates[0] < rates[1] && rates[1] < rates[2], "\(rates)")
        for (t, rate) in rates.enumerated() {
            #expect(fanout.bitrate(temporalCap: t, now: now) == min(rate, fanout.currentBitrate(now: now)))
        }
        #expect(fanout.bitrate(temporalCap: nil, now: now) == fanout.currentBitrate(now: now))
        #expect(fanout.bitrate(temporalCap: 3, now: now) == min(rates[2], fanout.currentBitrate(now: now)))
        #expect(fanout.bitrate(temporalCap: 0, now: now + .seconds(3)) == 0, "decayed once packets stop")
    }
}
