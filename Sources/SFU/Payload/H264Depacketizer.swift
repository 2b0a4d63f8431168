/// RFC 6184 H.264 depacketizer (packetization mode 1): single NAL units, STAP-A and FU-A in,
/// Annex B out (each NAL unit after a 4-byte start code). It remembers the latest SPS and PPS
/// and writes them before every IDR slice whose access unit did not carry them, so a file cut
/// at any IDR, or a recording started on one, decodes.
public struct H264Depacketizer: RTPDepacketizer {
    static let startCode: [UInt8] = [0, 0, 0, 1]

    /// The latest parameter sets seen, without start codes (empty until one is seen).
    public private(set) var sps: [UInt8] = []
    public private(set) var pps: [UInt8] = []
    private var frameHasSPS = false
    private var frameHasPPS = false
    /// Offset in the frame of the FU-A NAL unit being reassembled (after its start code).
    private var fragmentStart: Int?
    private var fragmentType: UInt8 = 0

    public init() {}

    /// An access unit delimiter or SPS first (alone or leading a STAP-A) starts a frame, as
    /// encoders put them there; an IDR slice or SPS anywhere makes a keyframe.
    public static func traits(of p: UnsafeRawBufferPointer) -> PayloadTraits? {
        guard p.count >= 1 else { return nil }
        let type = p[0] & 0x1F
        switch type {
        case 1...23:
            return PayloadTraits(startsFrame: type == 9 || type == 7, isKeyframe: type == 5 || type == 7)
        case 24:
            var o = 1
            var first = true
            var traits = PayloadTraits(startsFrame: false, isKeyframe: false)
            while o < p.count {
                guard o + 2 <= p.count else { return nil }
                let size = Int(WireBytes.u16(p, o))
                guard size > 0, o + 2 + size <= p.count else { return nil }
                let t = p[o + 2] & 0x1F
                if first && (t == 9 || t == 7) { traits.startsFrame = true }
                if t == 5 || t == 7 { traits.isKeyframe = true }
                first = false
                o += 2 + size
            }
            return first ? nil : traits
        case 28:
            guard p.count >= 3 else { return nil }
            let t = p[1] & 0x1F
            return PayloadTraits(startsFrame: false, isKeyframe: p[1] & 0x80 != 0 && (t == 5 || t == 7))
        default:
            return nil
        }
    }

    public mutating func beginFrame(into frame: inout [UInt8]) {
        frameHasSPS = false
        frameHasPPS = false
        fragmentStart = nil
    }

    public mutating func append(_ p: UnsafeRawBufferPointer, into frame: inout [UInt8]) throws(DepacketizerError) {
        guard p.count >= 1 else { throw .truncatedDescriptor(count: 0) }
        let type = p[0] & 0x1F
        if type != 28, fragmentStart != nil { throw .unfinishedFragment }
        switch type {
        case 1...23:
            try writeNAL(p, into: &frame)
        case 24:
            var o = 1
            while o < p.count {
                guard o + 2 <= p.count else { throw .truncatedDescriptor(count: p.count) }
                let size = Int(WireBytes.u16(p, o))
                guard size > 0, o + 2 + size <= p.count else {
                    throw .lengthOverrun(length: size, remaining: p.count - o - 2)
                }
                try writeNAL(UnsafeRawBufferPointer(rebasing: p[(o + 2)..<(o + 2 + size)]), into: &frame)
                o += 2 + size
            }
        case 28:
            guard p.count >= 3 else { throw .truncatedDescriptor(count: p.count) }
            let fu = p[1]
            let start = fu & 0x80 != 0
            let end = fu & 0x40 != 0
            let nalType = fu & 0x1F
            if start && end { throw .unsupportedPacketType(type) }
            if start {
                if fragmentStart != nil { throw .unfinishedFragment }
                try writeParameterSetsIfMissing(before: nalType, into: &frame)
                frame.append(contentsOf: Self.startCode)
                fragmentStart = frame.count
                fragmentType = nalType
                frame.append((p[0] & 0xE0) | nalType)
            } else {
                guard fragmentStart != nil, nalType == fragmentType else { throw .fragmentWithoutStart }
            }
            frame.append(contentsOf: UnsafeRawBufferPointer(rebasing: p[2...]))
            if end, let s = fragmentStart {
                remember(nalType, frame[s...])
                fragmentStart = nil
            }
        default:
            throw .unsupportedPacketType(type)
        }
    }

    public mutating func endFrame(into frame: inout [UInt8]) throws(DepacketizerError) {
        if fragmentStart != nil {
            fragmentStart = nil
            throw .unfinishedFragment
        }
    }

    private mutating func writeNAL(_ nal: UnsafeRawBufferPointer, into frame: inout [UInt8]) throws(DepacketizerError) {
        let type = nal[0] & 0x1F
        try writeParameterSetsIfMissing(before: type, into: &frame)
        frame.append(contentsOf: Self.startCode)
        frame.append(contentsOf: nal)
        remember(type, nal)
    }

    /// Keeps the latest SPS or PPS for the IDRs that come without them.
    private mutating func remember(_ type: UInt8, _ nal: some Sequence<UInt8>) {
        if type == 7 {
            sps.removeAll(keepingCapacity: true)
            sps.append(contentsOf: nal)
            frameHasSPS = true
        } else if type == 8 {
            pps.removeAll(keepingCapacity: true)
            pps.append(contentsOf: nal)
            frameHasPPS = true
        }
    }

    private mutating func writeParameterSetsIfMissing(
        before type: UInt8, into frame: inout [UInt8]
    ) throws(DepacketizerError) {
        guard type == 5, !(frameHasSPS && frameHasPPS) else { return }
        guard !sps.isEmpty, !pps.isEmpty else { throw .missingParameterSets }
        if !frameHasSPS {
            frame.append(contentsOf: Self.startCode)
            frame.append(contentsOf: sps)
            frameHasSPS = true
        }
        if !frameHasPPS {
            frame.append(contentsOf: Self.startCode)
            frame.append(contentsOf: pps)
            frameHasPPS = true
        }
    }
}
