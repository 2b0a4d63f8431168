/// A file for the upload queue to put in the bucket.
public struct UploadJob: Sendable, Equatable {
    /// The owner's own identifier, handed back in every event (a recording's name, say).
    public var id: String
    /// The local file; read, never changed or removed.
    public var path: String
    /// The object key below `S3Configuration.keyPrefix` (the queue puts the prefix in front).
    public var key: String
    /// The object's `Content-Type` (`video/x-ivf`, `audio/ogg`, …).
    public var contentType: String

    public init(id: String, path: String, key: String, contentType: String) {
        self.id = id
        self.path = path
        self.key = key
        self.contentType = contentType
    }
}

/// What happens to a job, reported on the worker thread that runs it (a callback must not
/// block for long: the worker waits for it).
public enum UploadEvent: Sendable, Equatable {
    /// A worker took the job; `objectKey` is the full key (prefix included).
    case started(UploadJob, objectKey: String)
    /// A request failed and is tried again after `notice.delay`.
    case retrying(UploadJob, S3RetryNotice)
    /// The object is in the bucket and HeadObject confirmed its size (and ETag).
    case uploaded(UploadJob, objectKey: String, size: Int64, etag: String?)
    /// Given up: `error.description` is the message for logs and `/api/records`. A failed
    /// multipart upload was aborted.
    case failed(UploadJob, error: S3Error)
    /// Stopped by `shutdown` before it ended; `shutdown` returns it, to be uploaded again
    /// later.
    case interrupted(UploadJob)
}

/// The queue's figures, for metrics.
public struct UploadCounters: Sendable, Equatable {
    /// Jobs ended by outcome since the queue started.
    public var uploaded = 0
    public var failed = 0
    public var interrupted = 0
    /// Requests tried again.
    public var retries = 0
    /// Jobs waiting for a worker.
    public var queued = 0
    /// Jobs a worker is on.
    public var running = 0
    /// How long the oldest waiting job has waited (`.zero` when none waits).
    public var oldestQueuedAge: Duration = .zero

    public init() {}
}
