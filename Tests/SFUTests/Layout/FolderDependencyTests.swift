import Foundation
import Testing

/// The folders of `Sources/SFU` depend on each other one way only (DESIGN.md §4: a reader
/// finds the way by folder name, and a circle leaves no place to start reading). A folder
/// depends on another when one of its files names a top-level type declared there.
@Suite("SFU folder dependencies")
struct FolderDependencyTests {
    static let sources = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Sources/SFU")

    /// Folder → the files of that folder, each with its text (comments and strings removed).
    static func files() throws -> [(folder: String, name: String, text: String)] {
        let root = sources.path
        var out: [(String, String, String)] = []
        let walker = try #require(FileManager.default.enumerator(atPath: root))
        for case let path as String in walker where path.hasSuffix(".swift") {
            let parts = path.split(separator: "/")
            guard parts.count == 2 else { continue }
            var text = try String(contentsOfFile: root + "/" + path, encoding: .utf8)
            for pattern in [#"/\*[\s\S]*?\*/"#, #"//[^\n]*"#, #""(?:[^"\\\n]|\\.)*""#] {
                text = text.replacingOccurrences(of: pattern, with: " ", options: .regularExpression)
            }
            out.append((String(parts[0]), String(parts[1]), text))
        }
        return out
    }

    /// Edges folder → folder, each with one file and type that makes it.
    static func edges() throws -> [String: [String: String]] {
        let files = try files()
        let declaration = try NSRegularExpression(
            pattern: #"^(?:(?:public|internal|fileprivate|private|final|@\w+(?:\([^)]*\))?)\s+)*(?:struct|class|enum|protocol|typealias|actor)\s+(\w+)"#,
            options: .anchorsMatchLines)
        var declaredIn: [String: String] = [:]
        for f in files {
            let range = NSRange(f.text.startIndex..., in: f.text)
            for m in declaration.matches(in: f.text, range: range) {
                if let r = Range(m.range(at: 1), in: f.text) { declaredIn[String(f.text[r])] = f.folder }
            }
        }
        let word = try NSRegularExpression(pattern: #"\b[A-Z]\w*\b"#)
        var edges: [String: [String: String]] = [:]
        for f in files {
            let range = NSRange(f.text.startIndex..., in: f.text)
            for m in word.matches(in: f.text, range: range) {
                guard let r = Range(m.range, in: f.text) else { continue }
                let name = String(f.text[r])
                guard let target = declaredIn[name], target != f.folder else { continue }
                edges[f.folder, default: [:]][target] = edges[f.folder]?[target] ?? "\(f.name) names \(name)"
            }
        }
        return edges
    }

    @Test("no two folders of Sources/SFU depend on each other, directly or through others")
    func noCircles() throws {
        let edges = try Self.edges()
        #expect(edges["Room"]?["Session"] != nil, "the check sees the dependencies it is meant to see")
        // Depth-first search for a back edge; report the circle with what makes each step.
        var state: [String: Int] = [:]  // 1: on the path, 2: done
        var path: [String] = []
        var circles: [String] = []
        func visit(_ folder: String) {
            state[folder] = 1
            path.append(folder)
            for (next, why) in (edges[folder] ?? [:]).sorted(by: { $0.key < $1.key }) {
                if state[next] == 1 {
                    let loop = Array(path[path.firstIndex(of: next)!...]) + [next]
                    circles.append(loop.joined(separator: " → ") + " (last step: \(folder): \(why))")
                } else if state[next] == nil {
                    visit(next)
                }
            }
            path.removeLast()
            state[folder] = 2
        }
        for folder in edges.keys.sorted() where state[folder] == nil { visit(folder) }
        #expect(circles.isEmpty, "folder circles: \(circles)")
    }
}
