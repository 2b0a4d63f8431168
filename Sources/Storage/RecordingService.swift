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
    /// Entries finalised at start-up (recovered).
    public let recovered: [RecordingEntry]
    /// With `UPLOAD_RECORDINGS`: every file the writer finalises is uploaded.
    public let uploads: UploadCoordinator?

    public init(
        directory: String, uploads options: UploadCoordinator.Options? = nil, log: @escaping @Sendable (String) -> Void
    ) throws(RecordingServiceError) {
        guard FileSystem.makeDirectories(directory) else {
            throw .directory(directory, FileSystem.errorText(errno))
        }
        catalog = RecordingCatalog.load(directory: directory, log: log)
        recovered = RecordingRecovery.run(catalog, log: log)
        counters = RecordingCounters()
        if let options {
            do {
                uploads = try UploadCoordinator(catalog: catalog, options: options, log: log)
            } catch {
                throw .uploads(error.description)
            }
        } else {
            uploads = nil
        }
        let uploads = self.uploads
        writer = RecordingWriter(
            catalog: catalog, counters: counters, events: .init(log: log, closed: { uploads?.enqueue($0) }))
        do {
            try writer.start()
        } catch {
            throw .thread("\(error)")
        }
        uploads?.resumePending()
    }

    /// For `RoomManagerConfiguration.recording`.
    public var settings: RecordingSettings {
        let writer = self.writer
        return RecordingSettings(counters: counters, wallClockMillis: Self.wallClockMillis) { writer.register($0) }
    }

    /// Closes what the cores finished (call after they stopped), waiting at most `timeout`,
    /// then gives running uploads their grace period.
    public func stop(timeout: Duration) {
        writer.stop(timeout: timeout)
        uploads?.stop()
    }

    @Sendable static func wallClockMillis() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }
}

public enum RecordingServiceError: Error, CustomStringConvertible {
    case directory(String, String)
    case thread(String)
    case uploads(String)

    public var description: String {
        switch self {
        case .directory(let path, let reason): "cannot create RECORD_DIR \(path): \(reason)"
        case .thread(let reason): "cannot start the recording writer: \(reason)"
        case .uploads(let reason): "cannot start uploads: \(reason)"
        }
    }
}
