import Synchronization

/// The recording figures every core and the writer thread add to. These change per frame or
/// per chunk at most, never per forwarded packet, so shared atomics cost nothing that shows.
public final class RecordingCounters: Sendable {
    public let active = Atomic<Int>(0)
    public let started = Atomic<UInt64>(0)
    public let bytesWritten = Atomic<UInt64>(0)
    public let framesWritten = Atomic<UInt64>(0)
    /// Frames given up (incomplete after the repair wait, malformed, or depending on one).
    public let framesSkipped = Atomic<UInt64>(0)
    public let bytesDroppedQueueFull = Atomic<UInt64>(0)
    public let bytesDroppedWriteError = Atomic<UInt64>(0)
    public let damaged = Atomic<UInt64>(0)

    public init() {}
}
