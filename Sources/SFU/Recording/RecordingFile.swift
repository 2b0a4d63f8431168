import Reactor
import Synchronization

/// One file being recorded, as the room's core and the recording writer thread share it: the
/// core appends the file's bytes to `ring` (whole frames or Ogg pages per chunk, so the file
/// can be cut at any chunk boundary and still decode); the writer moves them to disk. The ring
/// is the recording's bounded queue: a chunk that does not fit is dropped and the recording
/// marked damaged, never waited for. Everything else crosses once: the description when the
/// file is handed to the writer, the summary when the core finishes it.
public final class RecordingFile: Sendable {
    public struct Description: Sendable {
        /// `{room}_{trackID}_{unixTimestamp}.{ext}` (the Go server's names).
        public var name: String
        public var room: String
        /// The publisher's track ID (its msid, sanitised), or the kind.
        public var track: String
        public var kind: TrackKind
        /// `opus`, `vp8`, `vp9`, `h264`, `av1`.
        public var codec: String
        /// The publication (the publisher session) the file belongs to: its sidecar's name
        /// without `.json`.
        public var publication: String
        /// Wall-clock time the recording started, in milliseconds since 1970.
        public var startedAtUnixMillis: Int64
        public var clockRate: UInt32
    }

    /// What the core knows when it finishes the file.
    public struct Summary: Sendable {
        /// Bytes to write at offset 0 before closing (IVF: the header with the frame count).
        public var finalHeader: [UInt8]?
        public var frames: UInt64
        public var framesSkipped: UInt64
        /// From the first to the last frame's timestamp.
        public var durationNanoseconds: Int64
        /// The first frame's wall-clock time from the publisher's RTCP sender reports, in
        /// microseconds since 1970; nil when no sender report came.
        public var firstFrameUnixMicros: Int64?
        /// When the first frame arrived here, by this server's clock (microseconds since 1970).
        public var firstFrameArrivalUnixMicros: Int64?
    }

    public enum DamageReason: String, Sendable {
        /// The writer did not keep up: the recording's queue was full.
        case queueFull = "queue_full"
        /// The disk refused a write (full, I/O error) or the file could not be created.
        case writeError = "write_error"
    }

    public let description: Description
    public let ring: ByteRing
    private let damage = Atomic<UInt8>(0)  // 0, or 1 + the index of the DamageReason
    private let summary = Mutex<Summary?>(nil)

    public init(_ description: Description, queueBytes: Int) {
        self.description = description
        ring = ByteRing(capacity: queueBytes)
    }

    /// Set once, by whichever side found it first; the core stops producing.
    public var damageReason: DamageReason? {
        switch damage.load(ordering: .relaxed) {
        case 1: .queueFull
        case 2: .writeError
        default: nil
        }
    }

    /// True if this call marked it (the first reason sticks).
    @discardableResult
    public func markDamaged(_ reason: DamageReason) -> Bool {
        damage.compareExchange(expected: 0, desired: reason == .queueFull ? 1 : 2, ordering: .relaxed).exchanged
    }

    /// Core: the file is complete once the ring has been drained.
    public func finish(_ s: Summary) { summary.withLock { $0 = s } }

    /// Writer: the summary once the core has finished the file.
    public var finished: Summary? { summary.withLock { $0 } }
}
