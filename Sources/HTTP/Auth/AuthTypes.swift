import HTTPTypes

/// What a route needs before its handler runs.
public enum AuthRequirement: Sendable, Equatable {
    /// Nothing (health, metrics, pages).
    case none
    /// Publish/play in the room named by the path parameter `parameter`: its `ROOM_TOKENS`
    /// entry if it has one, else `AUTH_TOKEN` or a JWT (whose `room` claim, if any, must name
    /// this room), else open.
    case room(parameter: String)
    /// Any valid `AUTH_TOKEN` or JWT when one is configured, else open; `ADMIN_TOKEN` too
    /// (room listings, which `Authenticator.mayList` then filters).
    case global
    /// `ADMIN_TOKEN` or an admin JWT; refused outright when neither is configured.
    case admin
    /// `/metrics`: `METRICS_TOKEN`, `ADMIN_TOKEN` or an admin JWT when `METRICS_TOKEN` is set,
    /// else open (the default).
    case metrics
    /// Something that belongs to a room but is named otherwise (a recording, by its file
    /// name in the path parameter `parameter`): the room is the one `RoutePolicy.roomOf` finds
    /// for it. `ADMIN_TOKEN` or an admin JWT opens it; otherwise the room decides as for
    /// `.room`. A name that belongs to no room is decided as a listing without rooms.
    case roomResource(parameter: String)
    /// The nodes' own endpoints (`/api/cluster/…`): `CLUSTER_TOKEN` only; refused outright
    /// when it is not set.
    case cluster
}

/// Who was let in.
public struct AuthIdentity: Sendable, Equatable {
    public enum Credential: Sendable, Equatable {
        /// No credential was needed.
        case open
        case roomToken
        case globalToken
        case adminToken
        case metricsToken
        case clusterToken
        case jwt
    }

    public var credential: Credential
    /// The room the credential is limited to, if any.
    public var room: String?
    public var isAdmin: Bool
    /// The JWT `sub`, for logs at debug level (never the token itself).
    public var subject: String?

    public init(credential: Credential, room: String? = nil, isAdmin: Bool = false, subject: String? = nil) {
        self.credential = credential
        self.room = room
        self.isAdmin = isAdmin
        self.subject = subject
    }
}

/// The authenticator's verdict.
public enum AuthResult: Sendable, Equatable {
    case allowed(AuthIdentity)
    /// 401 (missing or bad credentials) or 403 (valid, but not for this room / not admin /
    /// admin disabled), with a one-line reason that never repeats the token.
    case denied(status: HTTPResponse.Status, reason: String)

    static func unauthorized(_ reason: String) -> AuthResult { .denied(status: .unauthorized, reason: reason) }
    static func forbidden(_ reason: String) -> AuthResult { .denied(status: .forbidden, reason: reason) }
}

/// The auth settings from the environment.
public struct AuthSettings: Sendable, Equatable {
    public var authToken: String?
    /// `ROOM_TOKENS`: room → token.
    public var roomTokens: [String: String]
    /// `JWT_SECRET` bytes; at least 32 (checked by `Configuration`).
    public var jwtSecret: [UInt8]?
    public var adminToken: String?
    /// `METRICS_TOKEN`: guards `/metrics` when set.
    public var metricsToken: String?
    /// `CLUSTER_TOKEN`: guards `/api/cluster/…` (and signs node entries, in `Cluster`).
    public var clusterToken: String?

    public init(
        authToken: String? = nil, roomTokens: [String: String] = [:], jwtSecret: [UInt8]? = nil, adminToken: String? = nil,
        metricsToken: String? = nil, clusterToken: String? = nil
    ) {
        self.authToken = authToken
        self.roomTokens = roomTokens
        self.jwtSecret = jwtSecret
        self.adminToken = adminToken
        self.metricsToken = metricsToken
        self.clusterToken = clusterToken
    }
}

/// Comparison whose time does not depend on where two secrets first differ.
enum ConstantTime {
    static func equals(_ a: some StringProtocol, _ b: some StringProtocol) -> Bool {
        let x = Array(a.utf8)
        let y = Array(b.utf8)
        var diff: UInt8 = x.count == y.count ? 0 : 1
        let n = max(x.count, y.count)
        var i = 0
        while i < n {
            let p = i < x.count ? x[i] : 0
            let q = i < y.count ? y[i] : 0
            diff |= p ^ q
            i += 1
        }
        return diff == 0
    }
}
