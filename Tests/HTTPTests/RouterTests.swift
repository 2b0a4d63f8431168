import HTTPTypes
import Testing

@testable import HTTP

@Suite("Router")
struct RouterTests {
    func router() -> Router {
        let r = Router()
        r.add(.post, "/api/whip/publish/:room") { _, _ in }
        r.add(.get, "/api/rooms") { _, _ in }
        r.add(.delete, "/api/session/:id") { _, _ in }
        r.add(.patch, "/api/session/:id") { _, _ in }
        r.add(.get, "/web/*path") { _, _ in }
        r.add(.get, "/") { _, _ in }
        return r
    }

    @Test("path parameters are extracted and percent-decoded")
    func parameters() {
        guard case .found(let route, let params) = router().match(method: .post, path: "/api/whip/publish/my%20room") else {
            Issue.record("no match"); return
        }
        #expect(route.pattern == "/api/whip/publish/:room")
        #expect(params["room"] == "my room")
    }

    @Test("a known path with another method is a 405 listing what is allowed")
    func methodNotAllowed() {
        guard case .methodNotAllowed(let allow, _) = router().match(method: .get, path: "/api/session/abc") else {
            Issue.record("expected 405"); return
        }
        #expect(Set(allow) == [.delete, .patch, .options])
        guard case .methodNotAllowed(let allow2, _) = router().match(method: .post, path: "/api/rooms") else {
            Issue.record("expected 405"); return
        }
        #expect(Set(allow2) == [.get, .head, .options])
    }

    @Test("HEAD is served by the GET route")
    func headFallsBackToGet() {
        guard case .found(let route, _) = router().match(method: .head, path: "/api/rooms") else { Issue.record("no match"); return }
        #expect(route.method == .get)
    }

    @Test("unknown paths, extra segments, empty parameters and bad escapes are not found")
    func notFound() {
        let r = router()
        for path in ["/nope", "/api/rooms/extra", "/api/whip/publish/", "/api/whip/publish/a/b", "/api/whip/publish/%zz", "/api/whip/publish/%ff"] {
            guard case .notFound = r.match(method: .post, path: path) else { Issue.record("\(path) matched"); continue }
        }
    }

    @Test("a rest parameter takes the remainder, including nothing")
    func rest() {
        let r = router()
        guard case .found(_, let p) = r.match(method: .get, path: "/web/js/app.js") else { Issue.record("no"); return }
        #expect(p["path"] == "js/app.js")
        guard case .found(_, let q) = r.match(method: .get, path: "/web/") else { Issue.record("no"); return }
        #expect(q["path"] == "")
        guard case .found(let root, _) = r.match(method: .get, path: "/") else { Issue.record("no root"); return }
        #expect(root.pattern == "/")
    }
}
