@testable import Cluster
import Testing

@Suite("The cluster's per-node view of rooms: what a node reports, how a listing shows it")
struct RoomViewersTests {
    @Test("a node reports its cores' rooms merged, the most watched first, at most the cap")
    func report() {
        let cores = [["quiet": 0, "big": 40, "mid": 5], ["other": 5, "big": 2, "neg": -3]]
        let all = RoomViewers.report(cores)
        #expect(all.map(\.room) == ["big", "mid", "other", "neg", "quiet"])
        #expect(all.map(\.viewers) == [42, 5, 5, 0, 0])
        #expect(RoomViewers.report(cores, limit: 2).map(\.room) == ["big", "mid"])
        #expect(RoomViewers.report([]).isEmpty)
    }

    @Test("a node with more rooms than the cap reports exactly the cap")
    func capped() {
        var many: [String: Int] = [:]
        for i in 0..<(RoomViewers.maxReported + 250) { many["room-\(i)"] = i % 7 }
        let report = RoomViewers.report([many])
        #expect(report.count == RoomViewers.maxReported)
        #expect(report.first?.viewers == 6)
    }

    @Test("a room's entries: the origin first, then by node; this node's live figure replaces its stale one")
    func entries() {
        let stale = ["c": 4, "a": 0, "b": 1]
        let shown = RoomViewers.entries(directory: stale, this: "b", localViewers: 3, origin: "a")
        #expect(shown.map(\.node) == ["a", "b", "c"])
        #expect(shown.map(\.viewers) == [0, 3, 4])
        #expect(shown.map(\.origin) == [true, false, false])
        let notHere = RoomViewers.entries(directory: stale, this: "b", localViewers: nil, origin: "c")
        #expect(notHere.map(\.node) == ["c", "a"])
        #expect(RoomViewers.entries(directory: [:], this: "a", localViewers: 0, origin: nil).map(\.node) == ["a"])
    }
}
