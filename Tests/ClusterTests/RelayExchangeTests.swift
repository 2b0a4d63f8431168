import Cluster
import Reactor
import Testing

@Suite("Edge relays: the exchange with the origin and the back-off")
struct RelayExchangeTests {
    let origin = NodeURL(validating: "http://10.0.0.1:8080")!

    @Test("the WHEP POST names the edge and carries CLUSTER_TOKEN as a bearer token")
    func request() {
        let r = RelayExchange.play(origin: origin, room: "show", offer: "v=0\r\n", node: "b", token: "s3cret")
        #expect(r.method == "POST" && r.url == "http://10.0.0.1:8080/api/whep/play/show" && r.body == "v=0\r\n")
        #expect(r.headers.contains("X-Livesfu-Relay: b"))
        #expect(r.headers.contains("Authorization: Bearer s3cret"))
        #expect(r.headers.contains("Content-Type: application/sdp"))
        let d = RelayExchange.delete(sessionURL: "http://10.0.0.1:8080/api/session/show/x", node: "b", token: "s3cret")
        #expect(d.method == "DELETE" && d.body == nil && d.headers.contains("Authorization: Bearer s3cret"))
    }

    @Test("a 201 with SDP and a session Location (a path or on the origin itself) is used")
    func accepted() {
        for location in ["/api/session/show/abc", "http://10.0.0.1:8080/api/session/show/abc"] {
            let answer = RelayExchange.read(.init(status: 201, location: location, body: "v=0\r\no=x\r\n"), origin: origin)
            #expect(answer == .accepted(sdp: "v=0\r\no=x\r\n", sessionURL: "http://10.0.0.1:8080/api/session/show/abc"))
        }
    }

    @Test("anything else is a refusal naming why: a status, garbage, a Location elsewhere")
    func refused() {
        let cases: [(RelayHTTPClient.Response, String)] = [
            (.init(status: 508, location: nil, body: "this node does not hold room show\n"), "508: this node does not hold room show"),
            (.init(status: 401, location: nil, body: ""), "answered 401"),
            (.init(status: 307, location: "http://elsewhere/api/whep/play/show", body: ""), "answered 307"),
            (.init(status: 201, location: "/api/session/show/abc", body: "<html>"), "not SDP"),
            (.init(status: 201, location: nil, body: "v=0\r\n"), "no Location"),
            (.init(status: 201, location: "http://evil:1/api/session/show/abc", body: "v=0\r\n"), "not on the origin"),
            (.init(status: 201, location: "/etc/passwd", body: "v=0\r\n"), "not a session URL"),
            (.init(status: 201, location: "/api/session/a b", body: "v=0\r\n"), "not a session URL"),
        ]
        for (response, why) in cases {
            guard case .refused(let reason) = RelayExchange.read(response, origin: origin) else {
                Issue.record("\(response) was accepted")
                continue
            }
            #expect(reason.contains(why), "\(reason)")
        }
    }

    @Test("back-off: 0.5 s doubling to 8 s, given up after 8 failures in a row, reset by a relay that connected")
    func backoff() {
        var b = RelayBackoff()
        let delays = (0..<RelayBackoff.maxAttempts).map { _ in b.failed() }
        #expect(delays == [.milliseconds(500), .seconds(1), .seconds(2), .seconds(4), .seconds(8), .seconds(8), .seconds(8), .seconds(8)])
        #expect(b.failed() == nil)
        b.connected()
        #expect(b.failed() == .milliseconds(500))
    }
}
