import COpenSSL
import Dispatch
import Glibc
import HTTPTypes

@testable import HTTP

/// The HTTP layer's client-facing decisions: routing with percent-decoding, the static-file
/// path checks behind `/web/`, and bearer-token / JWT authentication.
enum HTTPTargets {
    /// A folder with a page, a subfolder, a hidden file, and a symlink that leads outside.
    nonisolated(unsafe) static var webRoot = ""
    nonisolated(unsafe) static var router: Router?

    static func setUpRouter() -> Router {
        if let router { return router }
        var template = Array("/tmp/livesfu-fuzz-web-XXXXXX".utf8CString)
        guard let dir = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            fatalError("harness: mkdtemp failed")
        }
        webRoot = String(cString: dir) + "/web"
        mkdir(webRoot, 0o755)
        mkdir(webRoot + "/js", 0o755)
        for (path, text) in [("index.html", "<p>index</p>"), ("js/app.js", "1"), (".secret", "no"), ("../outside.txt", "no")] {
            let fd = open(webRoot + "/" + path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            _ = text.withCString { write(fd, $0, strlen($0)) }
            close(fd)
        }
        symlink("/etc", webRoot + "/escape")
        symlink("../outside.txt", webRoot + "/js/out.txt")
        let r = Router()
        StandardRoutes.register(on: r, staticFiles: StaticFiles(root: webRoot), gatherMetrics: { _ in })
        // The room API's patterns (RoomRoutes; their handlers need a server).
        for (method, pattern) in [
            (HTTPRequest.Method.post, "/api/whip/publish/:room"), (.post, "/api/whep/play/:room"),
            (.delete, "/api/session/:room/:id"), (.patch, "/api/session/:room/:id"), (.get, "/api/rooms"),
            (.get, "/api/records"), (.post, "/api/admin/rooms/:room/close"),
        ] {
            r.add(method, pattern) { _, _ in }
        }
        router = r
        return r
    }

    static let methods: [HTTPRequest.Method] = [.get, .head, .post, .delete, .patch, .options, .put]

    static func routerAndStatic(_ input: UnsafeRawBufferPointer) {
        let router = setUpRouter()
        var cursor = FuzzInput(input)
        let method = methods[Int(cursor.byte()) % methods.count]
        let path = String(decoding: cursor.rest(), as: UTF8.self)
        // Percent-decoding: identity without '%', never longer, and re-encoding round-trips.
        let sub = Substring(path)
        if let decoded = PercentDecoding.decode(sub) {
            check(decoded.utf8.count <= path.utf8.count, "decoded longer than encoded")
            if !path.contains("%") { check(decoded == path, "decoding changed a path without escapes") }
            var encoded = ""
            for b in decoded.utf8 { encoded += "%" + String(b, radix: 16, uppercase: true).leftPadded() }
            check(PercentDecoding.decode(Substring(encoded)) == decoded, "percent round trip differs")
        }
        switch router.match(method: method, path: path) {
        case .found(let route, let parameters):
            let expected = Router.compile(route.pattern).filter { segment in
                if case .literal = segment { return false }
                return true
            }.count
            check(parameters.count == expected, "\(route.pattern): \(parameters.count) parameters")
            check(route.method == method || (method == .head && route.method == .get), "route of another method")
            if route.pattern == "/web/*path" { staticPath(parameters["path"] ?? "") }
        case .methodNotAllowed(let allow, _):
            // OPTIONS is always listed: HTTPApplication answers it (204 or a CORS preflight)
            // from this outcome.
            check(method == .options || !allow.contains(method), "405 for an allowed method")
            check(allow.contains(.options), "Allow without OPTIONS")
        case .notFound:
            break
        }
        // The static handler gets any decoded path, whatever the router did with it.
        if let decoded = PercentDecoding.decode(sub) { staticPath(decoded) }
    }

    /// Static files: a sanitized path has only ordinary segments, and what is served lies
    /// inside the root (symlinks resolved).
    static func staticPath(_ relative: String) {
        if let safe = StaticFiles.sanitize(relative) {
            check(!safe.hasPrefix("/") && !safe.utf8.contains(0) && !safe.contains("\\"), "sanitized: \(safe)")
            // "" is the root itself (served as its index.html); otherwise no empty segment.
            for segment in safe.split(separator: "/", omittingEmptySubsequences: false) where !safe.isEmpty {
                check(!segment.isEmpty && !segment.hasPrefix("."), "sanitized segment '\(segment)'")
            }
        }
        let response = StaticFiles(root: webRoot).response(relativePath: relative)
        if response.status == .ok {
            let safe = StaticFiles.sanitize(relative)
            check(safe != nil, "served an unsanitizable path")
            let real = StaticFiles.realPath(webRoot + "/" + (safe ?? ""))
            let root = StaticFiles.realPath(webRoot) ?? webRoot
            check(real == root || real?.hasPrefix(root + "/") == true, "served \(real ?? "?") outside \(root)")
            check(response.body == Array("<p>index</p>".utf8) || response.body == Array("1".utf8), "served content")
        }
    }

    static let secret = Array("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef".utf8)
    static let authenticator = Authenticator(
        settings: AuthSettings(
            authToken: "global-token", roomTokens: ["guarded": "room-token"], jwtSecret: secret,
            adminToken: "admin-token", metricsToken: "metrics-token"))
    static let requirements: [AuthRequirement] = [
        .none, .global, .room(parameter: "room"), .admin, .metrics, .roomResource(parameter: "name"),
    ]

    /// Tokens: the raw input as a bearer token, or a JWT whose header and payload JSON are the
    /// input's (split at the first NUL), signed with the configured secret so verification
    /// reaches the claims.
    static func jwt(_ input: UnsafeRawBufferPointer) {
        var cursor = FuzzInput(input)
        let mode = cursor.byte()
        let requirement = requirements[(Int(mode & 3) | (mode & 0x80 != 0 ? 4 : 0)) % requirements.count]
        let room = mode & 4 != 0 ? "guarded" : "open"
        let body = Array(cursor.rest())
        let token: String
        if mode & 8 != 0 {
            let cut = body.firstIndex(of: 0) ?? body.count
            let header = base64url(body[..<cut])
            let payload = base64url(body[min(cut + 1, body.count)...])
            let signingInput = header + "." + payload
            let digest: OpaquePointer? = [EVP_sha256(), EVP_sha384(), EVP_sha512()][Int(mode >> 4) % 3]
            var mac = [UInt8](repeating: 0, count: 64)
            var macLength: UInt32 = 0
            let data = Array(signingInput.utf8)
            _ = secret.withUnsafeBytes { key in
                data.withUnsafeBufferPointer { data in
                    HMAC(digest, key.baseAddress, Int32(key.count), data.baseAddress, data.count, &mac, &macLength)
                }
            }
            token = signingInput + "." + base64url(mac[0..<Int(macLength)])
        } else {
            token = String(decoding: body, as: UTF8.self)
        }
        var fields = HTTPFields()
        if mode & 0x40 != 0 {
            fields[HTTPField.Name("X-Auth-Token")!] = token
        } else {
            fields[.authorization] = "Bearer " + token
        }
        let request = fields
        let result = blocking { await authenticator.authenticate(requirement, room: room, fields: request) }
        guard case .allowed(let identity) = result else { return }
        let bearer = Authenticator.token(from: fields)
        switch requirement {
        case .none:
            break
        case .global:
            // Listings accept the admin token too (an admin sees every room).
            check(
                identity.credential == .globalToken || identity.credential == .jwt
                    || (identity.credential == .adminToken && bearer == "admin-token"), "global: \(identity)")
        case .room:
            if room == "guarded" {
                check(identity.credential == .roomToken && bearer == "room-token", "guarded room opened: \(identity)")
            } else {
                check(identity.credential == .globalToken || identity.credential == .jwt, "room: \(identity)")
            }
            if identity.credential == .jwt, let claimed = identity.room {
                check(claimed == room || identity.isAdmin, "a token for room \(claimed) opened \(room)")
            }
        case .roomResource:
            // A recording: as its room, and the admin token or an admin JWT.
            if room == "guarded" {
                check(
                    identity.isAdmin || (identity.credential == .roomToken && bearer == "room-token"),
                    "guarded room's recording opened: \(identity)")
            } else {
                check(
                    identity.isAdmin || identity.credential == .globalToken || identity.credential == .jwt,
                    "recording: \(identity)")
            }
            if identity.credential == .jwt, !identity.isAdmin, let claimed = identity.room {
                check(claimed == room, "a token for room \(claimed) opened a recording of \(room)")
            }
        case .admin:
            check(identity.isAdmin, "admin endpoint for a non-admin identity: \(identity)")
        case .metrics:
            check(identity.isAdmin || identity.credential == .metricsToken, "metrics for \(identity)")
        case .cluster:
            check(identity.credential == .clusterToken, "a node's endpoint for \(identity)")
        }
        if identity.credential == .jwt { check(mode & 8 != 0, "an unsigned token verified") }
    }

    static func base64url(_ bytes: some Collection<UInt8>) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
        let b = Array(bytes)
        var out: [UInt8] = []
        var i = 0
        while i < b.count {
            let n = min(3, b.count - i)
            var v = UInt32(b[i]) << 16
            if n > 1 { v |= UInt32(b[i + 1]) << 8 }
            if n > 2 { v |= UInt32(b[i + 2]) }
            for k in 0..<(n + 1) { out.append(alphabet[Int((v >> (18 - 6 * UInt32(k))) & 63)]) }
            i += 3
        }
        return String(decoding: out, as: UTF8.self)
    }

    final class Box<T>: @unchecked Sendable {  // written by the task before the semaphore is signalled
        var value: T?
    }

    /// Runs an async call to completion from libFuzzer's synchronous callback.
    static func blocking<T: Sendable>(_ body: @escaping @Sendable () async -> T) -> T {
        let box = Box<T>()
        let done = DispatchSemaphore(value: 0)
        Task.detached {
            box.value = await body()
            done.signal()
        }
        done.wait()
        return box.value!
    }
}

extension String {
    fileprivate func leftPadded() -> String { count == 1 ? "0" + self : self }
}
