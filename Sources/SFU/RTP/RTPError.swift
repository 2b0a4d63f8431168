/// Why bytes are not a valid RTP packet, or a packet could not be built.
public enum RTPError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Fewer than the 12 bytes of a fixed header.
    case truncated(count: Int)
    /// Version field is not 2.
    case badVersion(UInt8)
    /// The CSRC list runs past the end of the packet.
    case csrcOverrun(csrcCount: Int, count: Int)
    /// The header extension (or its length field) runs past the end of the packet.
    case extensionOverrun(words: Int, count: Int)
    /// The padding count is zero or larger than the payload.
    case badPadding(padding: Int, payload: Int)
    /// An extension element id or length does not fit the chosen form.
    case badExtensionElement(id: UInt8, length: Int)
    /// The caller's buffer is too small for the packet being built.
    case bufferTooSmall(needed: Int, capacity: Int)

    public var description: String {
        switch self {
        case .truncated(let n): "RTP packet truncated: \(n) bytes, fixed header needs 12"
        case .badVersion(let v): "RTP version is \(v), expected 2"
        case .csrcOverrun(let c, let n): "RTP CSRC list of \(c) entries runs past the \(n)-byte packet"
        case .extensionOverrun(let w, let n): "RTP header extension of \(w) words runs past the \(n)-byte packet"
        case .badPadding(let p, let l): "RTP padding count \(p) is invalid for \(l) bytes after the header"
        case .badExtensionElement(let id, let l): "RTP header extension element id \(id) length \(l) does not fit its form"
        case .bufferTooSmall(let n, let c): "RTP packet needs \(n) bytes, buffer has \(c)"
        }
    }
}
