import FoundationEssentials
import HTTPTypes
import JWTKit
import Testing

@testable import HTTP

@Suite("Authenticator")
struct AuthenticatorTests {
    static let secret = String(repeating: "0123456789abcdef", count: 4)  // 64 bytes: HS256, HS384 and HS512

    func fields(bearer: String? = nil, xAuth: String? = nil) -> HTTPFields {
        var f = HTTPFields()
        if let bearer { f[.authorization] = "Bearer \(bearer)" }
        if let xAuth { f[HTTPField.Name("X-Auth-Token")!] = xAuth }
        return f
    }

    func sign(_ claims: JWTClaims, alg: DigestAlgorithm = .sha256, secret: String = secret) async throws -> String {
        let keys = JWTKeyCollection()
        await keys.add(hmac: HMACKey(from: Array(secret.utf8)), digestAlgorithm: alg)
        return try await keys.sign(claims)
    }

    static func base64URL(_ text: String) -> String {
        Data(text.utf8).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    @Test("a room listed in ROOM_TOKENS takes only its token; another room's token is a 401 like any wrong one")
    func roomTokens() async {
        let auth = Authenticator(settings: AuthSettings(authToken: "global", roomTokens: ["a": "ta", "b": "tb"]))
        let req = AuthRequirement.room(parameter: "room")
        #expect(await auth.authenticate(req, room: "a", fields: fields(bearer: "ta")) == .allowed(AuthIdentity(credential: .roomToken, room: "a")))
        #expect(await auth.authenticate(req, room: "a", fields: fields(xAuth: "ta")) == .allowed(AuthIdentity(credential: .roomToken, room: "a")))
        // Another room's token is just a wrong token here: telling them apart would confirm it is valid.
        #expect(await auth.authenticate(req, room: "a", fields: fields(bearer: "tb")) == .denied(status: .unauthorized, reason: "invalid token"))
        #expect(await auth.authenticate(req, room: "a", fields: fields(bearer: "global")) == .denied(status: .unauthorized, reason: "invalid token"))
        #expect(await auth.authenticate(req, room: "a", fields: fields()) == .denied(status: .unauthorized, reason: "missing token"))
        // A room without its own token falls back to AUTH_TOKEN.
        #expect(await auth.authenticate(req, room: "c", fields: fields(bearer: "global")) == .allowed(AuthIdentity(credential: .globalToken)))
        #expect(await auth.authenticate(req, room: "c", fields: fields(bearer: "nope")) == .denied(status: .unauthorized, reason: "invalid token"))
    }

    @Test("with nothing configured rooms are open and admin is closed")
    func openByDefault() async {
        let auth = Authenticator(settings: AuthSettings())
        #expect(await auth.authenticate(.room(parameter: "room"), room: "x", fields: fields()) == .allowed(AuthIdentity(credential: .open)))
        guard case .denied(let status, _) = await auth.authenticate(.admin, room: nil, fields: fields(bearer: "anything")) else {
            Issue.record("admin open"); return
        }
        #expect(status == .forbidden)
    }

    @Test("ADMIN_TOKEN opens admin endpoints; other tokens do not")
    func adminToken() async {
        let auth = Authenticator(settings: AuthSettings(authToken: "global", adminToken: "root"))
        #expect(await auth.authenticate(.admin, room: nil, fields: fields(bearer: "root")) == .allowed(AuthIdentity(credential: .adminToken, isAdmin: true)))
        #expect(await auth.authenticate(.admin, room: nil, fields: fields(bearer: "global")) == .denied(status: .unauthorized, reason: "invalid admin token"))
        #expect(await auth.authenticate(.admin, room: nil, fields: fields()) == .denied(status: .unauthorized, reason: "missing admin token"))
    }

    @Test("a valid JWT is accepted for its room and refused (403) for another room")
    func jwtRoom() async throws {
        let auth = Authenticator(settings: AuthSettings(jwtSecret: Array(Self.secret.utf8)))
        let token = try await sign(JWTClaims(sub: "u1", exp: Date().addingTimeInterval(600), room: "a"))
        let ok = await auth.authenticate(.room(parameter: "room"), room: "a", fields: fields(bearer: token))
        #expect(ok == .allowed(AuthIdentity(credential: .jwt, room: "a", subject: "u1")))
        let other = await auth.authenticate(.room(parameter: "room"), room: "b", fields: fields(bearer: token))
        #expect(other == .denied(status: .forbidden, reason: "token is for another room"))
        let unrestricted = try await sign(JWTClaims(exp: Date().addingTimeInterval(600)))
        guard case .allowed = await auth.authenticate(.room(parameter: "room"), room: "b", fields: fields(bearer: unrestricted)) else {
            Issue.record("room-less JWT refused"); return
        }
    }

    @Test("HS384 and HS512 tokens verify with the same secret")
    func otherHashes() async throws {
        let auth = Authenticator(settings: AuthSettings(jwtSecret: Array(Self.secret.utf8)))
        for alg in [DigestAlgorithm.sha384, .sha512] {
            let token = try await sign(JWTClaims(room: "a"), alg: alg)
            guard case .allowed = await auth.authenticate(.room(parameter: "room"), room: "a", fields: fields(bearer: token)) else {
                Issue.record("\(alg) refused"); continue
            }
        }
    }

    @Test("expired, not-yet-valid, wrongly signed, alg none and RS256 JWTs are 401")
    func badJWTs() async throws {
        let auth = Authenticator(settings: AuthSettings(jwtSecret: Array(Self.secret.utf8)))
        let req = AuthRequirement.room(parameter: "room")
        let expired = try await sign(JWTClaims(exp: Date().addingTimeInterval(-60), room: "a"))
        #expect(await auth.authenticate(req, room: "a", fields: fields(bearer: expired)) == .denied(status: .unauthorized, reason: "JWT expired"))
        let future = try await sign(JWTClaims(nbf: Date().addingTimeInterval(600), room: "a"))
        #expect(await auth.authenticate(req, room: "a", fields: fields(bearer: future)) == .denied(status: .unauthorized, reason: "JWT not yet valid"))
        let wrongKey = try await sign(JWTClaims(room: "a"), secret: String(repeating: "x", count: 64))
        #expect(await auth.authenticate(req, room: "a", fields: fields(bearer: wrongKey)) == .denied(status: .unauthorized, reason: "invalid JWT: bad signature"))

        let payload = Self.base64URL(#"{"room":"a","admin":true}"#)
        let none = Self.base64URL(#"{"alg":"none","typ":"JWT"}"#) + "." + payload + "."
        guard case .denied(.unauthorized, _) = await auth.authenticate(req, room: "a", fields: fields(bearer: none)) else {
            Issue.record("alg none accepted"); return
        }
        let noneSigned = Self.base64URL(#"{"alg":"none","typ":"JWT"}"#) + "." + payload + ".c2ln"
        #expect(await auth.authenticate(req, room: "a", fields: fields(bearer: noneSigned)) == .denied(status: .unauthorized, reason: "JWT algorithm none not accepted (HS256, HS384, HS512 only)"))
        // RS256 header with an HMAC over the secret: the key-confusion attack.
        let good = try await sign(JWTClaims(room: "a"))
        let parts = good.split(separator: ".")
        let rs = Self.base64URL(#"{"alg":"RS256","typ":"JWT"}"#) + "." + parts[1] + "." + parts[2]
        #expect(await auth.authenticate(req, room: "a", fields: fields(bearer: rs)) == .denied(status: .unauthorized, reason: "JWT algorithm RS256 not accepted (HS256, HS384, HS512 only)"))
        // An HS512 header on an HS256 signature.
        let swapped = Self.base64URL(#"{"alg":"HS512","typ":"JWT"}"#) + "." + parts[1] + "." + parts[2]
        guard case .denied(.unauthorized, _) = await auth.authenticate(req, room: "a", fields: fields(bearer: swapped)) else {
            Issue.record("alg swap accepted"); return
        }
        #expect(await auth.authenticate(req, room: "a", fields: fields(bearer: "garbage")) == .denied(status: .unauthorized, reason: "invalid token"))
    }

    /// A token signed with the right key whose payload is any JSON (for claims of the wrong type).
    struct RawClaims: JWTPayload {
        var room: JWTHeaderField?
        var exp: ExpirationClaim?
        func verify(using algorithm: some JWTAlgorithm) async throws {}
        enum CodingKeys: String, CodingKey { case room, exp }
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            if let room { try c.encode(room, forKey: .room) }  // .null encodes as JSON null
            try c.encodeIfPresent(exp, forKey: .exp)
        }
    }

    func signRaw(_ claims: RawClaims, header: JWTHeader = JWTHeader()) async throws -> String {
        let keys = JWTKeyCollection()
        await keys.add(hmac: HMACKey(from: Array(Self.secret.utf8)), digestAlgorithm: .sha256)
        return try await keys.sign(claims, header: header)
    }

    @Test("a room claim that is not a string (array, number, object, bool, null) is refused, not taken as absent")
    func roomClaimMustBeAString() async throws {
        let auth = Authenticator(settings: AuthSettings(jwtSecret: Array(Self.secret.utf8)))
        let exp = ExpirationClaim(value: Date().addingTimeInterval(600))
        let good = try await signRaw(RawClaims(room: .string("a"), exp: exp))
        guard case .allowed(let identity) = await auth.authenticate(.room(parameter: "room"), room: "a", fields: fields(bearer: good)) else {
            Issue.record("a string room claim was refused"); return
        }
        #expect(identity.room == "a")
        let odd: [JWTHeaderField] = [
            .array([.string("a"), .string("b")]), .array([]), .int(5), .decimal(1.5), .object(["name": .string("b")]), .bool(true), .null,
        ]
        for value in odd {
            let token = try await signRaw(RawClaims(room: value, exp: exp))
            for requirement in [AuthRequirement.room(parameter: "room"), .global] {
                guard case .denied(.unauthorized, let reason) = await auth.authenticate(requirement, room: "b", fields: fields(bearer: token)) else {
                    Issue.record("room claim \(value) accepted for \(requirement)"); continue
                }
                #expect(reason == "invalid JWT: the room claim is not a string")
            }
        }
    }

    @Test("a crit header is refused (RFC 7515 §4.1.11: no extension is understood here)")
    func critHeaderRefused() async throws {
        let auth = Authenticator(settings: AuthSettings(jwtSecret: Array(Self.secret.utf8)))
        let exp = ExpirationClaim(value: Date().addingTimeInterval(600))
        let plain = try await signRaw(RawClaims(room: .string("a"), exp: exp))
        guard case .allowed = await auth.authenticate(.room(parameter: "room"), room: "a", fields: fields(bearer: plain)) else {
            Issue.record("plain token refused"); return
        }
        let crits: [JWTHeader] = [
            ["crit": .array([.string("exp")]), "exp": .int(1)],
            ["crit": .array([.string("b64")]), "b64": .bool(false)],
            ["crit": .array([])],
            ["crit": .string("x")],
        ]
        for header in crits {
            let token = try await signRaw(RawClaims(room: .string("a"), exp: exp), header: header)
            let result = await auth.authenticate(.room(parameter: "room"), room: "a", fields: fields(bearer: token))
            guard case .denied(.unauthorized, _) = result else {
                Issue.record("crit header \(header.fields) accepted"); continue
            }
        }
    }

    @Test("a 32-byte secret accepts HS256 only: HS512 tokens are refused, not asserted on")
    func shortSecretRefusesLongerHashes() async throws {
        let short = String(repeating: "s", count: 32)
        let auth = Authenticator(settings: AuthSettings(jwtSecret: Array(short.utf8)))
        let hs256 = try await sign(JWTClaims(room: "a"), secret: short)
        guard case .allowed = await auth.authenticate(.global, room: nil, fields: fields(bearer: hs256)) else {
            Issue.record("HS256 refused"); return
        }
        let hs512 = try await sign(JWTClaims(room: "a"), alg: .sha512, secret: String(repeating: "s", count: 64))
        #expect(await auth.authenticate(.global, room: nil, fields: fields(bearer: hs512)) == .denied(status: .unauthorized, reason: "JWT algorithm HS512 (JWT_SECRET too short for it) not accepted (HS256, HS384, HS512 only)"))
    }

    @Test("an admin JWT (role or admin claim) opens admin; a plain JWT is 403 there")
    func adminJWT() async throws {
        let auth = Authenticator(settings: AuthSettings(jwtSecret: Array(Self.secret.utf8)))
        let role = try await sign(JWTClaims(role: "admin"))
        let flag = try await sign(JWTClaims(admin: true))
        let plain = try await sign(JWTClaims(sub: "u"))
        guard case .allowed(let id1) = await auth.authenticate(.admin, room: nil, fields: fields(bearer: role)), id1.isAdmin else {
            Issue.record("role admin refused"); return
        }
        guard case .allowed = await auth.authenticate(.admin, room: nil, fields: fields(bearer: flag)) else {
            Issue.record("admin flag refused"); return
        }
        #expect(await auth.authenticate(.admin, room: nil, fields: fields(bearer: plain)) == .denied(status: .forbidden, reason: "token does not grant admin"))
    }

    @Test("METRICS_TOKEN guards /metrics (Bearer or X-Auth-Token; ADMIN_TOKEN and admin JWTs too); unset, it is open")
    func metricsToken() async throws {
        #expect(try Configuration.load(environment: ["METRICS_TOKEN": "m"]).auth.metricsToken == "m")
        #expect(try Configuration.load(environment: [:], flags: ["METRICS_TOKEN": "f"]).auth.metricsToken == "f")
        #expect(try Configuration.load(environment: [:]).auth.metricsToken == nil)
        #expect(Configuration.options.contains { $0.env == "METRICS_TOKEN" && $0.flag == "metrics-token" })
        let open = Authenticator(settings: AuthSettings(authToken: "g", roomTokens: ["a": "ta"], adminToken: "root"))
        #expect(await open.authenticate(.metrics, room: nil, fields: fields()) == .allowed(AuthIdentity(credential: .open)))
        let auth = Authenticator(
            settings: AuthSettings(authToken: "g", roomTokens: ["a": "ta"], jwtSecret: Array(Self.secret.utf8), adminToken: "root", metricsToken: "m"))
        #expect(await auth.authenticate(.metrics, room: nil, fields: fields(bearer: "m")) == .allowed(AuthIdentity(credential: .metricsToken)))
        #expect(await auth.authenticate(.metrics, room: nil, fields: fields(xAuth: "m")) == .allowed(AuthIdentity(credential: .metricsToken)))
        #expect(await auth.authenticate(.metrics, room: nil, fields: fields(bearer: "root")) == .allowed(AuthIdentity(credential: .adminToken, isAdmin: true)))
        #expect(await auth.authenticate(.metrics, room: nil, fields: fields()) == .denied(status: .unauthorized, reason: "missing token"))
        for wrong in ["g", "ta", "nope"] {
            #expect(await auth.authenticate(.metrics, room: nil, fields: fields(bearer: wrong)) == .denied(status: .unauthorized, reason: "invalid token"))
        }
        guard case .allowed = await auth.authenticate(.metrics, room: nil, fields: fields(bearer: try await sign(JWTClaims(role: "admin")))) else {
            Issue.record("admin JWT refused on /metrics"); return
        }
        #expect(await auth.authenticate(.metrics, room: nil, fields: fields(bearer: try await sign(JWTClaims(sub: "u")))) == .denied(status: .forbidden, reason: "token does not grant metrics"))
        // The metrics token opens nothing else.
        #expect(await auth.authenticate(.global, room: nil, fields: fields(bearer: "m")) == .denied(status: .unauthorized, reason: "invalid token"))
        #expect(await auth.authenticate(.admin, room: nil, fields: fields(bearer: "m")) == .denied(status: .unauthorized, reason: "invalid admin token"))
    }

    @Test("with only ROOM_TOKENS, a room listing shows a guarded room only to its token's holder and to admins")
    func listingHidesGuardedRooms() async throws {
        let auth = Authenticator(settings: AuthSettings(roomTokens: ["a": "ta", "b": "tb"], adminToken: "root"))
        let rooms = ["a", "b", "c"]
        func listed(_ f: HTTPFields) async -> [String] {
            guard case .allowed(let identity) = await auth.authenticate(.global, room: nil, fields: f) else { return ["refused"] }
            return rooms.filter { auth.mayList(room: $0, to: identity) }
        }
        #expect(await listed(fields()) == ["c"])
        #expect(await listed(fields(bearer: "nope")) == ["c"])
        #expect(await listed(fields(bearer: "ta")) == ["a", "c"])
        #expect(await listed(fields(xAuth: "tb")) == ["b", "c"])
        #expect(await listed(fields(bearer: "root")) == ["a", "b", "c"])
        // With AUTH_TOKEN, its holders see the rooms it opens; the guarded ones stay hidden.
        let global = Authenticator(settings: AuthSettings(authToken: "g", roomTokens: ["a": "ta"], adminToken: "root"))
        guard case .allowed(let g) = await global.authenticate(.global, room: nil, fields: fields(bearer: "g")) else {
            Issue.record("AUTH_TOKEN refused"); return
        }
        #expect(["a", "c"].filter { global.mayList(room: $0, to: g) } == ["c"])
        guard case .allowed(let admin) = await global.authenticate(.global, room: nil, fields: fields(bearer: "root")) else {
            Issue.record("ADMIN_TOKEN refused on a listing"); return
        }
        #expect(["a", "c"].filter { global.mayList(room: $0, to: admin) } == ["a", "c"])
    }

    @Test("constant-time comparison agrees with ==")
    func constantTime() {
        #expect(ConstantTime.equals("abc", "abc"))
        #expect(!ConstantTime.equals("abc", "abd"))
        #expect(!ConstantTime.equals("abc", "abcd"))
        #expect(!ConstantTime.equals("", "a"))
        #expect(ConstantTime.equals("", ""))
    }

    @Test("tokens come from Authorization: Bearer first, then X-Auth-Token")
    func tokenSources() {
        var f = HTTPFields()
        f[.authorization] = "bearer  abc "
        f[HTTPField.Name("X-Auth-Token")!] = "def"
        #expect(Authenticator.token(from: f) == "abc")
        f[.authorization] = "Basic Zm9vOmJhcg=="
        #expect(Authenticator.token(from: f) == "def")
    }
}
