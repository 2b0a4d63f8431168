import Foundation
import Glibc
import HTTPTypes
import JWTKit
import Logging
import Reactor
import Storage
import Testing

@testable import HTTP

/// `/api/records` and `/api/records/{name}` through the real middleware (auth, routing) and
/// `RecordingRoutes`, over a fixture catalog.
@Suite("Recordings API")
struct RecordingRoutesTests {
    static let secret = String(repeating: "s", count: 32)

    final class Fixture {
        let recordings: RecordingFixture
        let hop = ManualHop()
        let application: HTTPApplication

        init(settings: AuthSettings = AuthSettings(roomTokens: ["alpha": "ta", "beta": "tb"], adminToken: "root"),
             sizes: [String: Int] = [:]) throws {
            recordings = try RecordingFixture(sizes: sizes)
            let router = Router()
            let authenticator = Authenticator(settings: settings)
            RecordingRoutes(catalog: recordings.catalog, authenticator: authenticator).register(on: router)
            application = HTTPApplication(
                router: router, cors: try CORSPolicy(allowedOrigin: "*"), rateLimiter: RateLimiter(ratePerSecond: 0, burst: 1),
                authenticator: authenticator, metrics: HTTPMetrics(),
                logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }), coreIndex: 0,
                clock: { Instant(nanoseconds: 1) }, hop: hop)
        }

        func send(_ path: String, method: HTTPRequest.Method = .get, token: String? = nil, range: String? = nil) async -> HTTPServerResponse? {
            var fields = HTTPFields()
            if let token { fields[.authorization] = "Bearer \(token)" }
            if let range { fields[.range] = range }
            var answer: HTTPServerResponse?
            let head = HTTPRequest(method: method, scheme: nil, authority: "h", path: path, headerFields: fields)
            application.handle(
                parsed: HTTPParsedRequest(head: head, body: [], minorVersion: 1, keepAlive: true),
                responder: .detached { answer = $0 }, remoteAddress: nil, receivedAt: Instant(nanoseconds: 1))
            await hop.drain()  // JWTs
            return answer
        }

        func list(_ query: String = "", token: String? = nil) async throws -> (status: Int, names: [String], json: [String: Any]) {
            let r = await send("/api/records" + query, token: token)
            guard let r, r.status == .ok else { return (r?.status.code ?? 0, [], [:]) }
            let json = try JSONSerialization.jsonObject(with: Data(r.body)) as? [String: Any] ?? [:]
            let records = json["records"] as? [[String: Any]] ?? []
            return (200, records.compactMap { $0["name"] as? String }, json)
        }
    }

    /// The bytes a file response carries (read from its file body).
    static func body(_ response: HTTPServerResponse?) -> [UInt8] {
        guard let response else { return [] }
        guard let file = response.file else { return response.body }
        var bytes = [UInt8](repeating: 0, count: file.length)
        let n = bytes.withUnsafeMutableBytes { pread(file.fd, $0.baseAddress, file.length, off_t(file.offset)) }
        return Array(bytes.prefix(max(n, 0)))
    }

    func sign(_ claims: JWTClaims) async throws -> String {
        let keys = JWTKeyCollection()
        await keys.add(hmac: HMACKey(from: Array(Self.secret.utf8)), digestAlgorithm: .sha256)
        return try await keys.sign(claims)
    }

    // MARK: - Listing

    @Test("the listing comes from the catalog, newest first, with every field; ?room= narrows it")
    func listingFields() async throws {
        let f = try Fixture()
        let all = try await f.list(token: "root")
        #expect(all.status == 200)
        #expect(all.names == [RecordingFixture.beta, RecordingFixture.openVideo, RecordingFixture.openAudio, RecordingFixture.alpha])
        #expect(all.json["truncated"] as? Bool == false)
        let records = all.json["records"] as? [[String: Any]] ?? []
        let audio = try #require(records.first { $0["name"] as? String == RecordingFixture.openAudio })
        #expect(audio["room"] as? String == "open")
        #expect(audio["track"] as? String == "mic")
        #expect(audio["kind"] as? String == "audio")
        #expect(audio["codec"] as? String == "opus")
        #expect(audio["contentType"] as? String == "audio/ogg")
        #expect(audio["state"] as? String == "finalised")
        #expect(audio["bytes"] as? Int == 1000)
        #expect(audio["frames"] as? Int == 300)
        #expect(audio["framesSkipped"] as? Int == 2)
        #expect(audio["startedAt"] as? String == "2023-11-14T22:15:00.000Z")
        #expect(audio["startedAtUnixMillis"] as? Int == 1_700_000_100_000)
        #expect(audio["firstFrameUnixMicros"] as? Int == 1_700_000_100_250_000)
        #expect(audio["durationSeconds"] as? Double == 10.04)
        #expect(audio["localFileDeleted"] as? Bool == false)
        #expect(audio["recovered"] as? Bool == false)
        #expect(audio["damage"] == nil && audio["error"] == nil && audio["objectKey"] == nil)
        let uploaded = try #require(records.first { $0["name"] as? String == RecordingFixture.openVideo })
        #expect(uploaded["state"] as? String == "uploaded")
        #expect(uploaded["objectKey"] as? String == "rec/open_cam_1700000200.h264")
        #expect(uploaded["recovered"] as? Bool == true)
        let damaged = try #require(records.first { $0["name"] as? String == RecordingFixture.beta })
        #expect(damaged["state"] as? String == "damaged" && damaged["damage"] as? String == "queue_full")

        #expect(try await f.list("?room=open", token: "root").names == [RecordingFixture.openVideo, RecordingFixture.openAudio])
        #expect(try await f.list("?x=1&room=alpha", token: "root").names == [RecordingFixture.alpha])
        #expect(try await f.list("?room=nobody", token: "root").names == [])
        #expect(try await f.list("?room=..%2Fx", token: "root").status == 400)
    }

    @Test("the recordings of a ROOM_TOKENS room are listed only to its token's holder and to an admin")
    func listingHidesGuardedRooms() async throws {
        let f = try Fixture()
        let open = [RecordingFixture.openVideo, RecordingFixture.openAudio]
        #expect(try await f.list().names == open)
        #expect(try await f.list(token: "wrong").names == open)
        #expect(try await f.list(token: "ta").names == open + [RecordingFixture.alpha])
        #expect(try await f.list(token: "tb").names == [RecordingFixture.beta] + open)
        #expect(try await f.list("?room=alpha", token: "tb").names == [])
        #expect(try await f.list(token: "root").names.count == 4)
    }

    @Test("with AUTH_TOKEN the listing needs it (or ADMIN_TOKEN), and still hides the guarded rooms from it")
    func listingWithGlobalToken() async throws {
        let f = try Fixture(settings: AuthSettings(authToken: "g", roomTokens: ["alpha": "ta"], adminToken: "root"))
        #expect(try await f.list().status == 401)
        #expect(try await f.list(token: "ta").status == 401)
        #expect(try await f.list(token: "g").names == [RecordingFixture.beta, RecordingFixture.openVideo, RecordingFixture.openAudio])
        #expect(try await f.list(token: "root").names.count == 4)
    }

    @Test("without recording the listing is empty and every name is unknown")
    func recordingDisabled() async throws {
        let router = Router()
        RecordingRoutes(catalog: nil, authenticator: Authenticator(settings: AuthSettings())).register(on: router)
        var answers: [HTTPServerResponse] = []
        for path in ["/api/records", "/api/records/" + RecordingFixture.alpha] {
            let match = router.match(method: .get, path: path)
            guard case .found(let route, let parameters) = match else {
                Issue.record("no route for \(path)")
                continue
            }
            var request = HTTPServerRequest(head: HTTPRequest(method: .get, scheme: nil, authority: "h", path: path))
            request.pathParameters = parameters
            route.handler(request, .detached { answers.append($0) })
        }
        #expect(answers.map(\.status.code) == [200, 404])
        #expect(String(decoding: answers[0].body, as: UTF8.self) == #"{"records":[],"truncated":false}"#)
    }

    // MARK: - Names

    @Test("names that could leave RECORD_DIR are refused before the file system: traversal, encoded slash, NUL, overlong")
    func nameValidation() async throws {
        let f = try Fixture()
        for path in [
            "/api/records/..", "/api/records/%2e%2e", "/api/records/..%2F..%2Fetc%2Fpasswd", "/api/records/a%2Fb.ivf",
            "/api/records/%2Fetc%2Fpasswd", "/api/records/x%00.ivf", "/api/records/.hidden.ivf", "/api/records/a..b.ivf",
            "/api/records/a%5Cb.ivf", "/api/records/" + String(repeating: "a", count: 197) + ".ivf",
            "/api/records/room_track_1.json", "/api/records/room_track_1",
        ] {
            let r = await f.send(path, token: "root")
            #expect(r?.status == .badRequest, "\(path): \(r?.status.code ?? 0)")
            #expect(r?.file == nil)
        }
        // Not routed at all (more segments), or not in the catalog.
        #expect(await f.send("/api/records/../../etc/passwd", token: "root")?.status == .notFound)
        #expect(await f.send("/api/records/nobody_cam_1.ivf", token: "root")?.status == .notFound)
        // A valid name of the right length is served (the limit is not off by one).
        #expect(RecordingName.maxLength == 200)
        #expect((try? RecordingName(validating: String(repeating: "a", count: 196) + ".ivf")) != nil)
        #expect((try? RecordingName(validating: String(repeating: "a", count: 197) + ".ivf")) == nil)
        #expect(throws: RecordingNameError.badCharacter) { try RecordingName(validating: "a/b.ivf") }
        #expect(throws: RecordingNameError.badCharacter) { try RecordingName(validating: "a\u{0}.ivf") }
        #expect(throws: RecordingNameError.badExtension) { try RecordingName(validating: "a.webm") }
        #expect(throws: RecordingNameError.empty) { try RecordingName(validating: "") }
    }

    @Test("a link planted in RECORD_DIR under a catalog name is not followed out of it")
    func symlinkNotFollowed() async throws {
        let f = try Fixture()
        let path = f.recordings.directory + "/" + RecordingFixture.alpha
        unlink(path)
        #expect(symlink("/etc/hostname", path) == 0)
        let r = await f.send("/api/records/" + RecordingFixture.alpha, token: "root")
        #expect(r?.status == .internalServerError)
        #expect(r?.file == nil)
    }

    @Test("a file deleted after upload is 410 Gone with its object key; a missing file is 404")
    func deletedAndMissing() async throws {
        let f = try Fixture()
        f.recordings.catalog.update(RecordingFixture.openVideo) { $0.localFileDeleted = true }
        let gone = await f.send("/api/records/" + RecordingFixture.openVideo)
        #expect(gone?.status == .gone)
        let reason = String(decoding: gone?.body ?? [], as: UTF8.self)
        #expect(reason.contains("rec/open_cam_1700000200.h264"))
        unlink(f.recordings.directory + "/" + RecordingFixture.openAudio)
        #expect(await f.send("/api/records/" + RecordingFixture.openAudio)?.status == .notFound)
    }

    // MARK: - Ranges

    @Test("Range: whole file, a-b, a-, -n, past the end clamped, several ranges ignored, unsatisfiable 416")
    func ranges() async throws {
        let f = try Fixture()
        let name = RecordingFixture.openAudio
        let content = f.recordings.content(of: name)
        let path = "/api/records/" + name

        let whole = try #require(await f.send(path))
        #expect(whole.status == .ok)
        #expect(whole.head.headerFields[.acceptRanges] == "bytes")
        #expect(whole.head.headerFields[.contentType] == "audio/ogg")
        #expect(whole.head.headerFields[.contentDisposition] == "attachment; filename=\"\(name)\"")
        #expect(whole.head.headerFields[.contentRange] == nil)
        #expect(whole.bodyLength == 1000)
        #expect(Self.body(whole) == content)

        for (range, offset, length) in [
            ("bytes=100-199", 100, 100), ("bytes=990-", 990, 10), ("bytes=-10", 990, 10), ("bytes=0-0", 0, 1),
            ("bytes=500-5000", 500, 500), ("bytes=-5000", 0, 1000), ("bytes=999-999", 999, 1),
            ("bytes=10-99999999999999999999999", 10, 990), (" BYTES=7-8 ", 7, 2),
        ] {
            let r = try #require(await f.send(path, range: range))
            #expect(r.status == .partialContent, "\(range)")
            #expect(r.head.headerFields[.contentRange] == "bytes \(offset)-\(offset + length - 1)/1000", "\(range)")
            #expect(r.bodyLength == length, "\(range)")
            #expect(Self.body(r) == Array(content[offset..<(offset + length)]), "\(range)")
        }
        for range in ["bytes=1000-", "bytes=1000-2000", "bytes=-0", "bytes=99999999999999999999999-"] {
            let r = try #require(await f.send(path, range: range))
            #expect(r.status == .rangeNotSatisfiable, "\(range)")
            #expect(r.head.headerFields[.contentRange] == "bytes */1000", "\(range)")
            #expect(r.file == nil)
        }
        // Ignored (RFC 9110 §14.2 allows it): several ranges, another unit, nonsense, b < a.
        for range in ["bytes=0-1,5-6", "items=0-1", "bytes=a-b", "bytes=5-1", "bytes=-", "bytes=1-2-3"] {
            let r = try #require(await f.send(path, range: range))
            #expect(r.status == .ok, "\(range)")
            #expect(r.bodyLength == 1000, "\(range)")
        }
        #expect(ByteRange.resolve("bytes=-1", size: 0) == .unsatisfiable)
        #expect(ByteRange.resolve("bytes=0-", size: 0) == .unsatisfiable)
        #expect(ByteRange.resolve(nil, size: 0) == .whole)
    }

    // MARK: - Who may download

    @Test("a download opens to the admin token and to the room's token; another room's token or none is a 401")
    func downloadTokens() async throws {
        let f = try Fixture()
        let alpha = "/api/records/" + RecordingFixture.alpha
        #expect(await f.send(alpha, token: "root")?.status == .ok)
        #expect(await f.send(alpha, token: "ta")?.status == .ok)
        let wrong = await f.send(alpha, token: "tb")
        #expect(wrong?.status == .unauthorized)
        #expect(wrong?.head.headerFields[.wwwAuthenticate] == "Bearer")
        #expect(await f.send(alpha)?.status == .unauthorized)
        // A room without a token of its own is open when nothing else is configured.
        #expect(await f.send("/api/records/" + RecordingFixture.openAudio)?.status == .ok)
        #expect(await f.send("/api/records/" + RecordingFixture.openAudio, token: "ta")?.status == .ok)
    }

    @Test("with AUTH_TOKEN and JWTs: the global token, a JWT for the room, an admin JWT; a JWT for another room is 403")
    func downloadJWT() async throws {
        let f = try Fixture(
            settings: AuthSettings(authToken: "g", roomTokens: ["alpha": "ta"], jwtSecret: Array(Self.secret.utf8), adminToken: "root"))
        let open = "/api/records/" + RecordingFixture.openAudio
        let alpha = "/api/records/" + RecordingFixture.alpha
        let exp = Date().addingTimeInterval(600)
        #expect(await f.send(open)?.status == .unauthorized)
        #expect(await f.send(open, token: "g")?.status == .ok)
        #expect(await f.send(open, token: "root")?.status == .ok)
        #expect(await f.send(open, token: try await sign(JWTClaims(exp: exp, room: "open")))?.status == .ok)
        #expect(await f.send(open, token: try await sign(JWTClaims(exp: exp, room: "other")))?.status == .forbidden)
        #expect(await f.send(open, token: try await sign(JWTClaims(exp: exp)))?.status == .ok)
        // The room with its own token: that token, the admin token or an admin JWT, nothing else.
        #expect(await f.send(alpha, token: "g")?.status == .unauthorized)
        #expect(await f.send(alpha, token: "ta")?.status == .ok)
        #expect(await f.send(alpha, token: try await sign(JWTClaims(exp: exp, room: "alpha")))?.status == .forbidden)
        #expect(await f.send(alpha, token: try await sign(JWTClaims(exp: exp, role: "admin")))?.status == .ok)
        // An unknown name is decided as a listing, then not found.
        #expect(await f.send("/api/records/nobody_cam_1.ivf", token: "g")?.status == .notFound)
        #expect(await f.send("/api/records/nobody_cam_1.ivf")?.status == .unauthorized)
    }
}
