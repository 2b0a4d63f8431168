/// Why a Redis request failed. `.io` means the connection is unusable (refused, reset,
/// timed out): it is dropped and opened again later; the others leave it open.
public enum RedisError: Error, Sendable, Equatable, CustomStringConvertible {
    case io(String)
    /// Redis answered with an error (`-ERR …`, `-WRONGTYPE …`, `-NOAUTH …`).
    case server(String)
    /// A reply beyond `RedisValue.Limits`.
    case replyTooLarge(String)
    /// A reply of an unexpected shape.
    case badReply(String)

    public var description: String {
        switch self {
        case .io(let r): "redis unreachable: \(r)"
        case .server(let r): "redis error: \(Self.cut(r))"
        case .replyTooLarge(let r): "redis reply too large: \(r)"
        case .badReply(let r): "unexpected redis reply: \(r)"
        }
    }

    public var breaksConnection: Bool {
        switch self {
        case .io, .replyTooLarge: true
        case .server, .badReply: false
        }
    }

    /// A server's message as at most 120 bytes (it is repeated in logs and 503 bodies).
    static func cut(_ text: String) -> String {
        text.utf8.count <= 120 ? text : String(decoding: text.utf8.prefix(120), as: UTF8.self) + "…"
    }
}
