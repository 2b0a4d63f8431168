import Foundation
import HTTPTypes
import Logging
import Reactor
import SFU
import Testing

@testable import HTTP

/// Graceful shutdown as a client and a load balancer see it: once the first stop signal is
/// counted, `/healthz` answers 503 and new WHIP/WHEP offers get 503 + `Retry-After`.
@Suite("Drain on shutdown (HTTP)")
struct DrainTests {
    final class Core {
        let loop: EventLoop
        let manager: RoomManager
        let application: HTTPApplication
        let drain = DrainState(retryAfterSeconds: 7)

        init() throws {
            loop = try EventLoop()
            manager = RoomManager(
                coreIndex: 0, identity: DTLSIdentity.deferred(), configuration: RoomManagerConfiguration(),
                output: loop.makeDatagramQueue())
            let context = CoreContext(rooms: manager)
            context.cores = [loop.handle]
            loop.context = context
            let authenticator = Authenticator(settings: AuthSettings())
            let router = Router()
            StandardRoutes.register(on: router, staticFiles: StaticFiles(root: "/nonexistent"), gatherMetrics: { _ in }, drain: drain)
            RoomRoutes(coreIndex: 0, iceServerLinks: [], recordings: nil, authenticator: authenticator, drain: drain)
                .register(on: router)
            application = HTTPApplication(
                router: router, cors: try CORSPolicy(allowedOrigin: "*"), rateLimiter: RateLimiter(ratePerSecond: 0, burst: 1),
                authenticator: authenticator, metrics: HTTPMetrics(),
                logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }), coreIndex: 0,
                clock: { Instant(nanoseconds: 1) }, hop: ManualHop())
        }

        deinit { loop.close() }

        func send(_ method: HTTPRequest.Method, _ path: String, body: [UInt8] = [], contentType: String? = nil) -> HTTPServerResponse? {
            var answer: HTTPServerResponse?
            var fields = HTTPFields()
            if let contentType { fields[.contentType] = contentType }
            let head = HTTPRequest(method: method, scheme: nil, authority: "h", path: path, headerFields: fields)
            let application = self.application
            loop.executeSoon {
                application.handle(
                    parsed: HTTPParsedRequest(head: head, body: body, minorVersion: 1, keepAlive: true),
                    responder: .detached { answer = $0 }, remoteAddress: nil, receivedAt: Instant(nanoseconds: 1))
            }
            _ = loop.run(until: { answer != nil }, timeout: .seconds(5))
            return answer
        }
    }

    static func offer() throws -> [UInt8] {
        Array(
            try String(contentsOfFile: LiveServer.projectRoot + "/Tests/SFUTests/SDP/Fixtures/chromium-offer.sdp", encoding: .utf8)
                .utf8)
    }

    @Test("the first stop signal drains, a second one asks to exit at once")
    func signals() {
        let drain = DrainState()
        #expect(!drain.isDraining)
        #expect(drain.signalReceived() == .drain)
        #expect(drain.isDraining)
        #expect(drain.signalReceived() == .exitNow)
        #expect(drain.signalReceived() == .exitNow)
    }

    @Test("while draining, /healthz answers 503 and offers get 503 + Retry-After without a session")
    func refusesWhileDraining() throws {
        let core = try Core()
        #expect(core.send(.get, "/healthz")?.status == .ok)
        let offer = try Self.offer()
        #expect(core.send(.post, "/api/whip/publish/before", body: offer, contentType: "application/sdp")?.status == .created)
        #expect(core.manager.sessionCount == 1)

        #expect(core.drain.signalReceived() == .drain)
        let health = try #require(core.send(.get, "/healthz"))
        #expect(health.status == .serviceUnavailable)
        for path in ["/api/whip/publish/after", "/api/whep/play/before"] {
            let refused = try #require(core.send(.post, path, body: offer, contentType: "application/sdp"))
            #expect(refused.status == .serviceUnavailable)
            #expect(refused.head.headerFields[.retryAfter] == "7")
            #expect(String(decoding: refused.body, as: UTF8.self).contains("shutting down"))
        }
        #expect(core.manager.sessionCount == 1)
    }
}
