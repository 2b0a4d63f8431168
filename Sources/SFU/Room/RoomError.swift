/// Why a WHIP/WHEP request could not be served, with the HTTP status it maps to and a
/// one-line reason for the response body.
public enum RoomError: Error, Sendable, Equatable, CustomStringConvertible {
    case badOffer(String)
    case unusableOffer(String)
    case badRoomName(String)
    case publisherExists
    case roomFull(limit: Int)
    case tooManyRooms(limit: Int)
    case tooManySessions(limit: Int)
    case sessionNotFound
    /// `required`: 428 (If-Match missing); otherwise 412 (If-Match does not match).
    case precondition(required: Bool)
    case internalError(String)

    public var status: Int {
        switch self {
        case .badOffer, .badRoomName: 400
        case .unusableOffer: 422
        case .publisherExists: 409
        case .roomFull, .tooManyRooms, .tooManySessions: 503
        case .sessionNotFound: 404
        case .precondition(let required): required ? 428 : 412
        case .internalError: 500
        }
    }

    public var description: String {
        switch self {
        case .badOffer(let r): "malformed SDP offer: \(r)"
        case .unusableOffer(let r): "offer cannot be served: \(r)"
        case .badRoomName(let r): r
        case .publisherExists: "room already has a publisher"
        case .roomFull(let limit): "room is full (\(limit) viewers)"
        case .tooManyRooms(let limit): "server has too many rooms (\(limit))"
        case .tooManySessions(let limit): "server core has too many sessions (\(limit))"
        case .sessionNotFound: "no such session"
        case .precondition(let required):
            required ? "If-Match is required for an ICE restart" : "If-Match does not match the session's ETag"
        case .internalError(let r): "internal error: \(r)"
        }
    }
}
