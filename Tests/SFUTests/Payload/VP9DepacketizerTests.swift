import Testing

@testable import SFU

@Suite("VP9 depacketizer (RFC 9628)")
struct VP9DepacketizerTests {
    @Test("non-flexible mode: picture id, layer indices with TL0PICIDX, and a scalability structure skipped")
    func nonFlexible() throws {
        let p: [UInt8] = [
            0xAE, 0x80, 0x10, 0x00, 0x05,  // I P=0 L B E V; 15-bit picture id; SID 0; TL0PICIDX
            0x38, 0x01, 0x40, 0x00, 0xF0, 0x02, 0x80, 0x01, 0xE0,  // SS: 2 layers, Y, G
            0x01, 0x04, 0x01,  // one picture group entry with one P_DIFF
            0xDE, 0xAD,
        ]
        let d = try #require(p.withUnsafeBytes { VP9Depacketizer.Descriptor(parsing: $0) })
        #expect(d.length == 17 && d.pictureID == 0x10 && d.spatialLayer == 0 && !d.flexible)
        #expect(traits(VP9Depacketizer.self, p) == PayloadTraits(startsFrame: true, isKeyframe: true))
        var dep = VP9Depacketizer()
        #expect(depacketize(&dep, [p]) == .success([0xDE, 0xAD]))
    }

    @Test("flexible mode: P_DIFF bytes chained by their N bit, no TL0PICIDX")
    func flexible() throws {
        let p: [UInt8] = [0xFC, 0x11, 0x00, 0x03, 0x04, 0xBE]
        let d = try #require(p.withUnsafeBytes { VP9Depacketizer.Descriptor(parsing: $0) })
        #expect(d.length == 5 && d.flexible && d.interPredicted && d.pictureID == 0x11)
        #expect(traits(VP9Depacketizer.self, p) == PayloadTraits(startsFrame: true, isKeyframe: false))
        // More than three P_DIFF, or one cut off, is malformed.
        #expect(traits(VP9Depacketizer.self, [0xFC, 0x11, 0x00, 0x03, 0x03, 0x03, 0x03, 0xBE]) == nil)
        #expect(traits(VP9Depacketizer.self, [0xFC, 0x11, 0x00, 0x03]) == nil)
    }

    @Test("an upper spatial layer does not start a frame; B=0 neither")
    func layers() {
        #expect(traits(VP9Depacketizer.self, [0x2C, 0x02, 0x00, 9]) == PayloadTraits(startsFrame: false, isKeyframe: false))
        #expect(traits(VP9Depacketizer.self, [0x04, 9]) == PayloadTraits(startsFrame: false, isKeyframe: false))
        #expect(traits(VP9Depacketizer.self, [0xA0]) == nil)
        #expect(traits(VP9Depacketizer.self, [0x0A, 0x38, 0x01]) == nil)  // SS sizes cut off
        #expect(traits(VP9Depacketizer.self, [0x0A, 0x08]) == nil)  // SS group count cut off
    }

    @Test("two spatial layers in one picture become a superframe with its index")
    func superframe() {
        var d = VP9Depacketizer()
        let frame = depacketize(&d, [[0x28, 0x00, 0x00, 1, 2], [0x24, 0x00, 0x00, 3], [0x2C, 0x02, 0x00, 4, 5]])
        #expect(frame == .success([1, 2, 3, 4, 5, 0xD9, 3, 0, 0, 0, 2, 0, 0, 0, 0xD9]))
        // One layer: the frame as is.
        #expect(depacketize(&d, [[0x0C, 7, 8]]) == .success([7, 8]))
    }

    @Test("a picture that starts mid-layer, or a layer frame left open, is refused")
    func refused() {
        var d = VP9Depacketizer()
        #expect(depacketize(&d, [[0x04, 1]]) == .failure(.notFrameStart))
        #expect(depacketize(&d, [[0x08, 1]]) == .failure(.unfinishedFragment))
        #expect(depacketize(&d, [[0x08, 1], [0x08, 2]]) == .failure(.unfinishedFragment))
        #expect(depacketize(&d, [[0x0C, 1], [0x00, 2]]) == .failure(.fragmentWithoutStart))
    }

    @Test("width and height from a key frame's uncompressed header")
    func keyframeSize() {
        var w = BitWriter()
        w.put(2, 2)  // frame_marker
        w.put(0, 2)  // profile 0
        w.put(0, 1)  // show_existing_frame
        w.put(0, 1)  // KEY_FRAME
        w.put(1, 1)
        w.put(0, 1)
        w.put(0x49_83_42, 24)
        w.put(1, 3)  // color space BT.601
        w.put(0, 1)  // color range
        w.put(319, 16)
        w.put(179, 16)
        let size = w.bytes.withUnsafeBytes { VP9Depacketizer.keyframeSize($0) }
        #expect(size?.width == 320 && size?.height == 180)
        #expect(Array(w.bytes.prefix(6)).withUnsafeBytes { VP9Depacketizer.keyframeSize($0) } == nil)
        var inter = w.bytes
        inter[0] |= 0x04  // frame_type 1
        #expect(inter.withUnsafeBytes { VP9Depacketizer.keyframeSize($0) } == nil)
    }

    @Test("random payloads never trap")
    func garbage() {
        var d = VP9Depacketizer()
        feedGarbage(&d, seed: 0x9628)
    }
}

struct BitWriter {
    var bytes: [UInt8] = []
    var bit = 0
    mutating func put(_ value: UInt32, _ n: Int) {
        for i in stride(from: n - 1, through: 0, by: -1) {
            if bit % 8 == 0 { bytes.append(0) }
            if (value >> UInt32(i)) & 1 != 0 { bytes[bytes.count - 1] |= 0x80 >> UInt8(bit % 8) }
            bit += 1
        }
    }
}
