import Glibc
import S3

/// Uploads (`UPLOAD_RECORDINGS`) as the recordings' catalog sees them: a finalised file is
/// queued, its entry goes `uploading` → `uploaded` (or `failed`, with S3's message), and with
/// `DELETE_RECORDING_AFTER_UPLOAD` the local file is removed only once HeadObject has confirmed
/// the object's size. The queue is durable through the sidecars: at start-up every entry left
/// `finalised` or `uploading` (a restart, a kill -9 mid-upload, a full queue) is queued again,
/// and a multipart upload starts over.
public final class UploadCoordinator: Sendable {
    public struct Options: Sendable {
        public var s3: S3Configuration
        public var retry: RetryPolicy
        public var concurrency: Int
        public var deleteAfterUpload: Bool
        /// How long running uploads may go on at shutdown before they are cut off (they are
        /// queued again at the next start).
        public var shutdownGrace: Swift.Duration = .seconds(5)

        public init(s3: S3Configuration, retry: RetryPolicy, concurrency: Int, deleteAfterUpload: Bool) {
            self.s3 = s3
            self.retry = retry
            self.concurrency = concurrency
            self.deleteAfterUpload = deleteAfterUpload
        }
    }

    private let catalog: RecordingCatalog
    private let queue: UploadQueue
    private let log: @Sendable (String) -> Void
    let options: Options

    public init(catalog: RecordingCatalog, options: Options, log: @escaping @Sendable (String) -> Void) throws(S3Error) {
        self.catalog = catalog
        self.options = options
        self.log = log
        let deleteAfter = options.deleteAfterUpload
        queue = try UploadQueue(configuration: options.s3, retryPolicy: options.retry, concurrency: options.concurrency) {
            Self.handle($0, catalog: catalog, deleteAfterUpload: deleteAfter, log: log)
        }
    }

    public var counters: UploadCounters { queue.counters }

    /// Queues every entry a previous run left to upload, and those whose upload failed (the
    /// operator may have fixed the credentials); returns how many.
    @discardableResult
    public func resumePending() -> Int {
        var n = 0
        for e in catalog.entries() where e.state == .finalised || e.state == .uploading || e.state == .failed {
            if enqueue(e) { n += 1 }
        }
        return n
    }

    /// Queues a finalised file (a damaged one is kept local: it is not what was published).
    @discardableResult
    public func enqueue(_ entry: RecordingEntry) -> Bool {
        guard entry.state != .recording, entry.state != .damaged, entry.state != .uploaded, !entry.localFileDeleted
        else { return false }
        let job = UploadJob(
            id: entry.name, path: catalog.directory + "/" + entry.name, key: entry.name, contentType: entry.contentType)
        switch queue.enqueue(job) {
        case .accepted:
            return true
        case .full:
            log("upload queue full: \(entry.name) stays finalised and is queued again at the next start")
            return false
        case .shuttingDown:
            return false
        }
    }

    /// Stops taking uploads; running ones get the grace period, then are cut off. What did
    /// not finish keeps its state and is queued again at the next start.
    public func stop(grace: Swift.Duration? = nil) {
        _ = queue.shutdown(gracePeriod: grace ?? options.shutdownGrace)
    }

    private static func handle(
        _ event: UploadEvent, catalog: RecordingCatalog, deleteAfterUpload: Bool, log: (String) -> Void
    ) {
        switch event {
        case .started(let job, let key):
            catalog.update(job.id) { e in
                e.state = .uploading
                e.objectKey = key
            }
        case .retrying(let job, let notice):
            log("upload of \(job.id): \(notice.operation) attempt \(notice.attempt) failed (\(notice.reason)); retrying in \(notice.delay)")
        case .uploaded(let job, let key, _, let etag):
            var deleted = false
            if deleteAfterUpload {
                deleted = unlink(job.path) == 0
                if !deleted { log("uploaded \(job.id), but cannot delete it: \(String(cString: strerror(errno)))") }
            }
            catalog.update(job.id) { e in
                e.state = .uploaded
                e.objectKey = key
                e.etag = etag
                e.error = nil
                e.localFileDeleted = deleted
            }
            log("uploaded \(job.id) as \(key)")
        case .failed(let job, let error):
            catalog.update(job.id) { e in
                e.state = .failed
                e.error = error.description
            }
            log("upload of \(job.id) failed: \(error.description)")
        case .interrupted:
            break  // stays `uploading`: queued again at the next start
        }
    }
}
