/// A parsed SDP (RFC 8866) as the server needs it: session-level attributes and the m-sections.
/// A plain value: parse it on any core, hand it to the room's core.
public struct SessionDescription: Hashable, Sendable {
    /// `o=` fields.
    public struct Origin: Hashable, Sendable {
        public var username: String
        /// Decimal digits (browsers use up to 19).
        public var sessionID: String
        public var sessionVersion: String
        /// e.g. `IN IP4 127.0.0.1`.
        public var address: String

        public init(
            username: String = "-", sessionID: String, sessionVersion: String, address: String = "IN IP4 0.0.0.0"
        ) {
            self.username = username
            self.sessionID = sessionID
            self.sessionVersion = sessionVersion
            self.address = address
        }
    }

    public var origin: Origin
    public var sessionName: String
    public var timing: String
    public var connection: String?
    public var bandwidths: [String]
    public var groups: [SDPGroup]
    public var iceLite: Bool
    public var iceUfrag: String?
    public var icePassword: String?
    public var iceOptions: [String]
    public var fingerprints: [SDPFingerprint]
    public var setup: SDPSetupRole?
    public var extmapAllowMixed: Bool
    /// `a=msid-semantic:` value as written, e.g. ` WMS *`.
    public var msidSemantic: String?
    public var otherAttributes: [SDPAttribute]
    public var media: [MediaDescription]

    public init(origin: Origin, media: [MediaDescription] = []) {
        self.origin = origin
        sessionName = "-"
        timing = "0 0"
        connection = nil
        bandwidths = []
        groups = []
        iceLite = false
        iceUfrag = nil
        icePassword = nil
        iceOptions = []
        fingerprints = []
        setup = nil
        extmapAllowMixed = false
        msidSemantic = nil
        otherAttributes = []
        self.media = media
    }

    /// The `a=group:BUNDLE` mids, empty without a bundle group (the first group if several).
    public var bundleMids: [String] {
        groups.first { $0.semantics == "BUNDLE" }?.mids ?? []
    }

    /// ICE credentials of an m-section: its own, else the session's.
    public func iceCredentials(of media: MediaDescription) -> (ufrag: String, password: String)? {
        guard let ufrag = media.iceUfrag ?? iceUfrag, let password = media.icePassword ?? icePassword
        else { return nil }
        return (ufrag, password)
    }

    /// Fingerprints of an m-section: its own, else the session's.
    public func fingerprints(of media: MediaDescription) -> [SDPFingerprint] {
        media.fingerprints.isEmpty ? fingerprints : media.fingerprints
    }

    /// DTLS role of an m-section: its own, else the session's.
    public func setup(of media: MediaDescription) -> SDPSetupRole? {
        media.setup ?? setup
    }

    /// The m-section with this mid.
    public func media(mid: String) -> MediaDescription? {
        media.first { $0.mid == mid }
    }

    /// Serializes the description (CRLF line endings).
    public var text: String { SDPWriter.write(self) }
}
