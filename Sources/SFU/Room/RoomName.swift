/// A validated room name: 1–64 characters from `A–Z a–z 0–9 - _ .`, not starting with a dot.
/// Names appear in URLs, metric labels and file names, so anything else is refused early.
public struct RoomName: Hashable, Sendable, CustomStringConvertible {
    public static let maxLength = 64
    public let value: String

    public init(validating raw: String) throws(RoomNameError) {
        guard !raw.isEmpty else { throw .empty }
        guard raw.utf8.count <= Self.maxLength else { throw .tooLong(Self.maxLength) }
        guard Self.isSafeName(raw) else { throw .badCharacter }
        value = raw
    }

    /// Only `A–Z a–z 0–9 - _ .`, and no leading dot: safe in a URL, a metric label and a file
    /// name (recording names are checked with it too).
    public static func isSafeName(_ raw: String) -> Bool {
        for byte in raw.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."):
                continue
            default:
                return false
            }
        }
        return raw.utf8.first != UInt8(ascii: ".")
    }

    public var description: String { value }
}

public enum RoomNameError: Error, Equatable, CustomStringConvertible {
    case empty
    case tooLong(Int)
    case badCharacter

    public var description: String {
        switch self {
        case .empty: "room name is empty"
        case .tooLong(let max): "room name is longer than \(max) characters"
        case .badCharacter: "room name may only contain A-Z a-z 0-9 - _ . and may not start with a dot"
        }
    }
}
