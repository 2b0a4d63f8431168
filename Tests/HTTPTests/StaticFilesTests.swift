import Foundation
import HTTPTypes
import Testing

@testable import HTTP

@Suite("Static files")
struct StaticFilesTests {
    /// A temporary web folder with a page, a script, a secret next to it and a symlink out.
    func makeTree() throws -> (root: String, cleanup: () -> Void) {
        let base = NSTemporaryDirectory() + "lsfu-static-\(UInt64.random(in: 0...UInt64.max))"
        let fm = FileManager.default
        try fm.createDirectory(atPath: base + "/web/js", withIntermediateDirectories: true)
        try "<h1>hi</h1>".write(toFile: base + "/web/index.html", atomically: true, encoding: .utf8)
        try "let x = 1".write(toFile: base + "/web/js/app.js", atomically: true, encoding: .utf8)
        try "secret".write(toFile: base + "/secret.txt", atomically: true, encoding: .utf8)
        try "dot".write(toFile: base + "/web/.env", atomically: true, encoding: .utf8)
        try fm.createSymbolicLink(atPath: base + "/web/out.txt", withDestinationPath: base + "/secret.txt")
        try fm.createSymbolicLink(atPath: base + "/web/outdir", withDestinationPath: base)
        return (base + "/web", { try? fm.removeItem(atPath: base) })
    }

    @Test("files are served with their content type, folders with their index")
    func serves() throws {
        let (root, cleanup) = try makeTree()
        defer { cleanup() }
        let files = StaticFiles(root: root)
        let js = files.response(relativePath: "js/app.js")
        #expect(js.status == .ok)
        #expect(js.head.headerFields[.contentType] == "text/javascript; charset=utf-8")
        #expect(js.body == Array("let x = 1".utf8))
        let index = files.response(relativePath: "")
        #expect(index.head.headerFields[.contentType] == "text/html; charset=utf-8")
        #expect(String(decoding: index.body, as: UTF8.self) == "<h1>hi</h1>")
    }

    @Test("traversal, dot files and symlinks out of the folder are 404")
    func traversal() throws {
        let (root, cleanup) = try makeTree()
        defer { cleanup() }
        let files = StaticFiles(root: root)
        for path in ["../secret.txt", "js/../../secret.txt", "./index.html", ".env", "out.txt", "outdir/secret.txt", "js\\..\\..\\secret.txt", "nope.html", "a\0b"] {
            #expect(files.response(relativePath: path).status == .notFound, "\(path)")
        }
    }

    @Test("percent-encoded dots reach the sanitizer decoded and are refused")
    func encodedTraversal() {
        let router = Router()
        router.add(.get, "/web/*path") { _, _ in }
        guard case .found(_, let p) = router.match(method: .get, path: "/web/%2e%2e/secret.txt") else { Issue.record("no match"); return }
        #expect(p["path"] == "../secret.txt")
        #expect(StaticFiles.sanitize(p["path"]!) == nil)
        guard case .found(_, let q) = router.match(method: .get, path: "/web/js%2f..%2f..%2fsecret.txt") else { Issue.record("no match"); return }
        #expect(StaticFiles.sanitize(q["path"]!) == nil)
    }
}

@Suite("Page security")
struct PageSecurityTests {
    @Test("every served file carries a CSP that allows only the own origin and no framing")
    func headers() throws {
        let base = NSTemporaryDirectory() + "lsfu-csp-\(UInt64.random(in: 0...UInt64.max))"
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: base) }
        try "<h1>hi</h1>".write(toFile: base + "/index.html", atomically: true, encoding: .utf8)
        let page = StaticFiles(root: base).response(relativePath: "index.html")
        let csp = try #require(page.head.headerFields[.contentSecurityPolicy])
        #expect(csp.contains("connect-src 'self';"))
        #expect(csp.contains("frame-ancestors 'none'"))
        #expect(csp.contains("script-src 'self';"))
        #expect(page.head.headerFields[HTTPField.Name("Referrer-Policy")!] == "no-referrer")
        let allowed = try PageSecurity(allowedServers: ["https://edge.example.com", "http://127.0.0.1:*"])
        let other = StaticFiles(root: base, security: allowed).response(relativePath: "index.html")
        #expect(other.head.headerFields[.contentSecurityPolicy]?.contains(
            "connect-src 'self' https://edge.example.com http://127.0.0.1:*;") == true)
    }

    @Test("the config script lists the allowed servers")
    func configScript() throws {
        let script = try PageSecurity(allowedServers: ["https://a.example:8443"]).configScript
        #expect(String(decoding: script.body, as: UTF8.self)
            == "window.LIVESFU_ALLOWED_SERVERS = Object.freeze([\"https://a.example:8443\"]);\n")
        #expect(script.head.headerFields[.contentType] == "text/javascript; charset=utf-8")
        #expect(String(decoding: PageSecurity.sameOriginOnly.configScript.body, as: UTF8.self).contains("freeze([])"))
    }

    @Test("only plain origins are accepted (they go into a header and a script)")
    func validation() {
        for good in ["https://a.example", "http://127.0.0.1:8080", "http://[::1]:*", "https://x-y.z:443"] {
            #expect(PageSecurity.isOrigin(good), "\(good)")
        }
        for bad in [
            "a.example", "ftp://a", "https://", "https://a/path", "https://a:0", "https://a:99999", "https://*.a",
            "https://a\";alert(1)//", "https://a; script-src *", "javascript:alert(1)", "https://user@a",
        ] {
            #expect(!PageSecurity.isOrigin(bad), "\(bad)")
        }
        #expect(throws: ConfigurationError.self) { try PageSecurity(allowedServers: ["https://a/x"]) }
    }
}
