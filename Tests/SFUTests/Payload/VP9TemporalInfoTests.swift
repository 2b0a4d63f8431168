import Testing

@testable import SFU

/// `TemporalInfo(vp9Packet:)`: TID, the switching-up bit (U), frame start, keyframe and
/// picture ID from a VP9 payload descriptor, marked as keeping its picture IDs; nothing (never
/// a read past the packet) from one cut short or malformed.
@Suite("VP9 temporal layer fields")
struct VP9TemporalInfoTests {
    @Test("TID, switching-up bit, frame start, keyframe and picture ID are read from the descriptor; picture IDs are kept")
    func fields() throws {
        var stream = VP9L1T3Stream(pictureID: 0x1234)
        stream.switchingUp = { index, _ in index != 3 }
        let key = try stream.nextFrame()
        let first = VP9L1T3Stream.info(key[0].bytes)
        #expect(first.hasTemporalLayer && first.temporalLayer == 0 && first.startsFrame && first.isKeyframe)
        #expect(first.isSwitchingUp && !first.isLayerSync && first.keepsPictureIDs)
        #expect(first.hasPictureID && first.pictureID == 0x1234)
        let second = VP9L1T3Stream.info(key[1].bytes)
        #expect(!second.startsFrame && !second.isKeyframe && second.temporalLayer == 0 && second.pictureID == 0x1234)
        let tl2 = VP9L1T3Stream.info(try stream.nextFrame()[0].bytes)
        #expect(tl2.temporalLayer == 2 && tl2.isSwitchingUp && tl2.startsFrame && !tl2.isKeyframe && tl2.pictureID == 0x1235)
        let tl1 = VP9L1T3Stream.info(try stream.nextFrame()[0].bytes)
        #expect(tl1.temporalLayer == 1 && tl1.isSwitchingUp)
        let tl2b = VP9L1T3Stream.info(try stream.nextFrame()[0].bytes)
        #expect(tl2b.temporalLayer == 2 && !tl2b.isSwitchingUp)
        // The descriptor parser itself reports L and U.
        let p = try stream.nextFrame()[0].bytes
        let d = try #require(p[12...].withUnsafeBytes { VP9Depacketizer.Descriptor(parsing: $0) })
        #expect(d.hasLayerIndices && d.switchingUp && d.temporalLayer == 0)
    }

    @Test("without layer indices a VP9 packet is layer 0, never held back; a TID above 3 reads as 3; other codecs read as none")
    func withoutLayerIndices() throws {
        // I (7-bit picture ID 5), B, E; no L.
        let plain = try buildRTP(payload: [0x8C, 0x05, 0xAA])
        let info = VP9L1T3Stream.info(plain)
        #expect(!info.hasTemporalLayer && info.temporalLayer == 0 && info.startsFrame && info.isKeyframe)
        #expect(info.hasPictureID && info.pictureID == 5)
        // L with TID 6, flexible mode (no TL0PICIDX), P with one P_DIFF.
        let high = try buildRTP(payload: [0xF8, 0x05, 6 << 5, 0x02, 0xAA])
        #expect(VP9L1T3Stream.info(high).temporalLayer == 3 && VP9L1T3Stream.info(high).hasTemporalLayer)
        #expect(plain.withUnsafeBytes { TemporalInfo(packet: $0, codec: .h264) } == .none)
        #expect(plain.withUnsafeBytes { TemporalInfo(packet: $0, codec: nil) } == .none)
    }

    @Test("every cut of a packet and seeded random bytes read as nothing or within the bytes")
    func badInput() throws {
        var stream = VP9L1T3Stream()
        let key = try stream.nextFrame()[0].bytes
        let delta = try stream.nextFrame()[0].bytes
        for full in [key, delta] {
            for n in 0..<full.count {
                // An exact-size copy: a read past it would trap under the address sanitizer.
                let info = VP9L1T3Stream.info(Array(full[0..<n]))
                if n < 12 + 4 { #expect(!info.hasTemporalLayer, "cut at \(n)") }
            }
        }
        var random = SplitMixRandom(seed: 19)
        for _ in 0..<20_000 {
            let count = Int(random.next() % 40)
            var bytes = (0..<count).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            if count > 0 { bytes[0] = 0x80 | (bytes[0] & 0x1F) }
            #expect(VP9L1T3Stream.info(bytes).temporalLayer <= 3)
        }
    }
}
