import SFU

/// A recording's file name as `/api/records/{name}` accepts it, checked as strictly as a room
/// name before it comes near the file system: 1–200 characters from `A–Z a–z 0–9 - _ .`, not
/// starting with a dot, no `..`, ending in an extension livesfu writes. So no name can be a
/// path (no `/`, which percent-decoding could otherwise bring in as `%2F`, no NUL) and none can
/// leave `RECORD_DIR`. The name must then also be a catalog entry's to be served.
struct RecordingName: Equatable {
    /// Longer than any name livesfu makes (`{room ≤ 64}_{track ≤ 64}_{unix time}-{n}.{ext}`),
    /// below the file system's 255.
    static let maxLength = 200
    /// What the recorders write: Ogg/Opus, IVF (VP8, VP9, AV1), Annex B H.264.
    static let extensions = ["ogg", "ivf", "h264"]

    let value: String

    init(validating raw: String) throws(RecordingNameError) {
        guard !raw.isEmpty else { throw .empty }
        guard raw.utf8.count <= Self.maxLength else { throw .tooLong(Self.maxLength) }
        guard RoomName.isSafeName(raw), !raw.contains("..") else { throw .badCharacter }
        guard let dot = raw.lastIndex(of: "."), Self.extensions.contains(String(raw[raw.index(after: dot)...])) else {
            throw .badExtension
        }
        value = raw
    }
}

enum RecordingNameError: Error, Equatable, CustomStringConvertible {
    case empty
    case tooLong(Int)
    case badCharacter
    case badExtension

    var description: String {
        switch self {
        case .empty: "recording name is empty"
        case .tooLong(let max): "recording name is longer than \(max) characters"
        case .badCharacter: "recording name may only contain A-Z a-z 0-9 - _ . (no leading dot, no ..)"
        case .badExtension: "recording name must end in .\(RecordingName.extensions.joined(separator: ", ."))"
        }
    }
}
