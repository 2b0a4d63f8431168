/// What a WHIP/WHEP PATCH did.
public enum PatchOutcome: Sendable, Equatable {
    /// Trickled candidates were accepted (an ICE-lite server needs none of them): 204.
    case trickleAccepted
    /// ICE restarted: the answer fragment with the new credentials and the new ETag: 200.
    case restarted(fragment: String, etag: String)
}

extension RoomError {
    /// PATCH without `If-Match` where the restart needs it (RFC 9725: 428).
    public static let preconditionRequired = RoomError.precondition(required: true)
    /// `If-Match` that is not the session's ETag (412).
    public static let preconditionFailed = RoomError.precondition(required: false)
}
