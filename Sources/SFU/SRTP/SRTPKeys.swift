/// SRTP master keys exported from a DTLS handshake (RFC 5764 §4.2), split per direction.
///
/// The exporter ("EXTRACTOR-dtls_srtp") yields `client_key | server_key | client_salt |
/// server_salt`; the client writes with `client_key‖client_salt`, the server with the other.
public struct SRTPKeys: Sendable, Hashable, CustomStringConvertible {
    /// Which end of the DTLS handshake we were (`DTLSRole`, which DTLS maps to this: SRTP
    /// needs only to know which half of the keys is ours, not DTLS itself).
    public enum Role: Sendable, Hashable {
        case client, server
    }

    public let profile: SRTPProfile
    /// Our DTLS role: decides which write key is local.
    public let role: Role
    /// `client_write_key‖client_write_salt`.
    public let clientWriteKey: [UInt8]
    /// `server_write_key‖server_write_salt`.
    public let serverWriteKey: [UInt8]

    public init(profile: SRTPProfile, role: Role, clientWriteKey: [UInt8], serverWriteKey: [UInt8]) {
        self.profile = profile
        self.role = role
        self.clientWriteKey = clientWriteKey
        self.serverWriteKey = serverWriteKey
    }

    /// Splits exported keying material (`2 * (key + salt)` bytes); nil if the length is wrong.
    public init?(profile: SRTPProfile, role: Role, exported: [UInt8]) {
        let k = profile.keyLength
        let s = profile.saltLength
        guard exported.count == 2 * (k + s) else { return nil }
        let clientKey = exported[0..<k]
        let serverKey = exported[k..<(2 * k)]
        let clientSalt = exported[(2 * k)..<(2 * k + s)]
        let serverSalt = exported[(2 * k + s)..<(2 * k + 2 * s)]
        self.init(
            profile: profile, role: role,
            clientWriteKey: Array(clientKey) + Array(clientSalt),
            serverWriteKey: Array(serverKey) + Array(serverSalt))
    }

    /// `key‖salt` for what we send (outbound session).
    public var localKeyingMaterial: [UInt8] { role == .client ? clientWriteKey : serverWriteKey }
    /// `key‖salt` for what the peer sends (inbound session).
    public var remoteKeyingMaterial: [UInt8] { role == .client ? serverWriteKey : clientWriteKey }

    /// Never prints key bytes (they would end up in logs).
    public var description: String { "SRTPKeys(\(profile), role: \(role), <redacted>)" }
}
