import Testing

@testable import SFU

@Suite("H.264 depacketizer (RFC 6184)")
struct H264DepacketizerTests {
    let sps: [UInt8] = [0x67, 0x42, 0xC0, 0x1F]
    let pps: [UInt8] = [0x68, 0xCE, 0x3C, 0x80]
    let sc: [UInt8] = [0, 0, 0, 1]

    func stapA(_ nals: [[UInt8]]) -> [UInt8] {
        nals.reduce(into: [0x78]) { out, n in out += [UInt8(n.count >> 8), UInt8(n.count & 0xFF)] + n }
    }

    @Test("single NAL units and STAP-A come out as Annex B; SPS/PPS first start a keyframe")
    func singleAndStapA() {
        var d = H264Depacketizer()
        let idr: [UInt8] = [0x65, 0x88, 0x84, 0x00]
        let key = depacketize(&d, [stapA([sps, pps]), idr])
        #expect(key == .success(sc + sps + sc + pps + sc + idr))
        #expect(d.sps == sps && d.pps == pps)
        #expect(traits(H264Depacketizer.self, stapA([sps, pps])) == PayloadTraits(startsFrame: true, isKeyframe: true))
        #expect(traits(H264Depacketizer.self, idr) == PayloadTraits(startsFrame: false, isKeyframe: true))
        #expect(traits(H264Depacketizer.self, [0x09, 0xF0]) == PayloadTraits(startsFrame: true, isKeyframe: false))
        #expect(depacketize(&d, [[0x41, 0x9A, 0x01]]) == .success(sc + [0x41, 0x9A, 0x01]))
    }

    @Test("FU-A fragments are reassembled into one NAL unit with its reconstructed header")
    func fuA() {
        var d = H264Depacketizer()
        _ = depacketize(&d, [stapA([sps, pps])])
        let frame = depacketize(&d, [[0x7C, 0x85, 1, 2], [0x7C, 0x05, 3], [0x7C, 0x45, 4]])
        // The IDR had no SPS/PPS in its access unit: the remembered ones go first.
        #expect(frame == .success(sc + sps + sc + pps + sc + [0x65, 1, 2, 3, 4]))
        #expect(traits(H264Depacketizer.self, [0x7C, 0x85, 1]) == PayloadTraits(startsFrame: false, isKeyframe: true))
        #expect(traits(H264Depacketizer.self, [0x7C, 0x05, 1]) == PayloadTraits(startsFrame: false, isKeyframe: false))
    }

    @Test("SPS/PPS are written before every IDR that lacks them, and only once per access unit")
    func parameterSetsBeforeIDR() {
        var d = H264Depacketizer()
        _ = depacketize(&d, [sps, pps, [0x65, 1]])
        let idr = depacketize(&d, [[0x65, 1], [0x65, 2]])
        #expect(idr == .success(sc + sps + sc + pps + sc + [0x65, 1] + sc + [0x65, 2]))
        // A new SPS in the stream replaces the remembered one.
        let sps2: [UInt8] = [0x67, 0x64, 0x00, 0x28]
        _ = depacketize(&d, [sps2, [0x65, 3]])
        #expect(depacketize(&d, [[0x65, 4]]) == .success(sc + sps2 + sc + pps + sc + [0x65, 4]))
    }

    @Test("an IDR with no SPS/PPS ever seen cannot be decoded and is refused")
    func missingParameterSets() {
        var d = H264Depacketizer()
        #expect(depacketize(&d, [[0x65, 1]]) == .failure(.missingParameterSets))
        #expect(depacketize(&d, [[0x7C, 0x85, 1], [0x7C, 0x45, 2]]) == .failure(.missingParameterSets))
    }

    @Test("FU-A without a start, with S and E, or left unfinished, is refused")
    func badFragments() {
        var d = H264Depacketizer()
        #expect(depacketize(&d, [[0x7C, 0x01, 1], [0x7C, 0x41, 2]]) == .failure(.fragmentWithoutStart))
        #expect(depacketize(&d, [[0x7C, 0xC1, 1]]) == .failure(.unsupportedPacketType(28)))
        #expect(depacketize(&d, [[0x7C, 0x81, 1]]) == .failure(.unfinishedFragment))
        #expect(depacketize(&d, [[0x7C, 0x81, 1], [0x41, 2]]) == .failure(.unfinishedFragment))
        #expect(depacketize(&d, [[0x7C, 0x81, 1], [0x7C, 0x07, 2]]) == .failure(.fragmentWithoutStart))
        #expect(depacketize(&d, [[0x7C, 0x81]]) == .failure(.truncatedDescriptor(count: 2)))
        #expect(depacketize(&d, [[0x7C, 0x81, 1], [0x7C, 0x41, 2]]) == .success(sc + [0x61, 1, 2]))
    }

    @Test("a STAP-A whose sizes run past the packet, and the packet types not taken, are refused")
    func badAggregates() {
        var d = H264Depacketizer()
        #expect(depacketize(&d, [[0x78, 0x00, 0x09, 0x67]]) == .failure(.lengthOverrun(length: 9, remaining: 1)))
        #expect(depacketize(&d, [[0x78, 0x00, 0x00, 0x67]]) == .failure(.lengthOverrun(length: 0, remaining: 1)))
        #expect(depacketize(&d, [[0x78, 0x00]]) == .failure(.truncatedDescriptor(count: 2)))
        for type: UInt8 in [0, 25, 26, 27, 29, 30, 31] {
            #expect(depacketize(&d, [[type, 1, 2, 3]]) == .failure(.unsupportedPacketType(type)))
            #expect(traits(H264Depacketizer.self, [type, 1, 2, 3]) == nil)
        }
    }

    @Test("random payloads never trap")
    func garbage() {
        var d = H264Depacketizer()
        feedGarbage(&d, seed: 0x6184)
    }
}
