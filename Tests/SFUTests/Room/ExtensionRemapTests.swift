import Testing

@testable import SFU

@Suite("Per-viewer header extension renumbering")
struct ExtensionRemapTests {
    let publisher = [
        SDPHeaderExtension(id: 4, uri: SDPExtensionURI.mid),
        SDPHeaderExtension(id: 2, uri: SDPExtensionURI.absSendTime),
        SDPHeaderExtension(id: 3, uri: SDPExtensionURI.transportWideCC),
    ]

    /// RTP header + one-byte extension block with mid(4)="0", abs-send-time(2), twcc(3).
    func packet() -> [UInt8] {
        var p: [UInt8] = [0x90, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0, 9]
        p += [0xBE, 0xDE, 0, 3]
        p += [0x40, UInt8(ascii: "0")]  // id 4, len 1
        p += [0x22, 1, 2, 3]  // id 2, len 3
        p += [0x31, 7, 8]  // id 3, len 2
        p += [0, 0, 0]  // padding to 12 bytes
        p += [0xAA, 0xBB]  // payload
        return p
    }

    @Test("ids are renumbered to the viewer's, unknown ones blanked to padding")
    func remap() {
        let viewer = [
            SDPHeaderExtension(id: 1, uri: SDPExtensionURI.mid),
            SDPHeaderExtension(id: 3, uri: SDPExtensionURI.absSendTime),
            SDPHeaderExtension(id: 5, uri: SDPExtensionURI.transportWideCC),
        ]
        let map = ExtensionIDMap(publisher: publisher, viewer: viewer, dropping: [SDPExtensionURI.transportWideCC])
        #expect(!map.isIdentity)
        var p = packet()
        p.withUnsafeMutableBytes { (try? RTPPacket(parsing: $0))?.rewriteExtensionIDs { map.map($0) } }
        #expect(p[16] == 0x10 && p[17] == UInt8(ascii: "0"))
        #expect(p[18] == 0x32 && Array(p[19..<22]) == [1, 2, 3])
        #expect(Array(p[22..<25]) == [0, 0, 0])  // twcc dropped
        #expect(Array(p[28...]) == [0xAA, 0xBB])
    }

    @Test("identical numbering is detected so the rewrite is skipped")
    func identity() {
        let map = ExtensionIDMap(publisher: Array(publisher.prefix(2)), viewer: publisher)
        #expect(map.isIdentity)
    }

    @Test("lying extension lengths never write out of bounds")
    func garbage() {
        let map = ExtensionIDMap(publisher: publisher, viewer: [])
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            var p = (0..<Int.random(in: 0..<40, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            if p.count > 0 { p[0] |= 0x10 }
            if p.count > 14, Bool.random(using: &rng) { p[12] = 0xBE; p[13] = 0xDE }
            p.withUnsafeMutableBytes { (try? RTPPacket(parsing: $0))?.rewriteExtensionIDs { map.map($0) } }
        }
    }
}
