import Reactor
import Testing

@testable import SFU

/// Simulcast: the offer's layers (`SDPSimulcast`), the answer, the RID mapping of unsignalled
/// SSRCs (`PeerSession.inboundStream(for:)`), and the offsets that keep a moved viewer's stream
/// continuous (`StreamOffsets`).
@Suite("Simulcast: layers by RID and continuity across a move")
struct SimulcastTests {
    static func media(_ attributes: [(String, String)]) -> MediaDescription {
        var m = MediaDescription(kind: .video)
        m.otherAttributes = attributes.map { SDPAttribute($0.0, $0.1) }
        return m
    }

    @Test("a=simulcast:send with its a=rid lines gives the layers in order; paused and alternative streams are left out")
    func offeredLayers() throws {
        let chromium = Self.media([("rid", "f send"), ("rid", "h send"), ("rid", "q send"), ("simulcast", "send f;h;q")])
        #expect(try SDPSimulcast.offered(in: chromium)?.rids == ["f", "h", "q"])
        let mixed = Self.media([
            ("rid", "a send max-width=1280"), ("rid", "b send"), ("rid", "c send"), ("rid", "r recv"),
            ("simulcast", "recv r send a,b;~c"),
        ])
        #expect(try SDPSimulcast.offered(in: mixed)?.rids == ["a"])
        #expect(try SDPSimulcast.offered(in: Self.media([("rid", "f send")])) == nil, "no a=simulcast")
        #expect(try SDPSimulcast.offered(in: Self.media([("rid", "r recv"), ("simulcast", "recv r")])) == nil)
        #expect(SDPSimulcast(rids: ["f", "h"]).answerAttributes.map(\.line) == ["a=rid:f recv", "a=rid:h recv", "a=simulcast:recv f;h"])
    }

    @Test("malformed or unbounded simulcast lines are refused with a 4xx")
    func badInput() {
        let cases: [[(String, String)]] = [
            [("rid", "f send"), ("simulcast", "send f;g")],  // g has no a=rid
            [("rid", "f/1 send"), ("simulcast", "send f/1")],  // not a RID
            [("rid", String(repeating: "x", count: 17) + " send"), ("simulcast", "send x")],
            [("rid", "f"), ("simulcast", "send f")],  // no direction
            [("rid", "f send"), ("simulcast", "send")],
            [("rid", "f send"), ("simulcast", "send f"), ("simulcast", "send f")],
            (0..<5).map { ("rid", "l\($0) send") } + [("simulcast", "send l0;l1;l2;l3;l4")],
            (0..<9).map { ("rid", "l\($0) send") } + [("simulcast", "send l0")],
        ]
        for attributes in cases {
            do {
                _ = try SDPSimulcast.offered(in: Self.media(attributes))
                Issue.record("accepted: \(attributes)")
            } catch {
                #expect(error.httpStatus == 400 || error.httpStatus == 413, "\(attributes): \(error)")
            }
        }
    }

    @Test("Chromium's simulcast offer is answered with its layers received and the RID extensions; other offers get neither")
    func answers() throws {
        let a = try AnswerBuilder.buildAnswer(
            offer: SDPFixtures.offer(SDPFixtures.chromiumSimulcast), parameters: SDPFixtures.parameters(), role: .publisher)
        let video = try #require(a.media.first { $0.kind == .video })
        #expect(video.simulcastRIDs == ["f", "h", "q"])
        #expect(video.extensions.rid != nil && video.extensions.repairedRID != nil)
        #expect(a.sdp.contains("a=rid:f recv\r\na=rid:h recv\r\na=rid:q recv\r\na=simulcast:recv f;h;q\r\n"))
        for name in [SDPFixtures.chromium, SDPFixtures.chromiumWHEP] {
            let plain = try AnswerBuilder.buildAnswer(
                offer: SDPFixtures.offer(name), parameters: SDPFixtures.parameters(),
                role: name == SDPFixtures.chromium ? .publisher : .viewer(tracks: []))
            #expect(!plain.sdp.contains("rtp-stream-id") && !plain.sdp.contains("a=simulcast"), "\(name)")
        }
    }

    /// A publisher session of the simulcast offer, to place packets with.
    static func publisher() throws -> (PeerSession, NegotiatedMedia) {
        let a = try AnswerBuilder.buildAnswer(
            offer: SDPFixtures.offer(SDPFixtures.chromiumSimulcast), parameters: SDPFixtures.parameters(), role: .publisher)
        let session = PeerSession(
            id: "p", role: .publisher, roomName: "r",
            ice: IceLiteAgent(localUfrag: "u", localPassword: "p", remoteUfrag: "r", remotePassword: nil),
            dtls: try DTLSTransport(
                identity: try DTLSIdentity.generate(), role: .server,
                remoteFingerprint: (algorithm: "sha-256", value: Array(repeating: "00", count: 32).joined(separator: ":"))),
            tracks: a.media, now: Instant(nanoseconds: 1))
        return (session, try #require(a.media.first { $0.kind == .video }))
    }

    static func place(_ s: PeerSession, ssrc: UInt32, pt: UInt8, extensions: [(UInt8, [UInt8])]) throws -> InboundStream? {
        var bytes = try buildRTP(pt: pt, ssrc: ssrc, form: .oneByte, extensions: extensions, payload: [1, 2, 3])
        return try withRTP(&bytes) { s.inboundStream(for: $0) }
    }

    @Test("unsignalled SSRCs are placed by their RID (RTX by repaired RID); unknown RIDs, none, or a second SSRC for a layer are refused")
    func ridMapping() throws {
        let (s, video) = try Self.publisher()
        let rid = try #require(video.extensions.rid), rrid = try #require(video.extensions.repairedRID)
        let pt = video.payloadType, rtx = try #require(video.rtxPayloadType)
        let h = try #require(try Self.place(s, ssrc: 100, pt: pt, extensions: [(rid, Array("h".utf8))]))
        #expect(h.layer == 1 && !h.isRTX)
        let hRTX = try #require(try Self.place(s, ssrc: 101, pt: rtx, extensions: [(rrid, Array("h".utf8))]))
        #expect(hRTX.layer == 1 && hRTX.isRTX)
        #expect(try Self.place(s, ssrc: 100, pt: pt, extensions: []) === h, "known SSRCs need no RID")
        #expect(try Self.place(s, ssrc: 102, pt: pt, extensions: [(rid, Array("x".utf8))]) == nil, "not offered")
        #expect(try Self.place(s, ssrc: 103, pt: pt, extensions: []) == nil, "no RID")
        #expect(try Self.place(s, ssrc: 104, pt: pt, extensions: [(rid, Array("h".utf8))]) == nil, "h has an SSRC")
        #expect(try Self.place(s, ssrc: 105, pt: rtx, extensions: [(rid, Array("f".utf8))]) == nil, "RTX named by RID")
        let f = try #require(try Self.place(s, ssrc: 106, pt: pt, extensions: [(rid, Array("f".utf8))]))
        #expect(f.layer == 0)
        #expect(s.inbound.count == 3)
    }

    /// A VP8 packet with a 15-bit picture ID and TL0PICIDX.
    static func vp8(seq: UInt16, ts: UInt32, pictureID: UInt16, tl0: UInt8) throws -> [UInt8] {
        try buildRTP(
            seq: seq, ts: ts, form: .oneByte, extensions: [(3, [9, 9])],
            payload: [0x90, 0xC0, 0x80 | UInt8(pictureID >> 8), UInt8(pictureID & 0xFF), tl0, 0x9D, 0x01, 0x2A])
    }

    static func fields(_ bytes: [UInt8]) throws -> (UInt16, UInt32, UInt16?, UInt8?) {
        var b = bytes
        return try withRTP(&b) { p in
            let f = StreamOffsets.pictureFields(of: UnsafeRawBufferPointer(p.buffer), codec: .vp8)
            return (p.sequenceNumber, p.timestamp, f.pictureID, f.tl0)
        }
    }

    @Test("offsets continue sequence numbers, timestamps, picture IDs and TL0PICIDX across a move, wrapping in each field's width, on media and RTX")
    func offsets() throws {
        // The last packet on the old layer, and the new layer's keyframe.
        let last = try Self.fields(Self.vp8(seq: 65535, ts: 0xFFFF_F000, pictureID: 0x7FFF, tl0: 255))
        let key = try Self.fields(Self.vp8(seq: 1000, ts: 5000, pictureID: 12, tl0: 3))
        let offsets = StreamOffsets(
            sequence: (last.0 &+ 1) &- key.0, timestamp: (last.1 &+ 3000) &- key.1,
            pictureID: (last.2! &+ 1) &- key.2!, tl0PicIdx: (last.3! &+ 1) &- key.3!, codec: .vp8)
        var packet = try Self.vp8(seq: 1000, ts: 5000, pictureID: 12, tl0: 3)
        let n = packet.count
        packet.withUnsafeMutableBytes { offsets.apply(to: $0, length: n) }
        let moved = try Self.fields(packet)
        #expect(moved.0 == 0 && moved.1 == 0xFFFF_F000 &+ 3000 && moved.2 == 0 && moved.3 == 0)
        // The next frame of the new layer follows on.
        var next = try Self.vp8(seq: 1001, ts: 8000, pictureID: 13, tl0: 4)
        next.withUnsafeMutableBytes { offsets.apply(to: $0, length: n) }
        let after = try Self.fields(next)
        #expect(after.0 == 1 && after.1 == 0xFFFF_F000 &+ 6000 && after.2 == 1 && after.3 == 1)
        // RTX: the original sequence number in the payload, the descriptor after it.
        var rtx = try buildRTP(
            seq: 7, ts: 8000, form: .oneByte, extensions: [(3, [9, 9])],
            payload: [0x03, 0xE9, 0x90, 0xC0, 0x80, 13, 4, 0x9D])
        let m = rtx.count
        rtx.withUnsafeMutableBytes { offsets.apply(to: $0, length: m, rtx: true) }
        try withRTP(&rtx) { p in
            #expect(p.sequenceNumber == 7, "the RTX stream's own number is not the viewer's media numbering")
            #expect(p.timestamp == 0xFFFF_F000 &+ 6000)
            #expect(Array(p.payload.prefix(7)) == [0x00, 0x01, 0x90, 0xC0, 0x80, 1, 1])
        }
        // A 7-bit picture ID wraps in 7 bits.
        let short = StreamOffsets(pictureID: 100, codec: .vp8)
        var seven = try buildRTP(payload: [0x90, 0x80, 0x7F, 0x9D])
        let k = seven.count
        seven.withUnsafeMutableBytes { short.apply(to: $0, length: k) }
        #expect(seven[k - 2] == (0x7F &+ 100) & 0x7F)
    }

    @Test("automatic layer choice: the highest layer that fits with headroom; stays while its layer fits; down at once when not; the best without an estimate")
    func automaticChoice() {
        let rates: [UInt64] = [2_000_000, 500_000, 150_000]  // f, h, q
        #expect(LayerChoice.layer(bitrates: rates, current: 1, estimate: nil) == 0)
        #expect(LayerChoice.layer(bitrates: rates, current: 0, estimate: 400_000) == 2, "f and h do not fit 400 kbit/s")
        #expect(LayerChoice.layer(bitrates: rates, current: 2, estimate: 600_000) == 2, "h fits but not with headroom")
        #expect(LayerChoice.layer(bitrates: rates, current: 2, estimate: 700_000) == 1)
        #expect(LayerChoice.layer(bitrates: rates, current: 1, estimate: 2_100_000) == 1, "f without headroom: stay")
        #expect(LayerChoice.layer(bitrates: rates, current: 1, estimate: 2_600_000) == 0)
        #expect(LayerChoice.layer(bitrates: rates, current: 0, estimate: 1_900_000) == 1, "f no longer fits: down at once")
        #expect(LayerChoice.layer(bitrates: rates, current: 0, estimate: 2_200_000) == 1, "f would fill the path: down")
        #expect(LayerChoice.layer(bitrates: rates, current: 0, estimate: 2_300_000) == 0, "f with 15 % to spare: stay")
        // Chromium's VP8 layers at 400 kbit/s (interop): h takes the whole video budget once
        // the viewer's audio is counted (`RoomManager.layerEstimate`), so q.
        #expect(LayerChoice.layer(bitrates: [811_000, 318_000, 122_000], current: 1, estimate: 360_000) == 2)
        #expect(LayerChoice.layer(bitrates: rates, current: 0, estimate: 10_000) == 2, "nothing fits: the lowest")
        #expect(LayerChoice.layer(bitrates: [2_000_000, 500_000, 0], current: 0, estimate: 100_000) == 1, "q is not sent")
        #expect(LayerChoice.layer(bitrates: [0, 0, 0], current: 1, estimate: 100_000) == 1, "nothing measured: stay")
    }

    @Test("a collapsed estimate is acted on from the feedback: under half of what the viewer is sent, or under its layer's lowest frame rate; a milder shortfall waits for the per-second check")
    func collapse() {
        // The interop test's VP8 layer f: 808 kbit/s, temporal layer 0 276 kbit/s.
        #expect(LayerChoice.collapsed(estimate: 269_000, sent: 808_000, least: 276_000), "400 kbit/s behind 800")
        #expect(!LayerChoice.collapsed(estimate: 700_000, sent: 808_000, least: 276_000), "a temporal cap first")
        #expect(LayerChoice.collapsed(estimate: 300_000, sent: 300_000, least: 276_000), "its layer 0 no longer fits")
        #expect(!LayerChoice.collapsed(estimate: 300_000, sent: 338_000, least: 118_000), "h at 300 kbit/s: the check decides")
        #expect(!LayerChoice.collapsed(estimate: 0, sent: 0, least: 0), "a layer not sending")
    }
}
