@testable import Cluster
import Reactor
import Testing

@Suite("Redirects go to the least loaded node that carries the room")
struct RedirectChoiceTests {
    func node(_ id: String, load: Double, viewers: Int, url: Bool = true) -> NodeEntry {
        NodeEntry(id: id, url: url ? NodeURL(validating: "http://\(id).example:8080") : nil, load: load, viewers: viewers)
    }

    @Test("an edge carrying the room with less load, or as loaded with fewer viewers, beats the origin")
    func leastLoaded() {
        let origin = node("a", load: 0.5, viewers: 10)
        #expect(RedirectChoice.target(origin: origin, carriers: [], excluding: "c").id == "a")
        #expect(RedirectChoice.target(origin: origin, carriers: [node("b", load: 0.2, viewers: 50)], excluding: "c").id == "b")
        // Loads within the tolerance are equal: viewers decide, then the origin.
        #expect(RedirectChoice.target(origin: origin, carriers: [node("b", load: 0.45, viewers: 3)], excluding: "c").id == "b")
        #expect(RedirectChoice.target(origin: origin, carriers: [node("b", load: 0.45, viewers: 10)], excluding: "c").id == "a")
        #expect(RedirectChoice.target(origin: origin, carriers: [node("b", load: 0.9, viewers: 0)], excluding: "c").id == "a")
        let three = [node("b", load: 0.1, viewers: 5), node("d", load: 0.1, viewers: 2)]
        #expect(RedirectChoice.target(origin: origin, carriers: three, excluding: "c").id == "d")
    }

    @Test("never this node, never a node without a usable URL; a usable edge beats an unusable origin")
    func usable() {
        let origin = node("a", load: 0.9, viewers: 10)
        #expect(RedirectChoice.target(origin: origin, carriers: [node("c", load: 0, viewers: 0)], excluding: "c").id == "a")
        #expect(RedirectChoice.target(origin: origin, carriers: [node("b", load: 0, viewers: 0, url: false)], excluding: "c").id == "a")
        let broken = node("a", load: 0, viewers: 0, url: false)
        #expect(RedirectChoice.target(origin: broken, carriers: [node("b", load: 0.9, viewers: 99)], excluding: "c").id == "b")
    }

    @Test("a route reply: the holder and its carriers; wrong shapes and oversize lists are refused")
    func routeShape() throws {
        func s(_ t: String) -> RedisValue { .string(Array(t.utf8)) }
        let entry = { (id: String) -> [RedisValue] in [s(id), s("http://\(id):1"), s("0.1"), s("2"), s("")] }
        let (origin, carriers) = try ClusterDirectory.route(
            from: .array([.array(entry("a")), .array(entry("b") + entry("c"))]), signer: nil)
        #expect(origin?.id == "a" && origin?.url?.text == "http://a:1")
        #expect(carriers.map(\.id) == ["b", "c"] && carriers[0].viewers == 2)
        let (none, edges) = try ClusterDirectory.route(from: .array([.array([]), .array(entry("b"))]), signer: nil)
        #expect(none == nil && edges.map(\.id) == ["b"])
        #expect(throws: RedisError.self) { try ClusterDirectory.route(from: .array([.array([s("a")]), .array([])]), signer: nil) }
        #expect(throws: RedisError.self) { try ClusterDirectory.route(from: .null, signer: nil) }
        let tooMany = RedisValue.array([.array([]), .array(Array(repeating: s("x"), count: 5 * (ClusterSettings.maxNodesListed + 1)))])
        #expect(throws: RedisError.self) { try ClusterDirectory.route(from: tooMany, signer: nil) }
    }
}
