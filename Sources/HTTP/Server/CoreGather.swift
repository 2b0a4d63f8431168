import Reactor

/// Asks every core for a value through its mailbox and calls back on the asking core once
/// all have answered (a stopped core counts as no value). Each value is built on its own core;
/// only the `Sendable` results travel, and nothing is shared or locked.
public enum CoreGather {
    /// - Parameters:
    ///   - handles: every core's handle (by index).
    ///   - origin: the asking core's handle; `done` runs there.
    ///   - work: runs on each core; nil means "nothing to report".
    ///   - done: the values of the cores that answered, in core order.
    public static func gather<T: Sendable>(
        handles: [EventLoopHandle], origin: EventLoopHandle,
        _ work: @escaping @Sendable (EventLoop) -> T?,
        done: @escaping ([T]) -> Void
    ) {
        let collector = Collector<T>(count: handles.count, done: done)
        let box = CoreBound(collector)
        for (i, handle) in handles.enumerated() {
            let posted = handle.execute { (loop: EventLoop) in
                let value = work(loop)
                origin.execute { box.value?.add(value, at: i) }
            }
            if !posted { collector.add(nil, at: i) }
        }
    }

    /// Collects one answer per core on the asking core, then calls `done` once.
    private final class Collector<T> {
        private var values: [T?]
        private var remaining: Int
        private let done: ([T]) -> Void

        init(count: Int, done: @escaping ([T]) -> Void) {
            values = Array(repeating: nil, count: count)
            remaining = count
            self.done = done
            if count == 0 { done([]) }
        }

        func add(_ value: T?, at index: Int) {
            guard remaining > 0 else { return }
            values[index] = value
            remaining -= 1
            if remaining == 0 { done(values.compactMap { $0 }) }
        }
    }
}
