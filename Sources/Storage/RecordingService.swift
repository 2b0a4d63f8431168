import Glibc
import Reactor
import SFU

/// Recording as the server runs it (`RECORD_ENABLED`): the catalog read back from the
/// sidecars, files a crash left unfinished recovered, and the writer thread started, before
/// the first core can record. `settings` is what each core's rooms need.
public final class RecordingService: Sendable {
    public let catalog: RecordingCatalog
    public let counters: RecordingCounters
    public let writer: RecordingWriter
    /// Entries finalised at start-up (recovered), for the upload queue.
    public let recovered: [RecordingEntry]

    /// `closed` is told of every file the writer closes (uploads start there).
    public init(
        directory: String, log: @escaping @Sendable (String) -> Void,
        closed: @escaping @Sendable (RecordingEntry) -> Void = { _ in }
    ) throws(RecordingServiceError) {
        guard FileSystem.makeDirectories(directory) else {
            throw .directory(directory, FileSystem.errorText(errno))
        }
        catalog = RecordingCatalog.load(directory: directory, log: log)
        recovered = RecordingRecovery.run(catalog, log: log)
        counters = RecordingCounters()
        writer = RecordingWriter(catalog: catalog, counters: counters, events: .init(log: log, closed: closed))
        do {
            try writer.start()
        } catch {
            throw .thread("\(error)")
        }
    }

    /// For `RoomManagerConfiguration.recording`.
    public var settings: RecordingSettings {
        let writer = self.writer
        return RecordingSettings(counters: counters, wallClockMillis: Self.wallClockMillis) { writer.register($0) }
    }

    /// Closes what the cores finished (call after they stopped), waiting at most `timeout`.
    public func stop(timeout: Duration) { writer.stop(timeout: timeout) }

    @Sendable static func wallClockMillis() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }
}

public enum RecordingServiceError: Error, CustomStringConvertible {
    case directory(String, String)
    case thread(String)

    public var description: String {
        switch self {
        case .directory(let path, let reason): "cannot create RECORD_DIR \(path): \(reason)"
        case .thread(let reason): "cannot start the recording writer: \(reason)"
        }
    }
}
