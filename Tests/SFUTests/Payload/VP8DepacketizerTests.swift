import Testing

@testable import SFU

@Suite("VP8 depacketizer (RFC 7741)")
struct VP8DepacketizerTests {
    @Test("descriptor fields: X, I (7 and 15 bits), L, T, K, N, S, PID")
    func descriptor() throws {
        let full: [UInt8] = [0xB0, 0xF0, 0x81, 0x23, 0x07, 0x9F, 0xAA]
        let d = try #require(full.withUnsafeBytes { VP8Depacketizer.Descriptor(parsing: $0) })
        #expect(d.length == 6)
        #expect(d.startOfPartition && d.partitionIndex == 0 && d.nonReference)
        #expect(d.pictureID == 0x0123)
        #expect(d.tl0PictureIndex == 7)
        #expect(d.temporalLayer == 2)
        #expect(d.keyIndex == 0x1F)
        let short: [UInt8] = [0x92, 0x80, 0x05, 0xAA]
        let s = try #require(short.withUnsafeBytes { VP8Depacketizer.Descriptor(parsing: $0) })
        #expect(s.length == 3 && s.pictureID == 5 && s.partitionIndex == 2)
        for cut in [[0x80], [0x80, 0x80], [0x80, 0x80, 0x81], [0x80, 0x40], [0x80, 0x20]] as [[UInt8]] {
            #expect(cut.withUnsafeBytes { VP8Depacketizer.Descriptor(parsing: $0) } == nil)
        }
    }

    @Test("traits: S=1 in partition 0 starts a frame, P=0 in the payload header makes it a keyframe")
    func frameTraits() {
        #expect(traits(VP8Depacketizer.self, [0x10, 0x10, 0x02, 0x00]) == PayloadTraits(startsFrame: true, isKeyframe: true))
        #expect(traits(VP8Depacketizer.self, [0x10, 0x11, 0x02, 0x00]) == PayloadTraits(startsFrame: true, isKeyframe: false))
        #expect(traits(VP8Depacketizer.self, [0x00, 0x10]) == PayloadTraits(startsFrame: false, isKeyframe: false))
        #expect(traits(VP8Depacketizer.self, [0x11, 0x10]) == PayloadTraits(startsFrame: false, isKeyframe: false))
        #expect(traits(VP8Depacketizer.self, [0x10]) == nil)  // nothing after the descriptor
    }

    @Test("a frame's packets are joined without their descriptors")
    func joinsPartitions() {
        var d = VP8Depacketizer()
        let frame = depacketize(&d, [[0x90, 0x80, 0x05, 1, 2, 3], [0x80, 0x80, 0x05, 4, 5], [0x01, 6]])
        #expect(frame == .success([1, 2, 3, 4, 5, 6]))
    }

    @Test("a frame that does not begin with S=1, PID=0, or a truncated descriptor, is refused")
    func refusesBadFrames() {
        var d = VP8Depacketizer()
        #expect(depacketize(&d, [[0x00, 1], [0x00, 2]]) == .failure(.notFrameStart))
        #expect(depacketize(&d, [[0x10, 1], [0x80, 0x80]]) == .failure(.truncatedDescriptor(count: 2)))
        #expect(depacketize(&d, [[0x10, 7]]) == .success([7]))  // state was cleared
    }

    @Test("width and height from a key frame header")
    func keyframeSize() {
        let key: [UInt8] = [0x50, 0x42, 0x00, 0x9D, 0x01, 0x2A, 0x80, 0x02, 0xE0, 0x41]
        let size = key.withUnsafeBytes { VP8Depacketizer.keyframeSize($0) }
        #expect(size?.width == 640 && size?.height == 480)  // scale bits masked off
        let inter: [UInt8] = [0x51, 0x42, 0x00, 0x9D, 0x01, 0x2A, 0x80, 0x02, 0xE0, 0x01]
        #expect(inter.withUnsafeBytes { VP8Depacketizer.keyframeSize($0) } == nil)
    }

    @Test("random payloads never trap")
    func garbage() {
        var d = VP8Depacketizer()
        feedGarbage(&d, seed: 0x7741)
    }
}
