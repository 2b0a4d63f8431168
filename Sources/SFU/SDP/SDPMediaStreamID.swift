/// `a=msid:<stream id> [<track id>]` (RFC 8830): which MediaStream and track an m-section carries.
public struct SDPMediaStreamID: Hashable, Sendable {
    public var stream: String
    public var track: String?

    public init(stream: String, track: String? = nil) {
        self.stream = stream
        self.track = track
    }

    /// Parses the attribute value (also the value after `msid:` on an `a=ssrc` line).
    public init?(attributeValue: Substring) {
        let parts = SDPSyntax.fields(attributeValue)
        guard parts.count == 1 || parts.count == 2, !parts[0].isEmpty else { return nil }
        stream = String(parts[0])
        track = parts.count == 2 ? String(parts[1]) : nil
    }

    public var attributeValue: String {
        if let track { return "\(stream) \(track)" }
        return stream
    }
}
