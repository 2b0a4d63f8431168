import Foundation
import Glibc
import JWTKit
import Testing

@testable import HTTP
import SFU

/// The server on real sockets with curl and raw clients (issue 3's "tests against the
/// running server").
@Suite("Live HTTP server", .serialized)
struct LiveServerTests {
    @Test("GET /healthz answers ok; HEAD has headers only; / redirects to /web/")
    func health() throws {
        let server = try LiveServer()
        let r = try server.request([server.base + "/healthz"])
        #expect(r.code == 200)
        #expect(r.text.hasSuffix("\r\n\r\nok\n"))
        #expect(r.text.contains("Date: "))
        let head = try server.request(["-I", server.base + "/healthz"])
        #expect(head.code == 200 && head.text.contains("Content-Length: 3"))
        let root = try server.request([server.base + "/"])
        #expect(root.code == 302 && root.text.contains("Location: /web/"))
        let page = try server.request([server.base + "/web/"])
        #expect(page.code == 200 && page.text.contains("Content-Type: text/html; charset=utf-8"))
        #expect(try server.request(["--path-as-is", server.base + "/web/../Package.swift"]).code == 404)
        #expect(try server.request(["--path-as-is", server.base + "/web/%2e%2e/Package.swift"]).code == 404)
        #expect(try server.request([server.base + "/nope"]).code == 404)
        let wrong = try server.request(["-X", "DELETE", server.base + "/healthz"])
        #expect(wrong.code == 405 && wrong.text.contains("Allow: GET, HEAD, OPTIONS"))
    }

    @Test("curl reuses one keep-alive connection for several requests")
    func keepAlive() throws {
        let server = try LiveServer()
        let r = try LiveServer.curl(["-v", server.base + "/healthz", server.base + "/healthz", server.base + "/healthz"])
        #expect(r.out == "ok\nok\nok\n")
        #expect(r.err.contains("Re-using existing connection"))
        #expect(r.err.components(separatedBy: "Connected to").count == 2)
    }

    @Test("pipelined requests in one packet are answered in order on one connection")
    func pipelining() throws {
        let server = try LiveServer(cores: 2)
        let client = try RawClient(port: server.port)
        defer { client.close() }
        // The second request hops to another core and back after 100 ms; the third is answered
        // at once, but must still come out third.
        client.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /api/hop/1/100 HTTP/1.1\r\nHost: x\r\n\r\nGET /web/style.css HTTP/1.1\r\nHost: x\r\n\r\n")
        let responses = client.readResponses(3)
        try #require(responses.count == 3)
        #expect(responses[0].hasSuffix("ok\n"))
        #expect(responses[1].contains("answered by core 1"))
        #expect(responses[2].contains("Content-Type: text/css"))
    }

    @Test("each limit answers its status: 414, 431, 413 (1 GB, from the header), 400, 501, 505")
    func limits() throws {
        let server = try LiveServer()
        func statusLine(_ request: String) throws -> (String, Bool) {
            let client = try RawClient(port: server.port)
            defer { client.close() }
            client.send(request)
            let (text, closed) = client.readToEnd()
            return (text.components(separatedBy: "\r\n").first ?? "", closed)
        }
        let long = String(repeating: "a", count: 9000)
        #expect(try statusLine("GET /\(long) HTTP/1.1\r\nHost: x\r\n\r\n") == ("HTTP/1.1 414 URI Too Long", true))
        let big = String(repeating: "b", count: 17000)
        #expect(try statusLine("GET / HTTP/1.1\r\nHost: x\r\nX-Big: \(big)\r\n\r\n") == ("HTTP/1.1 431 Request Header Fields Too Large", true))
        #expect(try statusLine("POST /api/whip/publish/r HTTP/1.1\r\nHost: x\r\nContent-Length: 1073741824\r\n\r\n") == ("HTTP/1.1 413 Content Too Large", true))
        #expect(try statusLine("GET / HTTP/1.1\nHost: x\n\n") == ("HTTP/1.1 400 Bad Request", true))
        #expect(try statusLine("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n") == ("HTTP/1.1 501 Not Implemented", true))
        #expect(try statusLine("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n") == ("HTTP/1.1 400 Bad Request", true))
        #expect(try statusLine("GET / HTTP/2.0\r\nHost: x\r\n\r\n") == ("HTTP/1.1 505 HTTP Version Not Supported", true))
        // And a body over the limit through curl (64 KB + 1).
        let body = String(repeating: "v", count: 65537)
        #expect(try server.request(["-H", "Content-Type: application/sdp", "--data-binary", body, server.base + "/api/whip/publish/r"]).code == 413)
        // Garbage bytes: a 400 and a close, and the server keeps serving.
        var rng = SplitMixRandom(seed: 7)
        let client = try RawClient(port: server.port)
        client.send((0..<4096).map { _ in UInt8(truncatingIfNeeded: rng.next()) })
        let garbage = client.readToEnd()
        client.close()
        #expect(garbage.closed)
        #expect(garbage.text.hasPrefix("HTTP/1.1 400 Bad Request"))
        #expect(try server.request([server.base + "/healthz"]).code == 200)
    }

    @Test("a slow header is cut off with 408; a silent connection is closed without a word")
    func slowHeader() throws {
        let server = try LiveServer(environment: ["HTTP_HEADER_TIMEOUT_SECONDS": "1"])
        let slow = try RawClient(port: server.port)
        defer { slow.close() }
        slow.send("GET /healthz HTTP/1.1\r\nHo")
        let start = Date()
        let (text, closed) = slow.readToEnd()
        #expect(text.hasPrefix("HTTP/1.1 408 Request Timeout"))
        #expect(closed)
        #expect(Date().timeIntervalSince(start) < 3)
        let silent = try RawClient(port: server.port)
        defer { silent.close() }
        let quiet = silent.readToEnd()
        #expect(quiet.text == "" && quiet.closed)
    }

    @Test("CORS: a preflight from an allowed origin gets 204 with the WHIP headers; another origin gets 403")
    func cors() throws {
        let server = try LiveServer(environment: ["ALLOWED_ORIGIN": "https://app.example"])
        let allowed = try server.request([
            "-X", "OPTIONS", "-H", "Origin: https://app.example", "-H", "Access-Control-Request-Method: POST",
            "-H", "Access-Control-Request-Headers: authorization, content-type", server.base + "/api/whip/publish/room1",
        ])
        #expect(allowed.code == 204)
        #expect(allowed.text.contains("Access-Control-Allow-Origin: https://app.example"))
        #expect(allowed.text.contains("Access-Control-Allow-Headers: Authorization, Content-Type, If-Match, X-Auth-Token"))
        #expect(allowed.text.contains("Accept-Post: application/sdp"))
        #expect(!allowed.text.contains("Allow-Credentials"))
        let refused = try server.request([
            "-X", "OPTIONS", "-H", "Origin: https://evil.example", "-H", "Access-Control-Request-Method: POST",
            server.base + "/api/whip/publish/room1",
        ])
        #expect(refused.code == 403)
        #expect(!refused.text.contains("Access-Control-Allow-Origin"))
        let post = try server.request(["-H", "Origin: https://app.example", "-H", "Content-Type: application/sdp", "--data-binary", "v=0", server.base + "/api/whip/publish/room1"])
        #expect(post.code == 201)
        #expect(post.text.contains("Access-Control-Expose-Headers: Location, ETag, Link, Accept-Patch"))
        #expect(post.text.contains("Location: /api/session/room1/1"))
    }

    @Test("the rate limit answers 429 with Retry-After, then lets the client in again")
    func rateLimit() throws {
        let server = try LiveServer(environment: ["RATE_LIMIT_RPS": "2", "RATE_LIMIT_BURST": "2"])
        let url = server.base + "/api/rooms"
        let r = try LiveServer.curl(["-o", "/dev/null", "-o", "/dev/null", "-o", "/dev/null", "-w", "%{http_code} ", url, url, url])
        #expect(r.out == "200 200 429 ")
        let limited = try server.request([url])
        #expect(limited.code == 429 && limited.text.contains("Retry-After: 1"))
        #expect(try server.request([server.base + "/healthz"]).code == 200)  // not rate-limited
        usleep(1_100_000)
        #expect(try server.request([url]).code == 200)
    }

    @Test("room tokens, the global token and the admin token, from Bearer and X-Auth-Token")
    func staticTokens() throws {
        let server = try LiveServer(environment: ["ROOM_TOKENS": "a:ta;b:tb", "AUTH_TOKEN": "global", "ADMIN_TOKEN": "root"])
        func publish(_ room: String, _ header: [String]) throws -> Int {
            try server.request(header + ["--data-binary", "v=0", server.base + "/api/whip/publish/\(room)"]).code
        }
        #expect(try publish("a", ["-H", "Authorization: Bearer ta"]) == 201)
        #expect(try publish("a", ["-H", "X-Auth-Token: ta"]) == 201)
        #expect(try publish("a", ["-H", "Authorization: Bearer tb"]) == 401)
        #expect(try publish("a", ["-H", "Authorization: Bearer global"]) == 401)
        #expect(try publish("a", []) == 401)
        #expect(try publish("c", ["-H", "Authorization: Bearer global"]) == 201)
        #expect(try publish("c", ["-H", "Authorization: Bearer nope"]) == 401)
        let admin = server.base + "/api/admin/rooms/a/close"
        #expect(try server.request(["-X", "POST", "-H", "Authorization: Bearer root", admin]).code == 204)
        #expect(try server.request(["-X", "POST", "-H", "Authorization: Bearer global", admin]).code == 401)
        // Tokens never reach the log.
        #expect(!server.logs.all.joined().contains("ta") || !server.logs.all.joined().contains("Bearer"))
        #expect(server.logs.all.contains { $0.contains("POST /api/whip/publish/a 201") && $0.contains("core=0") })
        #expect(!server.logs.all.contains { $0.contains("root") || $0.contains("global") })
    }

    @Test("admin endpoints are closed when neither ADMIN_TOKEN nor JWT_SECRET is set")
    func adminClosed() throws {
        let server = try LiveServer(environment: ["AUTH_TOKEN": "global"])
        #expect(try server.request(["-X", "POST", "-H", "Authorization: Bearer global", server.base + "/api/admin/rooms/a/close"]).code == 403)
    }

    @Test("JWT: valid, expired, wrong room, wrong alg, alg none, admin")
    func jwt() async throws {
        let secret = String(repeating: "k", count: 64)
        let server = try LiveServer(environment: ["JWT_SECRET": secret], cores: 2)
        let keys = JWTKeyCollection()
        await keys.add(hmac: HMACKey(from: Array(secret.utf8)), digestAlgorithm: .sha256)
        func publish(_ token: String, room: String = "a") throws -> Int {
            try server.request(["-H", "Authorization: Bearer \(token)", "--data-binary", "v=0", server.base + "/api/whip/publish/\(room)"]).code
        }
        let valid = try await keys.sign(JWTClaims(exp: Date().addingTimeInterval(300), room: "a"))
        #expect(try publish(valid) == 201)
        #expect(try publish(valid, room: "b") == 403)
        let expired = try await keys.sign(JWTClaims(exp: Date().addingTimeInterval(-5), room: "a"))
        #expect(try publish(expired) == 401)
        let parts = valid.split(separator: ".")
        let rs256 = AuthenticatorTests.base64URL(#"{"alg":"RS256","typ":"JWT"}"#) + "." + parts[1] + "." + parts[2]
        #expect(try publish(rs256) == 401)
        let none = AuthenticatorTests.base64URL(#"{"alg":"none","typ":"JWT"}"#) + "." + parts[1] + "."
        #expect(try publish(none) == 401)
        #expect(try publish("") == 401)
        let admin = try await keys.sign(JWTClaims(role: "admin"))
        #expect(try server.request(["-X", "POST", "-H", "Authorization: Bearer \(admin)", server.base + "/api/admin/rooms/a/close"]).code == 204)
        #expect(try server.request(["-X", "POST", "-H", "Authorization: Bearer \(valid)", server.base + "/api/admin/rooms/a/close"]).code == 403)
    }

    @Test("a client that leaves before a cross-core answer leaves nothing behind")
    func clientLeaves() throws {
        let server = try LiveServer(cores: 2)
        for _ in 0..<20 {
            let client = try RawClient(port: server.port)
            client.send("GET /api/hop/1/200 HTTP/1.1\r\nHost: x\r\n\r\n")
            client.close()
        }
        usleep(400_000)
        let r = try server.request([server.base + "/api/hop/1/0"])
        #expect(r.code == 200 && r.text.contains("answered by core 1"))
        let metrics = try server.request([server.base + "/metrics"])
        #expect(metrics.text.contains("livesfu_http_connections_open 1"))
    }

    @Test("METRICS_TOKEN guards /metrics (Bearer or X-Auth-Token); without it /metrics stays open")
    func metricsToken() throws {
        let server = try LiveServer(environment: ["METRICS_TOKEN": "m", "AUTH_TOKEN": "global"])
        let url = server.base + "/metrics"
        #expect(try server.request([url]).code == 401)
        #expect(try server.request(["-H", "Authorization: Bearer global", url]).code == 401)
        #expect(try server.request(["-H", "Authorization: Bearer m", url]).code == 200)
        #expect(try server.request(["-H", "X-Auth-Token: m", url]).code == 200)
        let open = try LiveServer()
        #expect(try open.request([open.base + "/metrics"]).code == 200)
    }

    @Test("/metrics folds both cores' counters and adds process figures")
    func metrics() throws {
        let server = try LiveServer(cores: 2)
        for _ in 0..<10 { _ = try server.request([server.base + "/healthz"]) }
        let r = try server.request([server.base + "/metrics"])
        #expect(r.code == 200)
        #expect(r.text.contains("Content-Type: text/plain; version=0.0.4"))
        #expect(r.text.contains(#"livesfu_http_requests_total{route="/healthz",method="GET",status="200"} 10"#))
        #expect(r.text.contains("process_resident_memory_bytes "))
        #expect(r.text.contains("process_open_fds "))
        #expect(r.text.contains(#"livesfu_test_rooms{core="0"} 1"#) && r.text.contains(#"livesfu_test_rooms{core="1"} 1"#))
        // Each core's media figures, gathered as livesfu gathers them (`CoreMetrics.gatherer`).
        #expect(r.text.contains(#"livesfu_udp_sent_packets_total{core="0"} "#) && r.text.contains(#"livesfu_udp_sent_packets_total{core="1"} "#))
    }

    @Test("six clients that pipeline GETs and never read are cut off at the idle timeout with bounded queues; a new client is served")
    func nonReadingClients() throws {
        let server = try LiveServer(environment: ["HTTP_IDLE_TIMEOUT_SECONDS": "1"])
        // 550 × 38 bytes ≈ 21 KB of requests asking for 550 × 10 KB ≈ 5.5 MB of answers.
        let burst = Array(String(repeating: "GET /web/whip.js HTTP/1.1\r\nHost: x\r\n\r\n", count: 550).utf8)
        var clients: [RawClient] = []
        for _ in 0..<6 {
            let client = try RawClient(port: server.port, receiveBufferBytes: 4096)
            client.sendWithoutBlocking(burst)
            clients.append(client)
        }
        defer { for c in clients { c.close() } }
        // Cut off: the only connection left is the scrape itself. (Before, they stayed forever.)
        var open = -1
        let giveUp = Date().addingTimeInterval(30)
        repeat {
            usleep(200_000)
            let text = try server.request([server.base + "/metrics"]).text
            open = text.split(separator: "\n").first { $0.hasPrefix("livesfu_http_connections_open ") }
                .flatMap { Int($0.split(separator: " ").last ?? "") } ?? -1
        } while open != 1 && Date() < giveUp
        #expect(open == 1)
        // No connection ever queued more than the HTTP output cap (it held ~5.5 MB before).
        let peak = server.onCore(0) { $0.counters.tcpWriteQueuePeakBytes }
        #expect(peak > 0)
        #expect(peak <= HTTPLimits().maxQueuedOutputBytes)
        #expect(server.onCore(0) { $0.counters.tcpWriteStallAborts } == 6)
        #expect(try server.request([server.base + "/healthz"]).code == 200)
    }

    @Test("a client that sends its whole too-large body before reading gets the 413, not a reset")
    func lingeringClose() throws {
        let server = try LiveServer()
        // 6 MB is more than the socket buffers take while the server does not read: without a
        // lingering close, the client is still sending when the server closes, and gets a reset.
        for size in [65_537, 6_000_000] {
            let client = try RawClient(port: server.port)
            defer { client.close() }
            // As Python's http.client does: the whole request first, then read.
            let head = "POST /api/whip/publish/r HTTP/1.1\r\nHost: x\r\nContent-Type: application/sdp\r\nContent-Length: \(size)\r\n\r\n"
            let sent = client.send(Array(head.utf8) + [UInt8](repeating: UInt8(ascii: "v"), count: size))
            #expect(sent, "the body was not accepted up to its end (\(size) bytes)")
            let (text, closed) = client.readToEnd()
            #expect(text.hasPrefix("HTTP/1.1 413 Content Too Large\r\n"), "\(size): \(text.prefix(40))")
            #expect(text.contains("Connection: close\r\n"))
            #expect(closed)
        }
        #expect(try server.request([server.base + "/healthz"]).code == 200)
    }

    @Test("HTTPS with a self-signed certificate made by openssl req")
    func tls() throws {
        let cert = try SelfSignedCertificate()
        defer { cert.remove() }
        let dir = cert.directory
        let server = try LiveServer(environment: ["TLS_CERT_FILE": dir + "/cert.pem", "TLS_KEY_FILE": dir + "/key.pem"])
        let url = "https://127.0.0.1:\(server.port)/healthz"
        let r = try LiveServer.curl(["-v", "--cacert", dir + "/cert.pem", url, url])
        #expect(r.out == "ok\nok\n")
        #expect(r.err.contains("SSL connection using TLSv1.3"))
        #expect(r.err.contains("Re-using existing connection"))
        // Plain HTTP to the TLS port is refused, and the server keeps serving.
        let plain = try LiveServer.curl(["-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(server.port)/healthz"])
        #expect(plain.out == "000")
        #expect(try LiveServer.curl(["--cacert", dir + "/cert.pem", url]).out == "ok\n")
        // A bad key file is a clear start-up error.
        #expect(throws: TLSError.self) { try TLSServerContext(certificateFile: dir + "/cert.pem", keyFile: dir + "/missing.pem") }
    }

    @Test("10 000 idle connections: the server keeps serving, then cuts them all off at the header timeout")
    func idleFlood() throws {
        // Client and server ends live in this process: two descriptors a connection. Root (as
        // in CI) may raise the hard limit; elsewhere the count fits what the limit allows.
        let limit = Self.raiseOpenFileLimit(to: 65_536)
        let count = min(10_000, (limit - 256) / 2)
        if count < 10_000 { print("idleFlood: open-file limit \(limit), so \(count) connections instead of 10 000") }
        let server = try LiveServer(environment: ["HTTP_HEADER_TIMEOUT_SECONDS": "3"])
        var clients: [RawClient] = []
        for _ in 0..<count { clients.append(try RawClient(port: server.port, timeoutSeconds: 5)) }
        defer { for c in clients { c.close() } }
        let busy = try server.request([server.base + "/metrics"])
        #expect(busy.code == 200)
        #expect(busy.text.contains("livesfu_http_connections_open \(count + 1)"))
        usleep(3_600_000)
        let after = try server.request([server.base + "/metrics"])
        #expect(after.text.contains("livesfu_http_connections_open 1"))
        #expect(clients[0].readToEnd().closed && clients[count - 1].readToEnd().closed)
    }

    /// Raises this process's open-file limit towards `want` (the hard limit too when root);
    /// returns the soft limit in force.
    static func raiseOpenFileLimit(to want: Int) -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 1024 }
        var raised = limit
        raised.rlim_max = max(limit.rlim_max, rlim_t(want))
        raised.rlim_cur = raised.rlim_max
        if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) != 0 {
            raised = limit
            raised.rlim_cur = limit.rlim_max
            _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised)
        }
        _ = getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        return Int(limit.rlim_cur)
    }

    @Test("connections beyond the per-core limit are refused while others are served")
    func connectionLimit() throws {
        let server = try LiveServer(environment: ["HTTP_MAX_CONNECTIONS_PER_CORE": "2"])
        let a = try RawClient(port: server.port)
        let b = try RawClient(port: server.port)
        defer { a.close(); b.close() }
        usleep(100_000)
        let c = try RawClient(port: server.port, timeoutSeconds: 2)
        defer { c.close() }
        c.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(c.readToEnd().text == "")
        a.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(a.readResponses(1).first?.hasSuffix("ok\n") == true)
    }

    @Test("curl's Expect: 100-continue for a larger offer gets its interim answer at once")
    func expectContinue() throws {
        let server = try LiveServer()
        let offer = String(repeating: "a=x\r\n", count: 1000)  // 5 KB offer, with the Expect: 100-continue older curls add above 1 KB
        let start = Date()
        let r = try LiveServer.curl(["-v", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Expect: 100-continue", "-H", "Content-Type: application/sdp", "--data-binary", offer, server.base + "/api/whip/publish/r"])
        #expect(r.out == "201")
        #expect(r.err.contains("HTTP/1.1 100 Continue"))
        #expect(Date().timeIntervalSince(start) < 0.9)  // curl waits 1 s when no 100 comes
    }
}
