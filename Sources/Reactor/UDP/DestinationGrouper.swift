/// Reorders a send queue so datagrams to the same destination sit next to each other (stable:
/// each destination keeps its own order; destinations keep the order of their first
/// datagram). A fanout that sends packet-major (each packet to every viewer) then still gives
/// GSO its runs: one viewer's packets of a frame become consecutive. O(n), no allocation.
final class DestinationGrouper {
    private let capacity: Int
    private let tableSize = 1024
    /// Hash table: bucket → index of the first entry of a destination group, or -1.
    private let table: UnsafeMutablePointer<Int32>
    /// For each group head: index of the last entry of its group (to append in O(1)).
    private let tail: UnsafeMutablePointer<Int32>
    /// Next entry of the same destination, or -1.
    private let next: UnsafeMutablePointer<Int32>
    /// Buckets used in this pass (cleared at the end instead of the whole table).
    private let used: UnsafeMutablePointer<Int32>
    /// Group heads in order of first appearance.
    private let heads: UnsafeMutablePointer<Int32>
    private let scratch: UnsafeMutablePointer<PendingDatagram>

    init(capacity: Int) {
        self.capacity = capacity
        table = .allocate(capacity: tableSize)
        table.initialize(repeating: -1, count: tableSize)
        tail = .allocate(capacity: capacity)
        next = .allocate(capacity: capacity)
        used = .allocate(capacity: capacity)
        heads = .allocate(capacity: capacity)
        scratch = .allocate(capacity: capacity)
    }

    deinit {
        table.deallocate()
        tail.deallocate()
        next.deallocate()
        used.deallocate()
        heads.deallocate()
        scratch.deallocate()
    }

    @inline(__always)
    private func bucket(_ a: SocketAddress) -> Int {
        var h = a.hi &* 0x9E37_79B9_7F4A_7C15
        h ^= a.lo &* 0xC2B2_AE3D_27D4_EB4F
        h ^= UInt64(a.port) &* 0x1656_67B1_9E37_79F9
        return Int(truncatingIfNeeded: h >> 40) & (tableSize - 1)
    }

    /// Groups `entries[0..<count]` in place.
    func group(_ entries: UnsafeMutablePointer<PendingDatagram>, count: Int) {
        guard count > 2, count <= capacity else { return }
        var usedCount = 0
        var headCount = 0
        var interleaved = false
        for i in 0..<count {
            next[i] = -1
            let address = entries[i].address
            var b = bucket(address)
            // Linear probing; a bucket holds the head of one destination's group.
            while true {
                let head = Int(table[b])
                if head < 0 {
                    table[b] = Int32(i)
                    tail[i] = Int32(i)
                    used[usedCount] = Int32(b)
                    usedCount += 1
                    heads[headCount] = Int32(i)
                    headCount += 1
                    break
                }
                if entries[head].address == address {
                    if Int(tail[head]) != i - 1 { interleaved = true }
                    next[Int(tail[head])] = Int32(i)
                    tail[head] = Int32(i)
                    break
                }
                b = (b + 1) & (tableSize - 1)
            }
            if usedCount == tableSize { break }  // pathological: give up, keep the order
        }
        for u in 0..<usedCount { table[Int(used[u])] = -1 }
        // Already grouped (e.g. one destination), or gave up: leave the queue as it is.
        guard interleaved, usedCount < tableSize else { return }
        var out = 0
        for h in 0..<headCount {
            var i = Int(heads[h])
            while i >= 0 {
                scratch[out] = entries[i]
                out += 1
                i = Int(next[i])
            }
        }
        entries.update(from: scratch, count: out)
    }
}
