/// What a viewer asks for through `POST /api/session/{room}/{id}/layer`: words separated by
/// white space, at most `maximumBytes` in all: a simulcast layer by its RID or `auto`, and a
/// temporal cap, `temporal=N` (N: 0-3, the highest VP8 or VP9 temporal layer it is sent) or
/// `temporal=auto`; at least one of the two, each at most once, in any order (`h`,
/// `h temporal=0`, `temporal=1`, `auto temporal=auto`). `=` is in no RID (`SDPSimulcast`),
/// so the two never mix up.
public struct LayerSelection: Sendable, Equatable {
    public enum Temporal: Sendable, Equatable {
        case automatic
        case cap(Int)
    }

    public var spatial: RoomManager.LayerRequest?
    public var temporal: Temporal?

    public static let maximumBytes = 64
    static let temporalPrefix = "temporal="

    /// Why a body is not a selection: not words as above, or a temporal cap out of 0-3.
    public enum ParseError: Error, Equatable {
        case malformed
        case badTemporal
    }

    public init(spatial: RoomManager.LayerRequest? = nil, temporal: Temporal? = nil) {
        self.spatial = spatial
        self.temporal = temporal
    }

    public static func parse(_ body: String) -> Result<LayerSelection, ParseError> {
        guard body.utf8.count <= maximumBytes else { return .failure(.malformed) }
        var selection = LayerSelection()
        for word in body.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\r" || $0 == "\t" }) {
            if word.hasPrefix(temporalPrefix) {
                guard selection.temporal == nil else { return .failure(.malformed) }
                let value = word.dropFirst(temporalPrefix.count)
                if value == "auto" {
                    selection.temporal = .automatic
                } else if value.count == 1, let n = Int(value), (0...Int(TemporalFilter.topLayer)).contains(n) {
                    selection.temporal = .cap(n)
                } else {
                    return .failure(.badTemporal)
                }
            } else {
                guard selection.spatial == nil, !word.contains("=") else { return .failure(.malformed) }
                selection.spatial = word == "auto" ? .automatic : .rid(String(word))
            }
        }
        guard selection.spatial != nil || selection.temporal != nil else { return .failure(.malformed) }
        return .success(selection)
    }
}
