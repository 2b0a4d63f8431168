import Testing

@testable import SFU

@Suite("AV1 depacketizer (AV1 RTP payload format)")
struct AV1DepacketizerTests {
    let td: [UInt8] = [0x12, 0x00]
    /// A sequence header OBU without size field, and the same with one.
    let seqBare: [UInt8] = [0x08, 0xA1, 0xA2, 0xA3]
    let seqSized: [UInt8] = [0x0A, 0x03, 0xA1, 0xA2, 0xA3]
    let frameBare: [UInt8] = [0x30, 0xF1, 0xF2]
    let frameSized: [UInt8] = [0x32, 0x02, 0xF1, 0xF2]

    @Test("W=0: every element has a length; out comes a temporal delimiter and sized OBUs")
    func lengthFields() {
        var d = AV1Depacketizer()
        let packet: [UInt8] = [0x08, 0x04] + seqBare + [0x03] + frameBare
        #expect(depacketize(&d, [packet]) == .success(td + seqSized + frameSized))
        #expect(traits(AV1Depacketizer.self, packet) == PayloadTraits(startsFrame: true, isKeyframe: true))
    }

    @Test("W=2: the last element runs to the end; OBUs that carry their own size keep it")
    func lastWithoutLength() {
        var d = AV1Depacketizer()
        let packet: [UInt8] = [0x20, 0x05] + seqSized + frameBare
        #expect(depacketize(&d, [packet]) == .success(td + seqSized + frameSized))
        #expect(traits(AV1Depacketizer.self, [0x10] + frameSized) == PayloadTraits(startsFrame: false, isKeyframe: false))
    }

    @Test("an OBU fragmented over three packets (Y, then Z and Y, then Z) is joined")
    func fragments() {
        var d = AV1Depacketizer()
        let frame = depacketize(&d, [[0x50, 0x30, 0x01], [0xD0, 0x02, 0x03], [0x90, 0x04]])
        #expect(frame == .success(td + [0x32, 0x04, 0x01, 0x02, 0x03, 0x04]))
    }

    @Test("temporal delimiters, tile lists and padding OBUs in the payload are dropped")
    func dropsIgnoredOBUs() {
        var d = AV1Depacketizer()
        let packet: [UInt8] = [0x00, 0x01, 0x10, 0x02, 0x78, 0x00, 0x03] + frameBare
        #expect(depacketize(&d, [packet]) == .success(td + frameSized))
    }

    @Test("an extension byte is kept")
    func obuExtension() {
        var d = AV1Depacketizer()
        #expect(depacketize(&d, [[0x10, 0x34, 0x28, 0xF1]]) == .success(td + [0x36, 0x28, 0x01, 0xF1]))
    }

    @Test("continuations without a start, unfinished fragments, impossible sizes are refused")
    func malformed() {
        var d = AV1Depacketizer()
        #expect(depacketize(&d, [[0x90, 0x01]]) == .failure(.fragmentWithoutStart))
        #expect(depacketize(&d, [[0x50, 0x30, 0x01]]) == .failure(.unfinishedFragment))
        #expect(depacketize(&d, [[0x50, 0x30, 0x01], [0x10, 0x30]]) == .failure(.unfinishedFragment))
        // Element length past the packet; OBU size past its element; LEB128 of 9 bytes.
        #expect(depacketize(&d, [[0x00, 0x09, 0x30]]) == .failure(.lengthOverrun(length: 9, remaining: 1)))
        #expect(depacketize(&d, [[0x10, 0x32, 0x7F, 0x01]]) == .failure(.lengthOverrun(length: 127, remaining: 1)))
        #expect(depacketize(&d, [[0x00] + [UInt8](repeating: 0xFF, count: 9)]) == .failure(.badLEB128))
        #expect(depacketize(&d, [[0x10, 0x32, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F]]) == .failure(.badLEB128))  // > 2^32-1
        #expect(depacketize(&d, [[0x10, 0xB0, 0x01]]) == .failure(.badOBUHeader(0xB0)))  // forbidden bit
        #expect(depacketize(&d, [[0x10, 0x34]]) == .failure(.badOBUHeader(0x34)))  // extension cut off
        #expect(depacketize(&d, [[0x10]]) == .failure(.truncatedDescriptor(count: 1)))
        #expect(depacketize(&d, [[0x10] + frameBare]) == .success(td + frameSized))
    }

    @Test("the sequence header gives the IVF frame size (libaom's, 160x120)")
    func sequenceHeader() throws {
        let seq: [UInt8] = [0x0A, 0x0D, 0x20, 0x00, 0x00, 0x03, 0xB4, 0xFF, 0x73, 0x6B, 0xE4, 0x80, 0x86, 0x80, 0x10]
        let tu = td + seq + frameSized
        let h = try #require(tu.withUnsafeBytes { AV1SequenceHeader.find(inTemporalUnit: $0) })
        #expect(h.maxFrameWidth == 160 && h.maxFrameHeight == 120)
        #expect((td + frameSized).withUnsafeBytes { AV1SequenceHeader.find(inTemporalUnit: $0) } == nil)
        for cut in 3..<7 {  // cut short: no size rather than a wrong one
            let header = Array(seq.prefix(cut)).withUnsafeBytes {
                AV1SequenceHeader(payload: UnsafeRawBufferPointer(rebasing: $0[2...]))
            }
            #expect(header == nil)
        }
        var w = IVFWriter(codec: .av1)
        var out: [UInt8] = []
        tu.withUnsafeBytes { w.appendFrame($0, rtpTimestamp: 0, into: &out) }
        #expect(w.width == 160 && w.height == 120)
    }

    @Test("LEB128 round trip and limits")
    func leb128() {
        for v in [0, 1, 127, 128, 300, 16_383, 16_384, Int(UInt32.max)] {
            var out: [UInt8] = []
            LEB128.write(v, to: &out)
            let r = out.withUnsafeBytes { LEB128.read($0, at: 0) }
            #expect(r?.value == v && r?.length == out.count)
        }
        #expect(([0x80, 0x80] as [UInt8]).withUnsafeBytes { LEB128.read($0, at: 0) } == nil)
    }

    @Test("random payloads never trap")
    func garbage() {
        var d = AV1Depacketizer()
        feedGarbage(&d, seed: 0xA1)
    }
}
