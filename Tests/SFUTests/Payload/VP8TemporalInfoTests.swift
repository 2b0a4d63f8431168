import Testing

@testable import SFU

/// `TemporalInfo`: TID, Y, frame start and keyframe, picture ID from a VP8 packet, and
/// nothing (never a read past the packet) from one that is cut short or malformed.
@Suite("VP8 temporal layer fields")
struct VP8TemporalInfoTests {
    @Test("TID, layer sync, frame start, keyframe and picture ID are read from the payload descriptor")
    func fields() throws {
        var stream = L1T3Stream(pictureID: 0x1234)
        let key = try stream.nextFrame()
        let first = L1T3Stream.info(key[0].bytes)
        #expect(first.hasTemporalLayer && first.temporalLayer == 0 && first.startsFrame && first.isKeyframe)
        #expect(!first.isLayerSync && first.hasPictureID && first.pictureID == 0x1234)
        let second = L1T3Stream.info(key[1].bytes)
        #expect(!second.startsFrame && !second.isKeyframe && second.temporalLayer == 0)
        let tl2 = L1T3Stream.info(try stream.nextFrame()[0].bytes)
        #expect(tl2.temporalLayer == 2 && tl2.isLayerSync && tl2.startsFrame && !tl2.isKeyframe && tl2.pictureID == 0x1235)
        let tl1 = L1T3Stream.info(try stream.nextFrame()[0].bytes)
        #expect(tl1.temporalLayer == 1 && tl1.isLayerSync)
        let tl2b = L1T3Stream.info(try stream.nextFrame()[0].bytes)
        #expect(tl2b.temporalLayer == 2 && !tl2b.isLayerSync)
        // The descriptor parser itself reports Y.
        let p = try stream.nextFrame()[0].bytes  // TL0
        let d = try #require(p[12...].withUnsafeBytes { VP8Depacketizer.Descriptor(parsing: $0) })
        #expect(d.temporalLayer == 0 && !d.layerSync && d.tl0PictureIndex == 1)
    }

    @Test("a descriptor without T reads as layer 0, never held back; a 7-bit picture ID is read as it is")
    func withoutTemporalLayer() throws {
        let p = try buildRTP(payload: [0x90, 0x80, 0x05, 0x01, 0xAA])
        let info = L1T3Stream.info(p)
        #expect(!info.hasTemporalLayer && info.temporalLayer == 0 && info.hasPictureID && info.pictureID == 5)
        #expect(info.startsFrame && !info.isKeyframe)
    }

    @Test("every cut of a packet, a header whose extension runs past it, and seeded random bytes read as nothing or within the bytes")
    func badInput() throws {
        var stream = L1T3Stream()
        let full = try stream.nextFrame()[0].bytes
        for n in 0..<full.count {
            // An exact-size copy: a read past it would trap under the address sanitizer, and a
            // cut inside the descriptor gives no temporal layer.
            let cut = Array(full[0..<n])
            let info = L1T3Stream.info(cut)
            if n < 12 + 6 { #expect(info == .none || !info.hasTemporalLayer, "cut at \(n)") }
        }
        var lying = try buildRTP(form: .oneByte, extensions: [(1, [1])], payload: [0x90, 0xE0, 0x80, 1, 2, 0x40])
        lying[14] = 0xFF  // extension length: far past the packet
        #expect(L1T3Stream.info(lying) == .none)
        var random = SplitMixRandom(seed: 17)
        for _ in 0..<20_000 {
            let count = Int(random.next() % 40)
            var bytes = (0..<count).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            if count > 0 { bytes[0] = 0x80 | (bytes[0] & 0x1F) }  // version 2, so the header is read further
            let info = L1T3Stream.info(bytes)
            #expect(info.temporalLayer <= 3)
        }
    }
}
