/// What a core needs to record its rooms (`RECORD_ENABLED`): where new files go and the
/// figures it adds to. The writer thread that owns the files lives outside the room layer.
public struct RecordingSettings: Sendable {
    /// Hands a new file to the writer thread (called when a publisher connects, never per
    /// packet).
    public var register: @Sendable (RecordingFile) -> Void
    /// Wall-clock milliseconds since 1970, for file names (the room layer reads no clock).
    public var wallClockMillis: @Sendable () -> Int64
    public var counters: RecordingCounters
    /// Each recording's queue to the writer: what it holds when the disk stalls (about 16 s
    /// of a 2 Mbps video track, 60 s of 64 kbps Opus) before the recording is damaged.
    public var videoQueueBytes = 4 << 20
    public var audioQueueBytes = 512 << 10

    public init(
        counters: RecordingCounters, wallClockMillis: @escaping @Sendable () -> Int64,
        register: @escaping @Sendable (RecordingFile) -> Void
    ) {
        self.counters = counters
        self.wallClockMillis = wallClockMillis
        self.register = register
    }

    /// A track ID from the publisher's SDP as it may appear in a file name: letters, digits,
    /// `-` and `_`, at most 64 characters; nil when nothing is left.
    public static func sanitisedTrackID(_ id: String?) -> String? {
        guard let id else { return nil }
        let kept = id.unicodeScalars.filter {
            ($0 >= "a" && $0 <= "z") || ($0 >= "A" && $0 <= "Z") || ($0 >= "0" && $0 <= "9") || $0 == "-" || $0 == "_"
        }.prefix(64)
        return kept.isEmpty ? nil : String(String.UnicodeScalarView(kept))
    }
}
