/// Reads back what the writers produce, independently of libogg.
struct OggPage {
    var headerType: UInt8
    var granule: Int64
    var serial: UInt32
    var sequence: UInt32
    var packets: [[UInt8]]
    /// The last packet continues on the next page.
    var continued: Bool

    /// Splits a file into pages (RFC 3533 §6); packets spanning pages are not joined.
    static func parse(_ b: [UInt8]) -> [OggPage]? {
        func le(_ o: Int, _ n: Int) -> UInt64 { (0..<n).reduce(0) { $0 | UInt64(b[o + $1]) << (8 * UInt64($1)) } }
        var pages: [OggPage] = []
        var o = 0
        while o < b.count {
            guard o + 27 <= b.count, b[o..<(o + 4)].elementsEqual("OggS".utf8) else { return nil }
            let segments = Int(b[o + 26])
            guard o + 27 + segments <= b.count else { return nil }
            let lacing = Array(b[(o + 27)..<(o + 27 + segments)])
            var body = o + 27 + segments
            var packets: [[UInt8]] = []
            var current: [UInt8] = []
            for l in lacing {
                guard body + Int(l) <= b.count else { return nil }
                current += b[body..<(body + Int(l))]
                body += Int(l)
                if l < 255 {
                    packets.append(current)
                    current = []
                }
            }
            pages.append(
                OggPage(
                    headerType: b[o + 5], granule: Int64(bitPattern: le(o + 6, 8)), serial: UInt32(le(o + 14, 4)),
                    sequence: UInt32(le(o + 18, 4)), packets: packets, continued: lacing.last == 255))
            o = body
        }
        return pages
    }
}

/// An IVF file's header fields and frames.
struct IVFFile {
    var fourCC: String
    var width: Int
    var height: Int
    var timebase: (den: UInt32, num: UInt32)
    var frameCount: UInt32
    var frames: [(pts: UInt64, bytes: [UInt8])]

    init?(_ b: [UInt8]) {
        func le(_ o: Int, _ n: Int) -> UInt64 { (0..<n).reduce(0) { $0 | UInt64(b[o + $1]) << (8 * UInt64($1)) } }
        guard b.count >= 32, b[0..<4].elementsEqual("DKIF".utf8), le(6, 2) == 32 else { return nil }
        fourCC = String(decoding: b[8..<12], as: UTF8.self)
        width = Int(le(12, 2))
        height = Int(le(14, 2))
        timebase = (UInt32(le(16, 4)), UInt32(le(20, 4)))
        frameCount = UInt32(le(24, 4))
        frames = []
        var o = 32
        while o < b.count {
            guard o + 12 <= b.count else { return nil }
            let size = Int(le(o, 4))
            guard o + 12 + size <= b.count else { return nil }
            frames.append((le(o + 4, 8), Array(b[(o + 12)..<(o + 12 + size)])))
            o += 12 + size
        }
    }
}
