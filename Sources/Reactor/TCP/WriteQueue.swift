/// Bytes waiting to be written to a TCP socket, in fixed chunks that never move (io_uring
/// may be sending from the head chunk while more is appended).
struct WriteQueue {
    private struct Chunk {
        let base: UnsafeMutableRawPointer
        var start: Int
        var end: Int
    }

    static let chunkSize = 16 * 1024
    private var chunks: [Chunk] = []
    private var head = 0
    /// Queued bytes.
    private(set) var count = 0

    var isEmpty: Bool { count == 0 }

    mutating func append(_ bytes: UnsafeRawBufferPointer) {
        guard var src = bytes.baseAddress else { return }
        var left = bytes.count
        count += left
        while left > 0 {
            if head == chunks.count || chunks[chunks.count - 1].end == Self.chunkSize {
                chunks.append(Chunk(base: .allocate(byteCount: Self.chunkSize, alignment: 16), start: 0, end: 0))
            }
            let last = chunks.count - 1
            let n = min(left, Self.chunkSize - chunks[last].end)
            (chunks[last].base + chunks[last].end).copyMemory(from: src, byteCount: n)
            chunks[last].end += n
            src += n
            left -= n
        }
    }

    /// The first contiguous run of queued bytes.
    var front: UnsafeRawBufferPointer? {
        guard head < chunks.count else { return nil }
        let c = chunks[head]
        return UnsafeRawBufferPointer(start: c.base + c.start, count: c.end - c.start)
    }

    /// Drops `n` bytes written from the front.
    mutating func consume(_ n: Int) {
        var left = n
        count -= n
        while left > 0, head < chunks.count {
            let avail = chunks[head].end - chunks[head].start
            let k = min(avail, left)
            chunks[head].start += k
            left -= k
            if chunks[head].start == chunks[head].end {
                chunks[head].base.deallocate()
                head += 1
            }
        }
        if head == chunks.count {
            chunks.removeAll(keepingCapacity: true)
            head = 0
        } else if head > 32 {
            chunks.removeFirst(head)
            head = 0
        }
    }

    mutating func removeAll() {
        for i in head..<chunks.count { chunks[i].base.deallocate() }
        chunks.removeAll()
        head = 0
        count = 0
    }
}
