import HTTPTypes
import Testing

@testable import HTTP

@Suite("CORS policy")
struct CORSPolicyTests {
    func preflight(origin: String) -> HTTPRequest {
        var fields = HTTPFields()
        fields[.origin] = origin
        fields[.accessControlRequestMethod] = "POST"
        fields[.accessControlRequestHeaders] = "authorization, content-type"
        return HTTPRequest(method: .options, scheme: nil, authority: "h", path: "/api/whip/publish/r", headerFields: fields)
    }

    @Test("ALLOWED_ORIGIN parses as any, one origin, a list, or nothing")
    func parsing() throws {
        #expect(try CORSPolicy(allowedOrigin: "*").origins == .any)
        #expect(try CORSPolicy(allowedOrigin: "").origins == CORSPolicy.Origins.none)
        #expect(try CORSPolicy(allowedOrigin: "https://a.example").origins == .list(["https://a.example"]))
        #expect(try CORSPolicy(allowedOrigin: " https://a.example , http://localhost:8080 ").origins == .list(["https://a.example", "http://localhost:8080"]))
        #expect(throws: ConfigurationError.self) { try CORSPolicy(allowedOrigin: "*, https://a.example") }
        #expect(throws: ConfigurationError.self) { try CORSPolicy(allowedOrigin: "a.example") }
        #expect(throws: ConfigurationError.self) { try CORSPolicy(allowedOrigin: "https://a.example/") }
    }

    @Test("a preflight from an allowed origin gets methods, WHIP headers and exposed headers")
    func allowedPreflight() throws {
        let policy = try CORSPolicy(allowedOrigin: "https://a.example")
        let response = policy.preflightResponse(for: preflight(origin: "https://a.example"), acceptPost: "application/sdp")
        let f = response.head.headerFields
        #expect(response.status == .noContent)
        #expect(f[.accessControlAllowOrigin] == "https://a.example")
        #expect(f[.accessControlAllowMethods]?.contains("PATCH") == true)
        #expect(f[.accessControlAllowHeaders] == "Authorization, Content-Type, If-Match, X-Auth-Token")
        #expect(f[.accessControlExposeHeaders] == "Location, ETag, Link, Accept-Patch")
        #expect(f[.vary]?.contains("Origin") == true)
        #expect(f[HTTPField.Name("Accept-Post")!] == "application/sdp")
        #expect(f[.accessControlAllowCredentials] == nil)
    }

    @Test("a preflight from another origin is refused with 403 and no allow headers")
    func refusedPreflight() throws {
        let policy = try CORSPolicy(allowedOrigin: "https://a.example")
        let response = policy.preflightResponse(for: preflight(origin: "https://evil.example"))
        #expect(response.status == .forbidden)
        #expect(response.head.headerFields[.accessControlAllowOrigin] == nil)
    }

    @Test("with * every origin gets *, never with credentials")
    func wildcard() throws {
        let policy = try CORSPolicy(allowedOrigin: "*")
        var response = HTTPServerResponse.text(.created, "x")
        policy.decorate(&response, origin: "https://whoever.example")
        #expect(response.head.headerFields[.accessControlAllowOrigin] == "*")
        #expect(response.head.headerFields[.accessControlAllowCredentials] == nil)
        #expect(response.head.headerFields[.accessControlExposeHeaders] == "Location, ETag, Link, Accept-Patch")
    }

    @Test("a listed origin is echoed with Vary: Origin; an unlisted one gets only Vary")
    func listDecorate() throws {
        let policy = try CORSPolicy(allowedOrigin: "https://a.example,https://b.example")
        var ok = HTTPServerResponse.text(.ok, "x")
        policy.decorate(&ok, origin: "https://b.example")
        #expect(ok.head.headerFields[.accessControlAllowOrigin] == "https://b.example")
        #expect(ok.head.headerFields[.vary] == "Origin")
        var no = HTTPServerResponse.text(.ok, "x")
        policy.decorate(&no, origin: "https://c.example")
        #expect(no.head.headerFields[.accessControlAllowOrigin] == nil)
        #expect(no.head.headerFields[.vary] == "Origin")
    }
}
