/// Why bytes are not valid RTCP, or RTCP could not be built.
public enum RTCPError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Fewer than the 4 bytes of a common header (or of a compound's remainder).
    case truncated(offset: Int, count: Int)
    /// Version field is not 2.
    case badVersion(UInt8)
    /// A packet's length field runs past the end of the compound.
    case lengthOverrun(offset: Int, declared: Int, available: Int)
    /// The padding count is zero or larger than the packet.
    case badPadding(offset: Int)
    /// A packet's body does not match its type (e.g. report blocks past its length).
    case malformed(packetType: UInt8, format: UInt8)
    /// The caller's buffer is too small for what is being built.
    case bufferTooSmall(needed: Int, capacity: Int)
    /// A builder argument is out of range (e.g. more than 31 report blocks).
    case invalidArgument

    public var description: String {
        switch self {
        case .truncated(let o, let n): "RTCP truncated at offset \(o) of \(n) bytes"
        case .badVersion(let v): "RTCP version is \(v), expected 2"
        case .lengthOverrun(let o, let d, let a):
            "RTCP packet at offset \(o) declares \(d) bytes, only \(a) remain"
        case .badPadding(let o): "RTCP packet at offset \(o) has an invalid padding count"
        case .malformed(let pt, let f): "RTCP packet type \(pt) format \(f) is malformed"
        case .bufferTooSmall(let n, let c): "RTCP needs \(n) bytes, buffer has \(c)"
        case .invalidArgument: "RTCP builder argument out of range"
        }
    }
}
