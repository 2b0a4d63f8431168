import Foundation
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
