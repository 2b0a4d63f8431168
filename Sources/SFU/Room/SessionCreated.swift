/// A created WHIP/WHEP session, as the HTTP layer needs it for its 201 response.
public struct SessionCreated: Sendable {
    public let sessionID: String
    public let answer: String
    public let etag: String
}
