import Foundation
import HTTPTypes
import Logging
import Reactor
import SFU
import Testing

@testable import HTTP

/// `/api/rooms` through the real `RoomRoutes` on one core, with rooms made from a real
/// browser offer: which rooms each client is shown.
@Suite("Room listing")
struct RoomListingTests {
    final class Core {
        let loop: EventLoop
        let application: HTTPApplication

        init(settings: AuthSettings, rooms: [String]) throws {
            loop = try EventLoop()
            let manager = RoomManager(
                coreIndex: 0, identity: DTLSIdentity.deferred(), configuration: RoomManagerConfiguration(),
                output: loop.makeDatagramQueue())
            let context = CoreContext(rooms: manager)
            context.cores = [loop.handle]
            loop.context = context
            let text = try String(
                contentsOfFile: LiveServer.projectRoot + "/Tests/SFUTests/SDP/Fixtures/chromium-offer.sdp", encoding: .utf8)
            for name in rooms {
                _ = try manager.publish(room: try RoomName(validating: name), offer: try SDPParser.parse(text), now: loop.now)
            }
            let authenticator = Authenticator(settings: settings)
            let router = Router()
            RoomRoutes(coreIndex: 0, iceServerLinks: [], recordings: nil, authenticator: authenticator)
                .register(on: router)
            application = HTTPApplication(
                router: router, cors: try CORSPolicy(allowedOrigin: "*"), rateLimiter: RateLimiter(ratePerSecond: 0, burst: 1),
                authenticator: authenticator, metrics: HTTPMetrics(),
                logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }), coreIndex: 0,
                clock: { Instant(nanoseconds: 1) }, hop: ManualHop())
        }

        deinit { loop.close() }

        /// The room names `GET /api/rooms` shows with `token` (nil: the status instead).
        func list(token: String?) -> (status: Int, body: String) {
            var answer: HTTPServerResponse?
            var fields = HTTPFields()
            if let token { fields[.authorization] = "Bearer \(token)" }
            let head = HTTPRequest(method: .get, scheme: nil, authority: "h", path: "/api/rooms", headerFields: fields)
            let application = self.application
            loop.executeSoon {
                application.handle(
                    parsed: HTTPParsedRequest(head: head, body: [], minorVersion: 1, keepAlive: true),
                    responder: .detached { answer = $0 }, remoteAddress: nil, receivedAt: Instant(nanoseconds: 1))
            }
            _ = loop.run(until: { answer != nil }, timeout: .seconds(5))
            return (answer?.status.code ?? 0, answer.map { String(decoding: $0.body, as: UTF8.self) } ?? "")
        }
    }

    static func names(_ body: String) -> [String] {
        ["alpha", "beta", "open"].filter { body.contains("\"name\":\"\($0)\"") }
    }

    @Test("with only ROOM_TOKENS, a guarded room is listed only to its token's holder and to an admin")
    func onlyRoomTokens() throws {
        let core = try Core(settings: AuthSettings(roomTokens: ["alpha": "ta", "beta": "tb"], adminToken: "root"), rooms: ["alpha", "beta", "open"])
        let anonymous = core.list(token: nil)
        #expect(anonymous.status == 200)
        #expect(Self.names(anonymous.body) == ["open"])
        #expect(Self.names(core.list(token: "wrong").body) == ["open"])
        #expect(Self.names(core.list(token: "ta").body) == ["alpha", "open"])
        #expect(Self.names(core.list(token: "tb").body) == ["beta", "open"])
        #expect(Self.names(core.list(token: "root").body) == ["alpha", "beta", "open"])
    }

    @Test("with AUTH_TOKEN too, the listing needs it (or ADMIN_TOKEN) and still hides the guarded rooms from it")
    func withGlobalToken() throws {
        let core = try Core(settings: AuthSettings(authToken: "g", roomTokens: ["alpha": "ta"], adminToken: "root"), rooms: ["alpha", "open"])
        #expect(core.list(token: nil).status == 401)
        #expect(core.list(token: "ta").status == 401)
        #expect(Self.names(core.list(token: "g").body) == ["open"])
        #expect(Self.names(core.list(token: "root").body) == ["alpha", "open"])
    }
}
