/// Why an RTP payload cannot be turned into part of a decodable frame. The recorder drops the
/// frame (and everything up to the next keyframe) and counts the reason; it never traps.
public enum DepacketizerError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The payload descriptor or aggregation header runs past the end of the payload.
    case truncatedDescriptor(count: Int)
    /// A length field (STAP-A NAL size, AV1 element or OBU size) runs past the data it sits in.
    case lengthOverrun(length: Int, remaining: Int)
    /// A LEB128 value is longer than 8 bytes, above 2^32 - 1, or cut off.
    case badLEB128
    /// A continuation (H.264 FU-A without S, AV1 Z=1) with no fragment started before it.
    case fragmentWithoutStart
    /// A fragment was left unfinished: a new one started, or the frame ended.
    case unfinishedFragment
    /// The frame's first packet does not begin a frame (VP8 S=0 or partition > 0, VP9 B=0).
    case notFrameStart
    /// An H.264 packet type the recorder does not take (STAP-B, MTAP, FU-B, reserved), or an
    /// FU-A with both S and E.
    case unsupportedPacketType(UInt8)
    /// An IDR slice while no SPS/PPS has been seen: the frame could not be decoded.
    case missingParameterSets
    /// An AV1 OBU header with the forbidden bit set, or too short for its extension.
    case badOBUHeader(UInt8)
    /// A fragment grew past the depacketizer's limit.
    case fragmentTooLarge(limit: Int)
    /// More spatial layers in one VP9 picture than a superframe can hold (8).
    case tooManyLayers

    public var description: String {
        switch self {
        case .truncatedDescriptor(let n): "payload descriptor runs past the \(n)-byte payload"
        case .lengthOverrun(let l, let r): "length \(l) runs past the \(r) bytes left"
        case .badLEB128: "malformed LEB128 value"
        case .fragmentWithoutStart: "fragment continuation without a start"
        case .unfinishedFragment: "fragment left unfinished"
        case .notFrameStart: "first packet of the frame does not start a frame"
        case .unsupportedPacketType(let t): "unsupported packet type \(t)"
        case .missingParameterSets: "IDR without any SPS/PPS seen"
        case .badOBUHeader(let h): "bad AV1 OBU header 0x\(String(h, radix: 16))"
        case .fragmentTooLarge(let l): "fragment larger than \(l) bytes"
        case .tooManyLayers: "more than 8 spatial layers in one picture"
        }
    }
}
