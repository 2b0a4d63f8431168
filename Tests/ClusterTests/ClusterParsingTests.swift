@testable import Cluster
import Reactor
import Testing

@Suite("Cluster inputs: redis URLs, node URLs, node entries, signatures, RESP replies")
struct ClusterParsingTests {
    @Test("redis URLs: host, port, database, password, user", arguments: [
        ("redis://127.0.0.1:6380/2", RedisEndpoint(host: "127.0.0.1", port: 6380, database: 2)),
        ("redis://redis", RedisEndpoint(host: "redis")),
        ("redis://:s%40cret@10.0.0.1", RedisEndpoint(host: "10.0.0.1", password: "s@cret")),
        ("redis://app:pw@[::1]:7000/", RedisEndpoint(host: "::1", port: 7000, username: "app", password: "pw")),
    ])
    func redisURLs(text: String, expected: RedisEndpoint) throws {
        #expect(try RedisEndpoint(parsing: text) == expected)
    }

    @Test("bad redis URLs are refused, and the password never appears in the error", arguments: [
        "http://127.0.0.1", "redis://", "redis://host:0", "redis://host:99999", "redis://host/x", "redis://ho st",
        "redis://:hunter2@host:port",
    ])
    func badRedisURLs(text: String) {
        do {
            _ = try RedisEndpoint(parsing: text)
            Issue.record("accepted \(text)")
        } catch {
            #expect(!error.description.contains("hunter2"))
        }
    }

    @Test("the endpoint's description hides the password")
    func redacted() throws {
        #expect(try RedisEndpoint(parsing: "redis://:hunter2@h:1/0").description == "redis://:***@h:1/0")
    }

    @Test("node URLs: scheme, host and port only", arguments: [
        ("http://10.0.0.2:8080", "http://10.0.0.2:8080"), ("HTTPS://Node-A.example/", "https://node-a.example"),
        ("http://[fd00::1]:80", "http://[fd00::1]:80"),
    ])
    func nodeURLs(raw: String, normalised: String) {
        #expect(NodeURL(validating: raw)?.text == normalised)
    }

    @Test("garbage node URLs are refused", arguments: [
        "", "10.0.0.2:8080", "ftp://a", "http://", "http://a/b", "http://a?x=1", "http://u@a", "http://a:0",
        "http://a:65536", "http://a b", "http://a\r\nSet-Cookie: x", "javascript:alert(1)", "http://[zz::1]",
        "http://a:80:90", "http://.a", String(repeating: "a", count: 300),
    ])
    func garbageNodeURLs(raw: String) {
        #expect(NodeURL(validating: raw) == nil)
    }

    @Test("a Location is the node's URL and the same path and query")
    func location() {
        let url = NodeURL(validating: "http://10.0.0.2:8080")!
        #expect(url.location(path: "/api/whep/play/r1", query: "a=1") == "http://10.0.0.2:8080/api/whep/play/r1?a=1")
    }

    @Test("a node entry from the directory is usable only with a valid ID, URL and (with a token) signature")
    func entries() {
        let signer = NodeSignature(token: "cluster-secret")
        let sig = signer.sign(id: "b", url: "http://10.0.0.3:8080")
        let good = NodeEntry.checked(id: "b", url: "http://10.0.0.3:8080", load: "0.5", viewers: "7", signature: sig, signer: signer)
        #expect(good.url?.text == "http://10.0.0.3:8080")
        #expect(good.viewers == 7)
        let forged = NodeEntry.checked(id: "b", url: "http://evil:80", load: "0", viewers: "0", signature: sig, signer: signer)
        #expect(forged.url == nil)
        #expect(forged.refusal?.contains("CLUSTER_TOKEN") == true)
        let unsigned = NodeEntry.checked(id: "b", url: "http://10.0.0.3:8080", load: "0", viewers: "0", signature: "", signer: signer)
        #expect(unsigned.url == nil)
        let garbage = NodeEntry.checked(id: "b", url: "not a url", load: "NaN", viewers: "-4", signature: "", signer: nil)
        #expect(garbage.url == nil)
        #expect(garbage.load == 0 && garbage.viewers == 0)
        let expired = NodeEntry.checked(id: "b", url: "", load: "", viewers: "", signature: "", signer: nil)
        #expect(expired.refusal?.contains("no live entry") == true)
        let badID = NodeEntry.checked(id: "b/../x", url: "http://a", load: "", viewers: "", signature: "", signer: nil)
        #expect(badID.url == nil)
    }

    @Test("a signature is HMAC-SHA256(token, id LF url) in hex (value from Python's hmac module)")
    func hmacVector() {
        let signer = NodeSignature(token: "Jefe")
        let sig = signer.sign(id: "what do ya want", url: "for nothing?")
        #expect(sig == "50ff9fd552ba6f7d7aea9a88e93f2ebee2870bf860cfd7a2b6cf2cbbed92a13e")
        #expect(signer.verify(sig, id: "what do ya want", url: "for nothing?"))
        #expect(!NodeSignature(token: "Jefx").verify(sig, id: "what do ya want", url: "for nothing?"))
    }

    @Test("RESP replies are read within their bounds")
    func respBounds() throws {
        let values = try RedisValue.parse(Array("*2\r\n$3\r\nabc\r\n:7\r\n+OK\r\n$-1\r\n-ERR no\r\n".utf8))
        #expect(values == [.array([.string(Array("abc".utf8)), .integer(7)]), .status("OK"), .null, .error("ERR no")])
        let big = "$10\r\n0123456789\r\n"
        #expect(throws: RedisError.self) { try RedisValue.parse(Array(big.utf8), limits: .init(maxBytes: 9)) }
        let many = "*3\r\n:1\r\n:2\r\n:3\r\n"
        #expect(throws: RedisError.self) { try RedisValue.parse(Array(many.utf8), limits: .init(maxElements: 2)) }
        let deep = "*1\r\n*1\r\n*1\r\n:1\r\n"
        #expect(throws: RedisError.self) { try RedisValue.parse(Array(deep.utf8), limits: .init(maxDepth: 2)) }
        #expect(throws: RedisError.self) { try RedisValue.parse(Array("?what\r\n".utf8)) }
    }

    @Test("a directory listing of the wrong shape or over its bounds is refused; garbage nodes lose their URL")
    func listingShape() throws {
        func s(_ t: String) -> RedisValue { .string(Array(t.utf8)) }
        let ok = RedisValue.array([
            .array([s("r1"), s("a"), s("r2"), s("x y")]),
            .array([s("a"), s("http://127.0.0.1:1"), s("0.25"), s("3"), s(""), s("b"), s("javascript:x"), s("0"), s("0"), s("")]),
            .array([s("r1"), s("a"), s("0"), s("r1"), s("b"), s("4"), s("r3"), s("b"), s("2"), s("r1"), s("x y"), s("1"),
                    s("r2"), s("a"), s("-1"), s("r2"), s("b"), s("many")]),
        ])
        let listing = try ClusterDirectory.listing(from: ok, signer: nil)
        #expect(listing.origins == ["r1": "a", "r2": ""])
        #expect(listing.nodes.map(\.id) == ["a", "b"])
        #expect(listing.nodes[0].url?.text == "http://127.0.0.1:1")
        #expect(listing.nodes[1].url == nil)
        // Viewers per room per node; a malformed node ID or count is skipped.
        #expect(listing.viewers == ["r1": ["a": 0, "b": 4], "r3": ["b": 2]])
        #expect(throws: RedisError.self) { try ClusterDirectory.listing(from: .array([.array([s("odd")]), .array([]), .array([])]), signer: nil) }
        #expect(throws: RedisError.self) { try ClusterDirectory.listing(from: .array([.array([]), .array([]), .array([s("r1"), s("a")])]), signer: nil) }
        #expect(throws: RedisError.self) { try ClusterDirectory.listing(from: .array([.array([]), .array([])]), signer: nil) }
        #expect(throws: RedisError.self) { try ClusterDirectory.listing(from: .integer(1), signer: nil) }
        let tooMany = RedisValue.array([.array([]), .array(Array(repeating: s("x"), count: 5 * (ClusterSettings.maxNodesListed + 1))), .array([])])
        #expect(throws: RedisError.self) { try ClusterDirectory.listing(from: tooMany, signer: nil) }
        let tooManyViews = RedisValue.array([.array([]), .array([]), .array(Array(repeating: s("1"), count: 3 * (RoomViewers.maxListed + 1)))])
        #expect(throws: RedisError.self) { try ClusterDirectory.listing(from: tooManyViews, signer: nil) }
    }

    @Test("node IDs use the room names' alphabet", arguments: [("node-1", true), ("a.b_c", true), ("", false), (".x", false), ("a:b", false), ("a b", false)])
    func nodeIDs(id: String, valid: Bool) {
        #expect(ClusterSettings.isValidNodeID(id) == valid)
        #expect(ClusterSettings.isValidNodeID(String(repeating: "n", count: 65)) == false)
    }
}
