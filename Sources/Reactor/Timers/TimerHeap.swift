/// A binary min-heap of timers ordered by (deadline, sequence). Insert, cancel and re-arm are
/// O(log n) and allocate nothing once the array has grown (the handle keeps its index).
struct TimerHeap {
    private var items: [TimerHandle] = []
    private var nextSequence: UInt64 = 0

    var count: Int { items.count }
    var earliest: Instant? { items.isEmpty ? nil : items[0].deadline }

    mutating func schedule(_ t: TimerHandle, at deadline: Instant) {
        t.deadline = deadline
        t.sequence = nextSequence
        nextSequence &+= 1
        if t.heapIndex >= 0 {
            let i = t.heapIndex
            if !siftUp(i) { siftDown(i) }
        } else {
            t.heapIndex = items.count
            items.append(t)
            _ = siftUp(items.count - 1)
        }
    }

    mutating func cancel(_ t: TimerHandle) {
        let i = t.heapIndex
        guard i >= 0, i < items.count, items[i] === t else { return }
        let last = items.count - 1
        if i != last {
            items.swapAt(i, last)
            items[i].heapIndex = i
        }
        items.removeLast()
        t.heapIndex = -1
        if i < items.count, !siftUp(i) { siftDown(i) }
    }

    /// Removes and returns the earliest timer if it is due at `now`.
    mutating func popDue(_ now: Instant) -> TimerHandle? {
        guard !items.isEmpty, items[0].deadline <= now else { return nil }
        let first = items[0]
        cancel(first)
        return first
    }

    /// Removes every timer (loop shutdown).
    mutating func removeAll() {
        for t in items { t.heapIndex = -1 }
        items.removeAll()
    }

    @inline(__always)
    private func less(_ a: Int, _ b: Int) -> Bool {
        let x = items[a], y = items[b]
        return x.deadline < y.deadline || (x.deadline == y.deadline && x.sequence < y.sequence)
    }

    /// Returns true if the item moved.
    private mutating func siftUp(_ start: Int) -> Bool {
        var i = start
        while i > 0 {
            let parent = (i - 1) / 2
            guard less(i, parent) else { break }
            items.swapAt(i, parent)
            items[i].heapIndex = i
            items[parent].heapIndex = parent
            i = parent
        }
        return i != start
    }

    private mutating func siftDown(_ start: Int) {
        var i = start
        let n = items.count
        while true {
            let l = 2 * i + 1
            if l >= n { break }
            var m = l
            if l + 1 < n, less(l + 1, l) { m = l + 1 }
            guard less(m, i) else { break }
            items.swapAt(i, m)
            items[i].heapIndex = i
            items[m].heapIndex = m
            i = m
        }
    }
}
