/// The simulation's virtual clock and its queue of what happens next: actions run in time
/// order, and actions due at the same time in the order they were scheduled, so a run is a
/// pure function of its seed.
final class SimulationScheduler {
    private struct Entry {
        var time: UInt64
        var order: UInt64
        var action: () -> Void

        func precedes(_ other: Entry) -> Bool { time != other.time ? time < other.time : order < other.order }
    }

    private var heap: [Entry] = []
    private var scheduled: UInt64 = 0
    /// Virtual nanoseconds since the start of the run.
    private(set) var now: UInt64 = 0
    var isIdle: Bool { heap.isEmpty }
    /// Actions run so far.
    private(set) var steps = 0

    func at(_ time: UInt64, _ action: @escaping () -> Void) {
        heap.append(Entry(time: max(time, now), order: scheduled, action: action))
        scheduled += 1
        var i = heap.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard heap[i].precedes(heap[parent]) else { break }
            heap.swapAt(i, parent)
            i = parent
        }
    }

    func after(nanoseconds delay: UInt64, _ action: @escaping () -> Void) { at(now + delay, action) }

    /// Runs the next action unless it is later than `limit`; false when there was none.
    func runNext(notAfter limit: UInt64) -> Bool {
        guard let first = heap.first, first.time <= limit else { return false }
        let last = heap.removeLast()
        if !heap.isEmpty {
            heap[0] = last
            var i = 0
            while true {
                let l = 2 * i + 1
                let r = l + 1
                var m = i
                if l < heap.count, heap[l].precedes(heap[m]) { m = l }
                if r < heap.count, heap[r].precedes(heap[m]) { m = r }
                if m == i { break }
                heap.swapAt(i, m)
                i = m
            }
        }
        now = first.time
        steps += 1
        first.action()
        return true
    }
}
