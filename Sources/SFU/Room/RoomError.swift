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
    /// The core's smoothed busy fraction `load` is above the configured `limit` (admission
    /// control): come back after `retryAfter` seconds, or try another server.
    case coreBusy(load: Double, limit: Double, retryAfter: Int)
    /// The client's IP already has `limit` sessions being set up on this core
    /// (`MAX_PENDING_SESSIONS_PER_IP`): 429, come back after `retryAfter` seconds.
    case tooManyPendingSessions(limit: Int, retryAfter: Int)
    case sessionNotFound
    /// A layer asked for in a room whose publisher sends no simulcast; a RID it does not send.
    case notSimulcast
    case unknownLayer(String)
    /// A layer request's body that does not parse (`LayerSelection`); a temporal cap for a
    /// viewer whose video is neither VP8 nor VP9.
    case badLayerRequest(String)
    case noTemporalLayers
    /// `required`: 428 (If-Match missing); otherwise 412 (If-Match does not match).
    case precondition(required: Bool)
    case internalError(String)

    public var status: Int {
        switch self {
        case .badOffer, .badRoomName: 400
        case .unusableOffer: 422
        case .publisherExists: 409
        case .roomFull, .tooManyRooms, .tooManySessions, .coreBusy: 503
        case .tooManyPendingSessions: 429
        case .sessionNotFound: 404
        case .notSimulcast: 409
        case .unknownLayer, .badLayerRequest: 400
        case .noTemporalLayers: 409
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
        case .coreBusy(let load, let limit, let retryAfter):
            "server core is busy (load \(Self.percent(load)) % > \(Self.percent(limit)) %); retry in \(retryAfter) s or use another server"
        case .tooManyPendingSessions(let limit, let retryAfter):
            "too many sessions being set up from your address (\(limit)); connect them or retry in \(retryAfter) s"
        case .sessionNotFound: "no such session"
        case .notSimulcast: "the room's publisher sends no simulcast layers"
        case .unknownLayer(let rid): "the publisher sends no layer \"\(rid)\""
        case .badLayerRequest(let r): r
        case .noTemporalLayers: "temporal caps are for VP8 and VP9 video; this viewer's is neither"
        case .precondition(let required):
            required ? "If-Match is required for an ICE restart" : "If-Match does not match the session's ETag"
        case .internalError(let r): "internal error: \(r)"
        }
    }

    /// Seconds for a `Retry-After` header, for the errors that pass.
    public var retryAfterSeconds: Int? {
        switch self {
        case .coreBusy(_, _, let seconds), .tooManyPendingSessions(_, let seconds): seconds
        default: nil
        }
    }

    /// `97`, `95.3`: a tenth of a percent where it is not whole, so "95.3 % > 95 %" reads right.
    private static func percent(_ fraction: Double) -> String {
        let tenths = Int((fraction * 1000).rounded())
        return tenths % 10 == 0 ? "\(tenths / 10)" : "\(tenths / 10).\(tenths % 10)"
    }
}
