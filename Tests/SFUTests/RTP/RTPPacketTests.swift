import Testing

@testable import SFU

/// Builds a packet into a fresh buffer and returns its bytes.
func buildRTP(
    pt: UInt8 = 96, marker: Bool = false, seq: UInt16 = 1, ts: UInt32 = 2, ssrc: UInt32 = 3, csrcs: [UInt32] = [],
    form: RTPHeaderExtensionForm? = nil, extensions: [(UInt8, [UInt8])] = [], payload: [UInt8] = [], padding: Int = 0
) throws -> [UInt8] {
    var buf = [UInt8](repeating: 0xEE, count: 2000)
    let n = try buf.withUnsafeMutableBytes { raw in
        var b = RTPPacketBuilder(
            into: raw, payloadType: pt, marker: marker, sequenceNumber: seq, timestamp: ts, ssrc: ssrc, csrcs: csrcs,
            extensionForm: form)
        for (id, data) in extensions { b.addExtension(id: id, bytes: data) }
        return try payload.withUnsafeBytes { p in try b.finish(payload: p, padding: padding) }
    }
    return Array(buf[0..<n])
}

/// Parses `bytes` (a mutable copy) and hands the view to `body`.
@discardableResult
func withRTP<R>(_ bytes: inout [UInt8], _ body: (RTPPacket) throws -> R) throws -> R {
    try bytes.withUnsafeMutableBytes { raw in try body(try RTPPacket(parsing: raw)) }
}

func parseRTPError(_ bytes: [UInt8]) -> RTPError? {
    var b = bytes
    return b.withUnsafeMutableBytes { raw in
        do throws(RTPError) {
            _ = try RTPPacket(parsing: raw)
            return nil
        } catch { return error }
    }
}

@Suite("RTP packets")
struct RTPPacketTests {
    @Test("build then parse gives back every field (seeded random round trips)")
    func roundTrip() throws {
        var rng = SplitMixRandom(seed: 1)
        for _ in 0..<500 {
            let pt = UInt8(rng.next() % 128)
            let marker = rng.next() & 1 == 1
            let seq = UInt16(truncatingIfNeeded: rng.next())
            let ts = UInt32(truncatingIfNeeded: rng.next())
            let ssrc = UInt32(truncatingIfNeeded: rng.next())
            let csrcs = (0..<Int(rng.next() % 4)).map { _ in UInt32(truncatingIfNeeded: rng.next()) }
            let form: RTPHeaderExtensionForm? = [nil, .oneByte, .twoByte][Int(rng.next() % 3)]
            var exts: [(UInt8, [UInt8])] = []
            if let form {
                var used = Set<UInt8>()
                for _ in 0..<Int(rng.next() % 5) {
                    let id = form == .oneByte ? UInt8(rng.next() % 14 + 1) : UInt8(rng.next() % 255 + 1)
                    guard used.insert(id).inserted else { continue }
                    let len = form == .oneByte ? Int(rng.next() % 16 + 1) : Int(rng.next() % 20)
                    exts.append((id, (0..<len).map { _ in UInt8(truncatingIfNeeded: rng.next()) }))
                }
            }
            let payload = (0..<Int(rng.next() % 300)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            let padding = rng.next() % 4 == 0 ? Int(rng.next() % 255 + 1) : 0
            var bytes = try buildRTP(
                pt: pt, marker: marker, seq: seq, ts: ts, ssrc: ssrc, csrcs: csrcs, form: form, extensions: exts,
                payload: payload, padding: padding)
            try withRTP(&bytes) { p in
                #expect(p.payloadType == pt)
                #expect(p.marker == marker)
                #expect(p.sequenceNumber == seq)
                #expect(p.timestamp == ts)
                #expect(p.ssrc == ssrc)
                #expect(p.csrcCount == csrcs.count)
                for (i, c) in csrcs.enumerated() { #expect(p.csrc(at: i) == c) }
                #expect(p.extensionForm == form)
                for (id, data) in exts { #expect(p.extensionElement(id: id).map { Array($0) } == data) }
                #expect(Array(p.payload) == payload)
                #expect(p.paddingLength == padding)
            }
        }
    }

    @Test("setters rewrite SSRC, payload type, sequence number, timestamp and marker in place")
    func setters() throws {
        var bytes = try buildRTP(pt: 96, marker: true, seq: 10, ts: 20, ssrc: 30, form: .oneByte,
                                 extensions: [(4, [0x61])], payload: [1, 2, 3])
        try withRTP(&bytes) { p in
            p.ssrc = 0xDEAD_BEEF
            p.payloadType = 111
            p.sequenceNumber = 0xFFFF
            p.timestamp = 0x0102_0304
            #expect(p.marker)
            p.marker = false
        }
        try withRTP(&bytes) { p in
            #expect(p.ssrc == 0xDEAD_BEEF && p.payloadType == 111 && p.sequenceNumber == 0xFFFF)
            #expect(p.timestamp == 0x0102_0304 && !p.marker)
            #expect(Array(p.payload) == [1, 2, 3])
            #expect(p.midString(id: 4) == "a")
        }
    }

    @Test("one-byte extension ids are rewritten in place; an id the form cannot carry becomes padding")
    func oneByteRewrite() throws {
        // Chromium's ids: audio-level 1, abs-send-time 2, transport-cc 3, mid 4.
        var bytes = try buildRTP(form: .oneByte, extensions: [
            (2, [0x12, 0x34, 0x56]), (3, [0x01, 0x02]), (4, Array("0".utf8)), (1, [0x7F]),
        ], payload: [9])
        try withRTP(&bytes) { p in
            #expect(p.absSendTime(id: 2) == 0x123456)
            #expect(p.transportSequenceNumber(id: 3) == 0x0102)
            #expect(p.midString(id: 4) == "0")
            // To aiortc's ids: mid 1, audio-level 2, abs-send-time 3; transport-cc not negotiated.
            p.rewriteExtensionIDs { id in [1: 2, 2: 3, 3: 0, 4: 1][id] ?? 0 }
        }
        try withRTP(&bytes) { p in
            #expect(p.absSendTime(id: 3) == 0x123456)
            #expect(p.midString(id: 1) == "0")
            #expect(p.extensionElement(id: 2).map { Array($0) } == [0x7F])
            #expect(p.transportSequenceNumber(id: 3) == nil)
            var ids: [UInt8] = []
            p.forEachExtension { id, _ in ids.append(id) }
            #expect(ids == [3, 1, 2])
            #expect(Array(p.payload) == [9])
        }
    }

    @Test("two-byte extension ids are rewritten in place, including ids above 14 and empty elements")
    func twoByteRewrite() throws {
        var bytes = try buildRTP(form: .twoByte, extensions: [
            (20, [0xAA, 0xBB]), (1, []), (200, Array("video".utf8)),
        ], payload: [1, 2])
        try withRTP(&bytes) { p in
            #expect(p.extensionProfile == 0x1000)
            p.rewriteExtensionIDs { id in id == 20 ? 5 : id == 200 ? 0 : 7 }
            #expect(p.setTransportSequenceNumber(0x4242, id: 5))
        }
        try withRTP(&bytes) { p in
            #expect(p.transportSequenceNumber(id: 5) == 0x4242)
            #expect(p.extensionElement(id: 7).map { $0.count } == 0)
            #expect(p.extensionElement(id: 200) == nil)
            #expect(Array(p.payload) == [1, 2])
        }
    }

    @Test("truncated packets, wrong versions and lying CSRC, extension and padding lengths are rejected")
    func badInput() throws {
        let good = try buildRTP(csrcs: [1], form: .oneByte, extensions: [(1, [1, 2])], payload: [1, 2, 3, 4])
        #expect(parseRTPError(Array(good[0..<11])) == .truncated(count: 11))
        var v = good
        v[0] = (v[0] & 0x3F) | 0x40
        #expect(parseRTPError(v) == .badVersion(1))
        var cc = good
        cc[0] = (cc[0] & 0xF0) | 0x0F
        #expect(parseRTPError(cc) == .csrcOverrun(csrcCount: 15, count: good.count))
        var ext = good
        ext[19] = 0x40  // extension length 64 words
        #expect(parseRTPError(ext) == .extensionOverrun(words: 64, count: good.count))
        #expect(parseRTPError(Array(good[0..<18])) == .extensionOverrun(words: 0, count: 18))
        var pad = good
        pad[0] |= 0x20
        pad[pad.count - 1] = 0
        #expect(parseRTPError(pad) == .badPadding(padding: 0, payload: 4))
        pad[pad.count - 1] = 5
        #expect(parseRTPError(pad) == .badPadding(padding: 5, payload: 4))
    }

    @Test("malformed extension elements inside a valid block are skipped, never read past the block")
    func malformedElements() throws {
        // One-byte block of 1 word whose element claims 16 bytes.
        var bytes: [UInt8] = [0x90, 96, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0xBE, 0xDE, 0, 1, 0x1F, 0, 0, 0, 0xAB]
        try withRTP(&bytes) { p in
            #expect(p.extensionElement(id: 1) == nil)
            p.rewriteExtensionIDs { _ in 2 }
            #expect(Array(p.payload) == [0xAB])
        }
    }

    @Test("random bytes never crash the RTP parser or its accessors")
    func garbage() {
        var rng = SplitMixRandom(seed: 3)
        for _ in 0..<20_000 {
            var b = (0..<Int(rng.next() % 64)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            if !b.isEmpty, rng.next() % 2 == 0 { b[0] = 0x80 | (b[0] & 0x3F) }
            b.withUnsafeMutableBytes { raw in
                guard let p = try? RTPPacket(parsing: raw) else { return }
                _ = p.payload.count
                p.forEachExtension { _, _ in }
                for id: UInt8 in [1, 3, 15, 200] {
                    _ = p.absSendTime(id: id)
                    _ = p.transportSequenceNumber(id: id)
                    _ = p.mid(id: id)
                }
                p.rewriteExtensionIDs { $0 &+ 1 }
                _ = KeyframeDetector.isKeyframe(codec: .vp8, payload: UnsafeRawBufferPointer(p.payload))
                _ = KeyframeDetector.isKeyframe(codec: .vp9, payload: UnsafeRawBufferPointer(p.payload))
                _ = KeyframeDetector.isKeyframe(codec: .h264, payload: UnsafeRawBufferPointer(p.payload))
                _ = KeyframeDetector.isKeyframe(codec: .av1, payload: UnsafeRawBufferPointer(p.payload))
            }
        }
    }

    @Test("RFC 7983 demultiplexing by first byte, RTCP by packet type")
    func demux() {
        func kind(_ b: [UInt8]) -> PacketKind { b.withUnsafeBytes { PacketKind.classify($0) } }
        #expect(kind(StunVectors.sampleRequest) == .stun)
        #expect(kind([0, 1, 0, 0]) == .unknown)  // too short for STUN
        #expect(kind([22, 0xFE, 0xFD]) == .dtls)
        #expect(kind([0x80, 96, 0, 1]) == .rtp)
        #expect(kind([0x80, 0x80 | 96]) == .rtp)  // marker bit set
        #expect(kind([0x81, 200, 0, 6]) == .rtcp)
        #expect(kind([0x8F, 205]) == .rtcp)
        #expect(kind([0x80]) == .unknown)
        #expect(kind([]) == .unknown)
        #expect(kind([70, 0]) == .unknown)  // TURN channel
        #expect(kind([17]) == .unknown)  // ZRTP
    }
}

@Suite("Keyframe detection")
struct KeyframeDetectorTests {
    func isKey(_ codec: VideoCodec, _ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { KeyframeDetector.isKeyframe(codec: codec, payload: $0) }
    }

    @Test("VP8: descriptor with S=1, PID=0 and a payload header with P=0 is a keyframe (RFC 7741)")
    func vp8() {
        // X=1 S=1 PID=0; I=1 with a 15-bit PictureID; then the VP8 key frame header
        // (P=0, version 0, show_frame 1) and its start code 9d 01 2a.
        let key: [UInt8] = [0x90, 0x80, 0x81, 0x23, 0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a]
        #expect(isKey(.vp8, key))
        // Same with L and T/K bytes present.
        #expect(isKey(.vp8, [0x90, 0xF0, 0x05, 0x07, 0x20, 0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a]))
        // Minimal descriptor without X.
        #expect(isKey(.vp8, [0x10, 0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a]))
        var inter = key
        inter[4] = 0x11  // P=1: interframe
        #expect(!isKey(.vp8, inter))
        var middle = key
        middle[0] = 0x80  // S=0: continuation packet
        #expect(!isKey(.vp8, middle))
        #expect(!isKey(.vp8, [0x11, 0x10]))  // partition 1
        #expect(!isKey(.vp8, [0x90, 0x80, 0x81]))  // truncated
        #expect(!isKey(.vp8, []))
    }

    @Test("VP9: B=1 and P=0 on the base spatial layer is a keyframe (RFC 9628)")
    func vp9() {
        #expect(isKey(.vp9, [0x88, 0x81, 0x02, 0x82]))  // I, B; 15-bit picture id
        #expect(!isKey(.vp9, [0xC8, 0x81, 0x02, 0x82]))  // P=1
        #expect(!isKey(.vp9, [0x80, 0x81, 0x02, 0x82]))  // B=0
        #expect(isKey(.vp9, [0xA8, 0x05, 0x00, 0x00]))  // L=1, SID 0
        #expect(!isKey(.vp9, [0xA8, 0x05, 0x02, 0x00]))  // L=1, SID 1
        #expect(!isKey(.vp9, [0xA8]))
    }

    @Test("H.264: IDR, SPS in STAP-A and FU-A start of an IDR are keyframes (RFC 6184)")
    func h264() {
        #expect(isKey(.h264, [0x65, 0x88, 0x84]))  // IDR slice
        #expect(isKey(.h264, [0x67, 0x42, 0xC0, 0x1F]))  // SPS
        #expect(!isKey(.h264, [0x41, 0x9A]))  // non-IDR slice
        // STAP-A: SPS (4 bytes), PPS (2 bytes), IDR (2 bytes).
        #expect(isKey(.h264, [0x78, 0x00, 0x04, 0x67, 0x42, 0xC0, 0x1F, 0x00, 0x02, 0x68, 0xCE, 0x00, 0x02, 0x65, 0x88]))
        #expect(!isKey(.h264, [0x78, 0x00, 0x02, 0x68, 0xCE, 0x00, 0x02, 0x41, 0x9A]))  // PPS + P slice
        #expect(!isKey(.h264, [0x78, 0x00, 0x09, 0x67]))  // lying size
        #expect(isKey(.h264, [0x7C, 0x85, 0x88]))  // FU-A start of IDR
        #expect(!isKey(.h264, [0x7C, 0x05, 0x88]))  // FU-A middle
        #expect(!isKey(.h264, [0x7C, 0x81, 0x9A]))  // FU-A start of P slice
        #expect(!isKey(.h264, [0x7C]))
    }

    @Test("AV1: the N bit of the aggregation header starts a new coded video sequence")
    func av1() {
        #expect(isKey(.av1, [0x18, 0x0A, 0x0B]))
        #expect(!isKey(.av1, [0x10, 0x32, 0x00]))
        #expect(!isKey(.av1, [0x08]))
    }
}
