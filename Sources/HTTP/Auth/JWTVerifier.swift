import FoundationEssentials
import JWTKit

/// The claims livesfu reads from a JWT. `exp` and `nbf` are checked when present.
public struct JWTClaims: JWTPayload, Equatable {
    public var sub: String?
    public var exp: ExpirationClaim?
    public var nbf: NotBeforeClaim?
    /// Restricts the token to one room.
    public var room: String?
    /// `"admin"` grants the admin endpoints.
    public var role: String?
    /// `true` (or `"true"`) grants the admin endpoints.
    public var admin: Bool?
    /// A `room` claim was present but not a string (decoding cannot throw a reason jwt-kit
    /// keeps, so `verify` does).
    private var roomClaimIsMalformed = false

    public var isAdmin: Bool { role == "admin" || admin == true }

    public init(sub: String? = nil, exp: Date? = nil, nbf: Date? = nil, room: String? = nil, role: String? = nil, admin: Bool? = nil) {
        self.sub = sub
        self.exp = exp.map { ExpirationClaim(value: $0) }
        self.nbf = nbf.map { NotBeforeClaim(value: $0) }
        self.room = room
        self.role = role
        self.admin = admin
    }

    enum CodingKeys: String, CodingKey { case sub, exp, nbf, room, role, admin }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        sub = try? c.decodeIfPresent(String.self, forKey: .sub)
        exp = try c.decodeIfPresent(ExpirationClaim.self, forKey: .exp)
        nbf = try c.decodeIfPresent(NotBeforeClaim.self, forKey: .nbf)
        // A room claim of another type (an array of rooms, a number, null...) must not read as
        // "no room", which would make the token good for every room: `verify` refuses it.
        if c.contains(.room) {
            room = (try? c.decodeNil(forKey: .room)) == true ? nil : try? c.decode(String.self, forKey: .room)
            roomClaimIsMalformed = room == nil
        } else {
            room = nil
        }
        role = try? c.decodeIfPresent(String.self, forKey: .role)
        if let flag = try? c.decodeIfPresent(Bool.self, forKey: .admin) {
            admin = flag
        } else if let text = try? c.decodeIfPresent(String.self, forKey: .admin) {
            admin = text == "true"
        } else {
            admin = nil
        }
    }

    public func verify(using algorithm: some JWTAlgorithm) async throws {
        if roomClaimIsMalformed { throw JWTRejection.invalid("the room claim is not a string") }
        let now = Date()
        if let exp, now >= exp.value { throw JWTRejection.expired }
        if let nbf, now < nbf.value { throw JWTRejection.notYetValid }
    }
}

/// Why a JWT was refused (the reason goes into the 401 body; never the token).
public enum JWTRejection: Error, Equatable, Sendable, CustomStringConvertible {
    case malformed
    case algorithmNotAllowed(String)
    case expired
    case notYetValid
    case invalid(String)

    public var description: String {
        switch self {
        case .malformed: return "malformed JWT"
        case .algorithmNotAllowed(let alg): return "JWT algorithm \(alg) not accepted (HS256, HS384, HS512 only)"
        case .expired: return "JWT expired"
        case .notYetValid: return "JWT not yet valid"
        case .invalid(let why): return "invalid JWT: \(why)"
        }
    }
}

/// HS384 and HS512 are accepted only when `JWT_SECRET` is at least 48 or 64 bytes long.
///
/// JWT verification through jwt-kit with one HMAC key collection per accepted algorithm,
/// chosen by the token's `alg`. jwt-kit uses its default signer whatever `alg` says, so the
/// header is checked here first: `none`, RS*/ES*/PS*/EdDSA (a public-key algorithm with a
/// shared secret as "key" is the classic confusion attack) and anything unknown are refused.
actor JWTVerifier {
    private let secret: [UInt8]
    private var collections: [String: JWTKeyCollection] = [:]

    init(secret: [UInt8]) { self.secret = secret }

    /// Three base64url parts, the last one non-empty (an unsigned token is not one of ours).
    nonisolated static func looksLikeJWT(_ token: String) -> Bool {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 3 && parts.allSatisfy { !$0.isEmpty }
            && token.utf8.allSatisfy { b in
                (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A)
                    || b == UInt8(ascii: "-") || b == UInt8(ascii: "_") || b == UInt8(ascii: ".")
            }
    }

    private func collection(for alg: String) async -> JWTKeyCollection? {
        if let existing = collections[alg] { return existing }
        let digest: DigestAlgorithm
        let hashBytes: Int
        switch alg {
        case "HS256": (digest, hashBytes) = (.sha256, 32)
        case "HS384": (digest, hashBytes) = (.sha384, 48)
        case "HS512": (digest, hashBytes) = (.sha512, 64)
        default: return nil
        }
        // RFC 7518 §3.2: the key must be at least as long as the hash. A secret long enough
        // for HS256 only makes HS384/HS512 tokens unacceptable (jwt-kit would assert).
        guard secret.count >= hashBytes else { return nil }
        let keys = JWTKeyCollection()
        await keys.add(hmac: HMACKey(from: secret), digestAlgorithm: digest)
        collections[alg] = keys
        return keys
    }

    func verify(_ token: String) async -> Result<JWTClaims, JWTRejection> {
        guard Self.looksLikeJWT(token) else { return .failure(.malformed) }
        let alg: String
        do {
            let parsed = try DefaultJWTParser().parse(Array(token.utf8), as: JWTClaims.self)
            guard let headerAlg = parsed.header.alg else { return .failure(.malformed) }
            // RFC 7515 §4.1.11: a recipient must refuse a token whose `crit` lists an extension
            // it does not understand. livesfu understands none, so any `crit` is refused.
            if parsed.header.fields["crit"] != nil { return .failure(.invalid("crit header not supported")) }
            alg = headerAlg
        } catch {
            return .failure(.malformed)
        }
        guard let keys = await collection(for: alg) else {
            if alg == "HS384" || alg == "HS512" { return .failure(.algorithmNotAllowed("\(alg) (JWT_SECRET too short for it)")) }
            return .failure(.algorithmNotAllowed(alg))
        }
        do {
            let claims = try await keys.verify(token, as: JWTClaims.self)
            return .success(claims)
        } catch let rejection as JWTRejection {
            return .failure(rejection)
        } catch let error as JWTError {
            if error.errorType == .signatureVerificationFailed { return .failure(.invalid("bad signature")) }
            return .failure(.invalid("rejected"))
        } catch {
            return .failure(.invalid("rejected"))
        }
    }
}
