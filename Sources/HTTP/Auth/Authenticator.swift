import Cluster
import HTTPTypes

/// Decides whether a request may reach its handler, with the Go server's rules made safe:
/// constant-time token comparison, JWTs verified by jwt-kit only, `alg` pinned to HS256/384/512,
/// the admin endpoints closed unless `ADMIN_TOKEN` or `JWT_SECRET` is set.
///
/// Credentials come from `Authorization: Bearer <token>` or, failing that, `X-Auth-Token`.
///
/// Precedence for a room (`AuthRequirement.room`): a room listed in `ROOM_TOKENS` accepts
/// only its own token (another room's token is a 401 like any wrong one). Any other room accepts `AUTH_TOKEN` or a
/// JWT when either is configured (a JWT whose `room` claim names another room → 403), and is
/// open when neither is.
///
/// A room's resource reached by another name (`AuthRequirement.roomResource`, a recording) is
/// decided as its room, and opens to the admin token and admin JWTs as well.
///
/// Static tokens are decided synchronously. A JWT needs jwt-kit's `async` verification:
/// `evaluate` then returns `.needsJWT`, the caller awaits `verifyJWT` in a Task (off the
/// core's loop, a few tens of µs of work) and hops back to its core with the claims, where
/// `decide(claims:)` finishes synchronously. `Sendable`: one instance serves every core.
public final class Authenticator: Sendable {
    public let settings: AuthSettings
    private let verifier: JWTVerifier?

    public init(settings: AuthSettings) {
        self.settings = settings
        self.verifier = settings.jwtSecret.map { JWTVerifier(secret: $0) }
    }

    /// The first step of a decision.
    public enum Evaluation: Sendable, Equatable {
        case decided(AuthResult)
        /// Verify this token with `verifyJWT`, then call `decide(claims:…)`.
        case needsJWT(token: String)
    }

    /// Marks a request an edge node makes to the room's origin.
    public static let relayHeader = HTTPField.Name(RelayExchange.header)!

    /// The bearer token of a request, if any.
    public static func token(from fields: HTTPFields) -> String? {
        if let authorization = fields[.authorization] {
            let parts = authorization.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
            if parts.count == 2, parts[0].lowercased() == "bearer" {
                let token = String(parts[1]).trimmingASCIIWhitespace()
                if !token.isEmpty { return token }
            }
        }
        if let header = fields[HTTPField.Name("X-Auth-Token")!] {
            let token = header.trimmingASCIIWhitespace()
            if !token.isEmpty { return token }
        }
        return nil
    }

    /// Decides what static tokens can decide; asks for JWT verification otherwise.
    public func evaluate(_ requirement: AuthRequirement, room: String?, fields: HTTPFields) -> Evaluation {
        let token = Self.token(from: fields)
        let jwtEnabled = verifier != nil
        switch requirement {
        case .none:
            return .decided(.allowed(AuthIdentity(credential: .open)))

        case .room:
            // An edge's relay of the room (`RelayExchange`): `CLUSTER_TOKEN` and nothing else.
            if fields[Self.relayHeader] != nil { return evaluate(.cluster, room: room, fields: fields) }
            if let room, let expected = settings.roomTokens[room] {
                guard let token else { return .decided(.unauthorized("missing token")) }
                if ConstantTime.equals(token, expected) {
                    return .decided(.allowed(AuthIdentity(credential: .roomToken, room: room)))
                }
                // Another room's valid token gets the very answer a wrong one gets: telling
                // them apart would confirm to its holder that it is valid somewhere.
                return .decided(.unauthorized("invalid token"))
            }
            return globalEvaluation(token: token, jwtEnabled: jwtEnabled)

        case .roomResource:
            if let token, let admin = settings.adminToken, ConstantTime.equals(token, admin) {
                return .decided(.allowed(AuthIdentity(credential: .adminToken, isAdmin: true)))
            }
            if let room, let expected = settings.roomTokens[room] {
                guard let token else { return .decided(.unauthorized("missing token")) }
                if ConstantTime.equals(token, expected) {
                    return .decided(.allowed(AuthIdentity(credential: .roomToken, room: room)))
                }
                // Only an admin JWT opens a room with a token of its own (`decide`).
                if jwtEnabled && JWTVerifier.looksLikeJWT(token) { return .needsJWT(token: token) }
                return .decided(.unauthorized("invalid token"))
            }
            return globalEvaluation(token: token, jwtEnabled: jwtEnabled)

        case .global:
            // Listings: an admin sees everything, so the admin token is accepted here too; with
            // the listing open (no AUTH_TOKEN, no JWT), a room token is recognised so that
            // its holder is shown that room (see `mayList`).
            if let token, let expected = settings.adminToken, ConstantTime.equals(token, expected) {
                return .decided(.allowed(AuthIdentity(credential: .adminToken, isAdmin: true)))
            }
            if settings.authToken == nil && !jwtEnabled {
                if let token, let room = roomOpened(by: token) {
                    return .decided(.allowed(AuthIdentity(credential: .roomToken, room: room)))
                }
                return .decided(.allowed(AuthIdentity(credential: .open)))
            }
            return globalEvaluation(token: token, jwtEnabled: jwtEnabled)

        case .metrics:
            guard let expected = settings.metricsToken else {
                return .decided(.allowed(AuthIdentity(credential: .open)))
            }
            guard let token else { return .decided(.unauthorized("missing token")) }
            if ConstantTime.equals(token, expected) {
                return .decided(.allowed(AuthIdentity(credential: .metricsToken)))
            }
            if let admin = settings.adminToken, ConstantTime.equals(token, admin) {
                return .decided(.allowed(AuthIdentity(credential: .adminToken, isAdmin: true)))
            }
            if jwtEnabled && JWTVerifier.looksLikeJWT(token) { return .needsJWT(token: token) }
            return .decided(.unauthorized("invalid token"))

        case .cluster:
            guard let expected = settings.clusterToken else {
                return .decided(.forbidden("cluster endpoints are disabled (set CLUSTER_TOKEN)"))
            }
            guard let token else { return .decided(.unauthorized("missing cluster token")) }
            if ConstantTime.equals(token, expected) {
                return .decided(.allowed(AuthIdentity(credential: .clusterToken)))
            }
            // No JWT and no other token opens it: only nodes hold CLUSTER_TOKEN.
            return .decided(.unauthorized("invalid cluster token"))

        case .admin:
            guard settings.adminToken != nil || jwtEnabled else {
                return .decided(.forbidden("admin endpoints are disabled (set ADMIN_TOKEN or JWT_SECRET)"))
            }
            guard let token else { return .decided(.unauthorized("missing admin token")) }
            if let expected = settings.adminToken, ConstantTime.equals(token, expected) {
                return .decided(.allowed(AuthIdentity(credential: .adminToken, isAdmin: true)))
            }
            if jwtEnabled && JWTVerifier.looksLikeJWT(token) { return .needsJWT(token: token) }
            return .decided(.unauthorized("invalid admin token"))
        }
    }

    /// `AUTH_TOKEN` or a JWT when either is configured, else open.
    private func globalEvaluation(token: String?, jwtEnabled: Bool) -> Evaluation {
        guard settings.authToken != nil || jwtEnabled else {
            return .decided(.allowed(AuthIdentity(credential: .open)))
        }
        guard let token else { return .decided(.unauthorized("missing token")) }
        if let expected = settings.authToken, ConstantTime.equals(token, expected) {
            return .decided(.allowed(AuthIdentity(credential: .globalToken)))
        }
        if jwtEnabled && JWTVerifier.looksLikeJWT(token) { return .needsJWT(token: token) }
        return .decided(.unauthorized("invalid token"))
    }

    /// The `ROOM_TOKENS` room whose token `token` is, comparing against every entry (in
    /// constant time each, and all of them whatever matches).
    private func roomOpened(by token: String) -> String? {
        var found: String?
        for (room, value) in settings.roomTokens where ConstantTime.equals(token, value) { found = room }
        return found
    }

    /// Whether a room listing (`/api/rooms`) shows `room` to a client let in as `identity`.
    /// A room with its own `ROOM_TOKENS` entry is shown only to an admin and to a client that
    /// presented that room's token: neither `AUTH_TOKEN` nor a JWT opens such a room, so
    /// neither lists it. Every other room is shown to whoever may list at all.
    public func mayList(room: String, to identity: AuthIdentity) -> Bool {
        guard settings.roomTokens[room] != nil else { return true }
        return identity.isAdmin || (identity.credential == .roomToken && identity.room == room)
    }

    /// Verifies a JWT (signature, `alg`, `exp`, `nbf`) with jwt-kit.
    public func verifyJWT(_ token: String) async -> Result<JWTClaims, JWTRejection> {
        guard let verifier else { return .failure(.invalid("JWT not configured")) }
        return await verifier.verify(token)
    }

    /// Finishes a decision once the JWT has been verified.
    public func decide(_ requirement: AuthRequirement, room: String?, claims: Result<JWTClaims, JWTRejection>) -> AuthResult {
        let verified: JWTClaims
        switch claims {
        case .failure(let rejection): return .unauthorized(rejection.description)
        case .success(let c): verified = c
        }
        let identity = AuthIdentity(credential: .jwt, room: verified.room, isAdmin: verified.isAdmin, subject: verified.sub)
        switch requirement {
        case .none, .global:
            return .allowed(identity)
        case .metrics:
            return verified.isAdmin ? .allowed(identity) : .forbidden("token does not grant metrics")
        case .room:
            if let claimRoom = verified.room, claimRoom != room, !verified.isAdmin {
                return .forbidden("token is for another room")
            }
            return .allowed(identity)
        case .roomResource:
            if verified.isAdmin { return .allowed(identity) }
            if let room, settings.roomTokens[room] != nil { return .forbidden("this room opens only with its own token") }
            if let claimRoom = verified.room, let room, claimRoom != room { return .forbidden("token is for another room") }
            return .allowed(identity)
        case .admin:
            return verified.isAdmin ? .allowed(identity) : .forbidden("token does not grant admin")
        case .cluster:
            return .unauthorized("invalid cluster token")
        }
    }

    /// The whole decision in one call (tests and callers already in an async context).
    public func authenticate(_ requirement: AuthRequirement, room: String?, fields: HTTPFields) async -> AuthResult {
        switch evaluate(requirement, room: room, fields: fields) {
        case .decided(let result): return result
        case .needsJWT(let token): return decide(requirement, room: room, claims: await verifyJWT(token))
        }
    }
}
