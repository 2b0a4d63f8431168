import FoundationEssentials
import HTTPTypes
import JWTKit
import Logging
import Reactor
import Testing

@testable import HTTP

/// A hop that runs the async work when the test asks, then delivers on the test's thread.
final class ManualHop: CoreHop {
    private var pending: [() async -> Void] = []

    func run<T: Sendable>(_ work: @escaping @Sendable () async -> T, then: @escaping (T) -> Void) {
        pending.append {
            let value = await work()
            then(value)
        }
    }

    var count: Int { pending.count }

    func drain() async {
        let jobs = pending
        pending = []
        for job in jobs { await job() }
    }
}

@Suite("HTTP application pipeline")
struct HTTPApplicationTests {
    static let secret = String(repeating: "z", count: 32)

    final class Fixture {
        let hop = ManualHop()
        let application: HTTPApplication
        var handled: [HTTPServerRequest] = []

        init(settings: AuthSettings = AuthSettings(), cors: String = "*", rps: Double = 0, logs: LogCapture? = nil) throws {
            let router = Router()
            let logger = Logger(label: "test", factory: { _ in logs.map { $0 as any LogHandler } ?? SwiftLogNoOpLogHandler() })
            let application = HTTPApplication(
                router: router, cors: try CORSPolicy(allowedOrigin: cors),
                rateLimiter: RateLimiter(ratePerSecond: rps, burst: 1), authenticator: Authenticator(settings: settings),
                metrics: HTTPMetrics(), logger: logger, coreIndex: 3,
                clock: { Instant(nanoseconds: 1) }, hop: hop)
            self.application = application
            router.add(.post, "/api/whip/publish/:room", policy: RoutePolicy(auth: .room(parameter: "room"), rateLimited: true, acceptPost: "application/sdp")) {
                [unowned self] request, responder in
                self.handled.append(request)
                responder.respond(HTTPServerResponse(status: .created))
            }
        }

        func send(_ method: HTTPRequest.Method, _ path: String, fields: HTTPFields = [:]) -> HTTPServerResponse? {
            var answer: HTTPServerResponse?
            let responder = HTTPResponder.detached { answer = $0 }
            let head = HTTPRequest(method: method, scheme: nil, authority: "h", path: path, headerFields: fields)
            application.handle(
                parsed: HTTPParsedRequest(head: head, body: [], minorVersion: 1, keepAlive: true), responder: responder,
                remoteAddress: SocketAddress(ip: "198.51.100.1", port: 5), receivedAt: Instant(nanoseconds: 1))
            return answer
        }
    }

    @Test("the handler gets decoded parameters, the identity and the core index")
    func handlerSeesRequest() throws {
        let f = try Fixture()
        #expect(f.send(.post, "/api/whip/publish/r%C3%A9union?x=1")?.status == .created)
        let request = try #require(f.handled.first)
        #expect(request.pathParameters["room"] == "réunion")
        #expect(request.query == "x=1")
        #expect(request.identity == AuthIdentity(credential: .open))
        #expect(request.coreIndex == 3)
        #expect(request.routeName == "/api/whip/publish/:room")
        #expect(f.application.metrics.count(route: "/api/whip/publish/:room", method: "POST", status: 201) == 1)
    }

    @Test("unknown methods are 501; OPTIONS without CORS lists Allow and Accept-Post")
    func methods() throws {
        let f = try Fixture()
        #expect(f.send(HTTPRequest.Method("BREW")!, "/api/whip/publish/r")?.status == .notImplemented)
        let options = try #require(f.send(.options, "/api/whip/publish/r"))
        #expect(options.status == .noContent)
        #expect(options.head.headerFields[.allow] == "POST, OPTIONS")
        #expect(options.head.headerFields[HTTPField.Name("Accept-Post")!] == "application/sdp")
        #expect(f.send(.options, "*")?.status == .noContent)
        #expect(f.send(.get, "*")?.status == .badRequest)
    }

    @Test("20 000 distinct 1-4 KB unknown methods leave the metric map at a fixed small size and /metrics under 64 KB")
    func unknownMethodsAreNotLabels() throws {
        let logs = LogCapture()
        let f = try Fixture(logs: logs)
        var longest501Body = 0
        for i in 0..<20_000 {
            // A method is any token (RFC 9110 §9.1); the parser takes up to the request line limit.
            let name = "M\(i)" + String(repeating: "X", count: 1024 + (i * 7919) % 3072)
            let method = try #require(HTTPRequest.Method(name))
            let response = try #require(f.send(method, i % 2 == 0 ? "/api/whip/publish/r" : "/nowhere/\(i)"))
            #expect(response.status == .notImplemented)
            longest501Body = max(longest501Body, response.body.count)
        }
        let metrics = f.application.metrics
        #expect(metrics.count(route: "unmatched", method: "other", status: 501) == 20_000)
        var snapshot = MetricsSnapshot()
        metrics.contribute(to: &snapshot)
        let text = snapshot.renderPrometheus()
        // One series per (route, method, status) the server itself can produce, not per request.
        let series = text.split(separator: "\n").filter { $0.hasPrefix("livesfu_http_requests_total{") }
        #expect(series.count == 1)
        #expect(text.utf8.count < 64 * 1024)
        #expect(!text.contains("XXXX"))
        // The answer and the log line name the method, cut to a short prefix.
        #expect(longest501Body < 200)
        let longestLog = logs.all.map(\.utf8.count).max() ?? 0
        #expect(longestLog < 300)
        #expect(logs.all.count == 20_000)
    }

    @Test("rate limiting happens before authentication and answers 429 with Retry-After")
    func rateLimitFirst() throws {
        let f = try Fixture(settings: AuthSettings(authToken: "t"), rps: 1)
        var fields = HTTPFields()
        fields[.authorization] = "Bearer t"
        #expect(f.send(.post, "/api/whip/publish/r", fields: fields)?.status == .created)
        let limited = try #require(f.send(.post, "/api/whip/publish/r", fields: fields))
        #expect(limited.status == .tooManyRequests)
        #expect(limited.head.headerFields[.retryAfter] == "1")
        #expect(f.send(.post, "/api/whip/publish/r")?.status == .tooManyRequests)
    }

    @Test("401 carries WWW-Authenticate: Bearer")
    func unauthorized() throws {
        let f = try Fixture(settings: AuthSettings(authToken: "t"))
        let response = try #require(f.send(.post, "/api/whip/publish/r"))
        #expect(response.status == .unauthorized)
        #expect(response.head.headerFields[.wwwAuthenticate] == "Bearer")
        #expect(f.handled.isEmpty)
    }

    @Test("another room's valid token and a wrong token get the same answer: status, headers and body")
    func noTokenOracle() throws {
        for auth in [AuthSettings(roomTokens: ["a": "ta", "b": "tb"]), AuthSettings(authToken: "g", roomTokens: ["a": "ta", "b": "tb"])] {
            let f = try Fixture(settings: auth)
            func answer(_ token: String?) throws -> HTTPServerResponse {
                var fields = HTTPFields()
                if let token { fields[.authorization] = "Bearer \(token)" }
                return try #require(f.send(.post, "/api/whip/publish/a", fields: fields))
            }
            let otherRoom = try answer("tb")
            let wrong = try answer("nope")
            #expect(otherRoom.status == .unauthorized)
            #expect(otherRoom == wrong)
            if auth.authToken != nil {
                // Whether a room has a token of its own is not told either.
                #expect(try answer(nil) == (try #require(f.send(.post, "/api/whip/publish/c"))))
            }
            #expect(f.handled.isEmpty)
        }
    }

    @Test("a JWT is verified off the loop and the request continues when the result comes back")
    func jwtHop() async throws {
        let f = try Fixture(settings: AuthSettings(jwtSecret: Array(Self.secret.utf8)))
        let keys = JWTKeyCollection()
        await keys.add(hmac: HMACKey(from: Array(Self.secret.utf8)), digestAlgorithm: .sha256)
        var fields = HTTPFields()
        fields[.authorization] = "Bearer " + (try await keys.sign(JWTClaims(sub: "alice", room: "r")))
        fields[.origin] = "https://page.example"
        var answer: HTTPServerResponse?
        let responder = HTTPResponder.detached { answer = $0 }
        let head = HTTPRequest(method: .post, scheme: nil, authority: "h", path: "/api/whip/publish/r", headerFields: fields)
        f.application.handle(
            parsed: HTTPParsedRequest(head: head, body: [], minorVersion: 1, keepAlive: true), responder: responder,
            remoteAddress: nil, receivedAt: Instant(nanoseconds: 1))
        #expect(answer == nil)
        #expect(f.hop.count == 1)
        await f.hop.drain()
        #expect(answer?.status == .created)
        #expect(answer?.head.headerFields[.accessControlAllowOrigin] == "*")
        #expect(f.handled.first?.identity?.subject == "alice")
    }

    @Test("a JWT answer arriving after the client left does not run the handler")
    func jwtAfterDisconnect() async throws {
        let f = try Fixture(settings: AuthSettings(jwtSecret: Array(Self.secret.utf8)))
        let keys = JWTKeyCollection()
        await keys.add(hmac: HMACKey(from: Array(Self.secret.utf8)), digestAlgorithm: .sha256)
        let harness = ConnectionHarness(autoHandle: false)
        harness.connection.requestHandler = { f.application.handle($0, remoteAddress: nil) }
        let token = try await keys.sign(JWTClaims(room: "r"))
        harness.send("POST /api/whip/publish/r HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer \(token)\r\nContent-Length: 0\r\n\r\n")
        #expect(f.hop.count == 1)
        harness.connection.transportClosed()
        await f.hop.drain()
        #expect(f.handled.isEmpty)
    }
}

extension HTTPServerResponse: Equatable {
    public static func == (a: HTTPServerResponse, b: HTTPServerResponse) -> Bool { a.head == b.head && a.body == b.body }
}
