import Testing

@testable import SFU

/// `StreamOffsets` on packets cut short (what the `offsets` fuzz target found).
@Suite("Stream offsets on short packets")
struct StreamOffsetsTests {
    @Test("a VP8 descriptor cut inside a 15-bit picture ID keeps its bytes: TL0PICIDX is not added to the ID")
    func truncatedPictureID() {
        // RTP header, then X=1 | S=1, I=1 | L=1, and only the first byte of a 15-bit picture ID.
        let packet: [UInt8] = [0x80, 0x60, 0x00, 0x01, 0, 0, 0, 1, 0, 0, 0, 7, 0x90, 0xC0, 0xFF]
        var offsets = StreamOffsets(codec: .vp8)
        offsets.sequence = 5
        offsets.tl0PicIdx = 1
        var copy = packet
        copy.withUnsafeMutableBytes { offsets.apply(to: $0, length: packet.count) }
        #expect(copy[2...3] == [0x00, 0x06], "the sequence number moved on")
        #expect(copy[12...] == packet[12...], "the descriptor is as it was")
    }

    @Test("a descriptor cut inside its picture ID has no TL0PICIDX to read (the ID's byte is not taken for it)")
    func truncatedFields() {
        let packet: [UInt8] = [0x80, 0x60, 0x00, 0x01, 0, 0, 0, 1, 0, 0, 0, 7, 0x90, 0xC0, 0xFF]
        let fields = packet.withUnsafeBytes { StreamOffsets.pictureFields(of: $0, codec: .vp8) }
        #expect(fields.pictureID == nil && fields.tl0 == nil)
    }

    @Test("a length past the buffer rewrites nothing past it")
    func lengthPastTheBuffer() {
        let packet: [UInt8] = [0x80, 0x60, 0x00, 0x01, 0, 0, 0, 1, 0, 0, 0, 7, 0x90, 0x80, 0x85, 0x01]
        var offsets = StreamOffsets(codec: .vp8)
        offsets.pictureID = 1
        var copy = packet
        copy.withUnsafeMutableBytes { offsets.apply(to: UnsafeMutableRawBufferPointer(rebasing: $0[0..<16]), length: 4096) }
        #expect(copy[14...15] == [0x85, 0x02], "the picture ID within the buffer moved on")
    }
}
