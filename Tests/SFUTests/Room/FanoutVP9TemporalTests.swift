import Reactor
import Testing

@testable import SFU

/// Temporal caps on a VP9 track in the batch fan-out (`TrackFanout.flushPending`): a capped
/// viewer gets only the frames within its cap, sequence numbers continuous and picture IDs as
/// the publisher sent them; an uncapped viewer of the same batch gets every packet as it was;
/// the track counts each temporal layer's bitrate, as for VP8.
@Suite("Fan-out with temporal caps on VP9", .serialized)
struct FanoutVP9TemporalTests {
    static func media() -> NegotiatedMedia {
        NegotiatedMedia(
            mid: "0", index: 0, kind: .video, direction: .sendonly,
            codec: SDPCodec(payloadType: 98, encodingName: "VP9", clockRate: 90_000), codecName: .vp9,
            extensions: NegotiatedExtensions([]))
    }

    static func viewerSession(index i: Int) throws -> (PeerSession, FanoutHeaderReuseTests.Receiver) {
        try FanoutTemporalTests.viewerSession(index: i, media: media())
    }

    /// Sequence number, picture ID, TID and frame index (the payload's last byte) of a copy.
    struct Got: Equatable {
        var sequence: UInt16
        var pictureID: UInt16
        var tid: UInt8
        var frame: UInt8
    }

    static func parse(_ packet: [UInt8]) -> Got {
        var copy = packet
        let header = (try? withRTP(&copy) { $0.headerLength }) ?? 12
        let d = Array(packet[header...])
        return Got(
            sequence: UInt16(packet[2]) << 8 | UInt16(packet[3]), pictureID: UInt16(d[1] & 0x7F) << 8 | UInt16(d[2]),
            tid: d[3] >> 5, frame: packet.last ?? 0)
    }

    @Test("a viewer capped at 0 gets the TL0 frames, renumbered without a gap, picture IDs as sent; the uncapped viewer gets every packet")
    func cappedViewer() throws {
        let output = DatagramQueue(pool: BufferPool(slotSize: 2048, slotCount: 256))
        var now = Instant(nanoseconds: 1_000_000_000)
        let fanout = TrackFanout(kind: .video, streamID: "s", cname: "c", historyStartBytes: 256 * 1024)
        fanout.attach(source: Self.media())
        var sessions: [PeerSession] = []
        var receivers: [FanoutHeaderReuseTests.Receiver] = []
        var tracks: [ViewerTrack] = []
        for i in 0..<2 {
            let (s, r) = try Self.viewerSession(index: i)
            let t = ViewerTrack(session: s, kind: .video, media: Self.media())
            fanout.add(t)
            sessions.append(s)
            receivers.append(r)
            tracks.append(t)
        }
        tracks[1].setTemporalCap(0)
        var stream = VP9L1T3Stream(sequence: 65_000, pictureID: 0x7FF0)
        var sent: [L1T3Stream.Packet] = []
        for _ in 0..<48 {
            for p in try stream.nextFrame() {
                var bytes = p.bytes
                bytes.withUnsafeMutableBytes { raw in
                    guard let rtp = try? RTPPacket(parsing: raw) else { return }
                    let key = KeyframeDetector.isKeyframe(codec: .vp9, payload: UnsafeRawBufferPointer(rtp.payload))
                    fanout.forward(rtp, isKeyframe: key, now: now, output: output)
                }
                sent.append(p)
            }
            fanout.flushPending(output: output)
            output.drain { address, bytes in
                guard let i = sessions.firstIndex(where: { $0.address == address }) else { return }
                receivers[i].received(bytes)
            }
            now = now + .milliseconds(33)
        }
        #expect(receivers.allSatisfy { $0.failures == 0 })
        let all = receivers[0].packets.map(Self.parse)
        #expect(all.map(\.sequence) == sent.map(\.sequence) && all.map(\.pictureID) == sent.map(\.pictureID))
        let capped = receivers[1].packets.map(Self.parse)
        let tl0 = sent.filter { $0.tid == 0 }
        #expect(capped.count == tl0.count && capped.allSatisfy { $0.tid == 0 }, "12 TL0 frames of 2 packets")
        #expect(capped.map(\.pictureID) == tl0.map(\.pictureID), "picture IDs as sent, holes and all")
        for (a, b) in zip(capped, capped.dropFirst()) { #expect(b.sequence == a.sequence &+ 1) }
        #expect(fanout.temporalHeld == UInt64(sent.count - tl0.count))
        withExtendedLifetime(sessions) {}
    }
}
