import HTTPTypes
import Reactor
import SFU
import Testing

@testable import HTTP

/// `MAX_CORE_LOAD` as the HTTP layer sees it: configuration, the 503 a client gets and the
/// figures `/metrics` shows. The load is injected; nothing here depends on the machine's.
@Suite("Admission control: configuration, response and metrics")
struct AdmissionControlHTTPTests {
    @Test("MAX_CORE_LOAD defaults to 0.95, takes a fraction from 0 (off) to 1, and refuses anything else")
    func configuration() throws {
        #expect(try Configuration.load(environment: [:]).maxCoreLoad == 0.95)
        #expect(try Configuration.load(environment: ["MAX_CORE_LOAD": "0"]).maxCoreLoad == 0)
        #expect(try Configuration.load(environment: ["MAX_CORE_LOAD": "0.8"]).maxCoreLoad == 0.8)
        #expect(try Configuration.load(environment: ["MAX_CORE_LOAD": "1"]).maxCoreLoad == 1)
        #expect(try Configuration.load(environment: [:], flags: ["MAX_CORE_LOAD": "0.5"]).maxCoreLoad == 0.5)
        for bad in ["1.5", "-0.1", "busy", "95%", "nan", "inf"] {
            #expect(throws: ConfigurationError.self, "\(bad)") {
                try Configuration.load(environment: ["MAX_CORE_LOAD": bad])
            }
        }
        do {
            _ = try Configuration.load(environment: ["MAX_CORE_LOAD": "95"])
            Issue.record("95 accepted")
        } catch {
            #expect(error.description.hasPrefix("MAX_CORE_LOAD:"))
        }
        #expect(Configuration.options.contains { $0.env == "MAX_CORE_LOAD" && $0.flag == "max-core-load" })
    }

    @Test("a busy core's refusal is a 503 with Retry-After and a one-line text reason; other errors get no Retry-After")
    func response() {
        let busy = RoomRoutes.response(for: .coreBusy(load: 0.97, limit: 0.95, retryAfter: 2))
        #expect(busy.status.code == 503)
        #expect(busy.head.headerFields[.retryAfter] == "2")
        #expect(busy.head.headerFields[.contentType] == "text/plain; charset=utf-8")
        let text = String(decoding: busy.body, as: UTF8.self)
        #expect(text == "server core is busy (load 97 % > 95 %); retry in 2 s or use another server\n")
        let close = RoomError.coreBusy(load: 0.9531, limit: 0.95, retryAfter: 2).description
        #expect(close.hasPrefix("server core is busy (load 95.3 % > 95 %)"))

        let full = RoomRoutes.response(for: .roomFull(limit: 10))
        #expect(full.status.code == 503)
        #expect(full.head.headerFields[.retryAfter] == nil)
        #expect(RoomRoutes.response(for: .publisherExists).status.code == 409)
    }

    @Test("MAX_PENDING_SESSIONS_PER_IP defaults to 50, 0 turns it off, a flag sets it, and it must be a whole number")
    func pendingPerIPConfiguration() throws {
        #expect(try Configuration.load(environment: [:]).maxPendingSessionsPerIP == 50)
        #expect(try Configuration.load(environment: ["MAX_PENDING_SESSIONS_PER_IP": "0"]).maxPendingSessionsPerIP == 0)
        #expect(try Configuration.load(environment: [:], flags: ["MAX_PENDING_SESSIONS_PER_IP": "7"]).maxPendingSessionsPerIP == 7)
        for bad in ["-1", "many", "2.5"] {
            #expect(throws: ConfigurationError.self, "\(bad)") {
                try Configuration.load(environment: ["MAX_PENDING_SESSIONS_PER_IP": bad])
            }
        }
        #expect(Configuration.options.contains { $0.env == "MAX_PENDING_SESSIONS_PER_IP" && $0.flag == "max-pending-sessions-per-ip" })
    }

    @Test("a client IP over its cap of sessions in set-up gets 429 with Retry-After and a one-line reason")
    func pendingPerIPResponse() {
        let refused = RoomRoutes.response(for: .tooManyPendingSessions(limit: 50, retryAfter: 2))
        #expect(refused.status.code == 429)
        #expect(refused.head.headerFields[.retryAfter] == "2")
        let text = String(decoding: refused.body, as: UTF8.self)
        #expect(text == "too many sessions being set up from your address (50); connect them or retry in 2 s\n")
    }

    @Test("/metrics counts refusals by reason and shows each core's smoothed load")
    func metrics() throws {
        let loop = try EventLoop()
        defer { loop.close() }
        var rooms = RoomManagerConfiguration()
        rooms.maxCoreLoad = 0.9
        let manager = RoomManager(
            coreIndex: 0, identity: DTLSIdentity.deferred(), configuration: rooms,
            output: loop.makeDatagramQueue())
        manager.coreLoad = { 0.99 }
        loop.context = CoreContext(rooms: manager)
        let offer = try SDPParser.parse("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n")
        let room = try RoomName(validating: "live")
        for _ in 0..<3 {
            #expect(throws: RoomError.self) { try manager.play(room: room, offer: offer, now: loop.now) }
        }
        let s = CoreMetrics.snapshot(of: loop)
        #expect(s.value("livesfu_sessions_refused_total", labels: [("reason", "core_busy")]) == 3)
        #expect(s.value("livesfu_sessions_refused_total", labels: [("reason", "room_full")]) == 0)
        #expect(s.value("livesfu_sessions_refused_total", labels: [("reason", "pending_per_ip")]) == 0)
        #expect(s.value("livesfu_ice_address_changes_total", labels: [("result", "moved")]) == 0)
        #expect(s.value("livesfu_tcp_connections_aborted_total", labels: [("core", "0"), ("reason", "write_stalled")]) == 0)
        let load = try #require(s.value("livesfu_core_load_ratio", labels: [("core", "0")]))
        #expect(load >= 0 && load <= 1)
        #expect(s.renderPrometheus().contains("# TYPE livesfu_core_load_ratio gauge"))
    }
}
