/// AV1 RTP payload (AOMedia "RTP Payload Format for AV1" §4) depacketizer: aggregation header
/// Z/Y/W/N, OBU elements with or without length fields, OBUs fragmented across packets. Out
/// comes a low-overhead bitstream (AV1 spec §5.2): a temporal delimiter, then every OBU with
/// obu_has_size_field = 1 and its LEB128 size, which is what IVF carries.
public struct AV1Depacketizer: RTPDepacketizer {
    /// The largest OBU reassembled from fragments; a bigger one is dropped as malformed.
    public static let maxFragmentBytes = 4 << 20
    /// Temporal delimiter: OBU type 2 with has_size_field, size 0.
    static let temporalDelimiter: [UInt8] = [0x12, 0x00]

    /// The fragments of an OBU split across packets, joined.
    private var fragment: [UInt8] = []
    private var inFragment = false

    public init() {}

    /// N=1 (first packet of a coded video sequence, hence of a keyframe) or a sequence header
    /// as the first, unfragmented OBU starts a frame; N=1 marks a keyframe.
    public static func traits(of p: UnsafeRawBufferPointer) -> PayloadTraits? {
        guard p.count >= 2 else { return nil }
        let h = p[0]
        let n = h & 0x08 != 0
        var start = n
        if h & 0x80 == 0 {  // Z=0: the first element begins an OBU
            var o = 1
            if (h >> 4) & 0x03 != 1 {  // the first element has a length field
                guard let (_, len) = LEB128.read(p, at: o) else { return nil }
                o += len
            }
            guard o < p.count else { return nil }
            let type = (p[o] >> 3) & 0x0F
            if type == 1 || type == 2 { start = true }
        }
        return PayloadTraits(startsFrame: start, isKeyframe: n)
    }

    public mutating func beginFrame(into frame: inout [UInt8]) {
        fragment.removeAll(keepingCapacity: true)
        inFragment = false
        frame.append(contentsOf: Self.temporalDelimiter)
    }

    public mutating func append(_ p: UnsafeRawBufferPointer, into frame: inout [UInt8]) throws(DepacketizerError) {
        guard p.count >= 2 else { throw .truncatedDescriptor(count: p.count) }
        let h = p[0]
        let z = h & 0x80 != 0
        let y = h & 0x40 != 0
        let w = Int((h >> 4) & 0x03)
        if z != inFragment { throw z ? .fragmentWithoutStart : .unfinishedFragment }
        var o = 1
        var index = 0
        while o < p.count {
            index += 1
            let length: Int
            if w == 0 || index < w {
                guard let (v, len) = LEB128.read(p, at: o) else { throw .badLEB128 }
                o += len
                guard v <= p.count - o else { throw .lengthOverrun(length: v, remaining: p.count - o) }
                length = v
            } else {
                length = p.count - o  // the last of W elements runs to the end
            }
            let element = UnsafeRawBufferPointer(rebasing: p[o..<(o + length)])
            o += length
            let first = index == 1
            let last = o >= p.count || (w != 0 && index == w)
            let continues = first && z
            let continued = last && y
            if continues || continued {
                if !continues { fragment.removeAll(keepingCapacity: true) }
                guard fragment.count + element.count <= Self.maxFragmentBytes else {
                    throw .fragmentTooLarge(limit: Self.maxFragmentBytes)
                }
                fragment.append(contentsOf: element)
                inFragment = continued
                if !continued {
                    let written = fragment.withUnsafeBytes { b -> Result<Void, DepacketizerError> in
                        do throws(DepacketizerError) {
                            try Self.writeOBU(b, into: &frame)
                            return .success(())
                        } catch {
                            return .failure(error)
                        }
                    }
                    try written.get()
                    fragment.removeAll(keepingCapacity: true)
                }
            } else {
                try Self.writeOBU(element, into: &frame)
            }
            if last { break }
        }
        guard o == p.count else { throw .lengthOverrun(length: o, remaining: p.count) }
    }

    public mutating func endFrame(into frame: inout [UInt8]) throws(DepacketizerError) {
        if inFragment {
            inFragment = false
            throw .unfinishedFragment
        }
    }

    /// Writes one whole OBU with obu_has_size_field = 1 and its size; temporal delimiters
    /// (written once per frame by `beginFrame`), tile lists and padding are dropped, as the
    /// payload spec tells receivers to ignore them.
    static func writeOBU(_ e: UnsafeRawBufferPointer, into frame: inout [UInt8]) throws(DepacketizerError) {
        guard e.count >= 1 else { throw .badOBUHeader(0) }
        let header = e[0]
        guard header & 0x80 == 0 else { throw .badOBUHeader(header) }
        let headerLength = header & 0x04 != 0 ? 2 : 1
        guard e.count >= headerLength else { throw .badOBUHeader(header) }
        var payloadStart = headerLength
        var payloadLength = e.count - headerLength
        if header & 0x02 != 0 {
            guard let (v, len) = LEB128.read(e, at: headerLength) else { throw .badLEB128 }
            payloadStart += len
            guard v <= e.count - payloadStart else {
                throw .lengthOverrun(length: v, remaining: e.count - payloadStart)
            }
            payloadLength = v
        }
        let type = (header >> 3) & 0x0F
        if type == 2 || type == 8 || type == 15 { return }
        frame.append(header | 0x02)
        if headerLength == 2 { frame.append(e[1]) }
        LEB128.write(payloadLength, to: &frame)
        frame.append(contentsOf: UnsafeRawBufferPointer(rebasing: e[payloadStart..<(payloadStart + payloadLength)]))
    }
}
