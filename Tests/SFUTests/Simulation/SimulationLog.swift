/// What happened in a run, one line per event, in order: the datagrams the virtual network
/// carried (time, source, destination, kind, length, fate) and the scenario's steps. Two runs
/// of one seed must produce the same bytes; a failure's log can be written out and compared.
final class SimulationLog {
    private(set) var bytes: [UInt8] = []
    private(set) var lines = 0
    /// FNV-1a of `bytes`, kept as lines are added.
    private(set) var digest: UInt64 = 0xcbf2_9ce4_8422_2325

    func add(_ time: UInt64, _ text: String) {
        let line = "\(time / 1000) \(text)\n"
        for b in line.utf8 {
            bytes.append(b)
            digest = (digest ^ UInt64(b)) &* 0x100_0000_01b3
        }
        lines += 1
    }

    var text: String { String(decoding: bytes, as: UTF8.self) }

    /// The first line where two logs differ (1-based), with both versions; nil when equal.
    func firstDifference(from other: SimulationLog) -> String? {
        guard bytes != other.bytes else { return nil }
        let a = text.split(separator: "\n", omittingEmptySubsequences: false)
        let b = other.text.split(separator: "\n", omittingEmptySubsequences: false)
        for i in 0..<max(a.count, b.count) {
            let x = i < a.count ? String(a[i]) : "<end>"
            let y = i < b.count ? String(b[i]) : "<end>"
            if x != y { return "line \(i + 1): \"\(x)\" vs \"\(y)\"" }
        }
        return "same lines, different bytes"
    }
}
