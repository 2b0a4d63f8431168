import Glibc

/// What HeadObject says of an object.
public struct S3ObjectInfo: Sendable, Equatable {
    public var size: Int64
    /// As S3 sends it, quotes included (`"9b2cf535f27731c974343645a3985328"`, `"…-3"` for a
    /// multipart object); nil if the service sent none.
    public var etag: String?

    public init(size: Int64, etag: String?) {
        self.size = size
        self.etag = etag
    }
}

/// A retry about to happen, reported by `S3Client.upload` before it backs off.
public struct S3RetryNotice: Sendable, Equatable {
    /// The operation that failed (`PutObject`, `UploadPart 2`, …).
    public var operation: String
    /// Tries made so far of that operation (1 after the first failure).
    public var attempt: Int
    public var delay: Duration
    /// The failure, as `S3Error.description`.
    public var reason: String
}

/// A blocking S3 client over one libcurl easy handle: for an upload worker thread, never a
/// media core. Not `Sendable`: one thread owns it (its handle keeps the connection open
/// between requests). Each operation method makes one try; `upload` runs the whole
/// procedure with retries.
public final class S3Client {
    public let configuration: S3Configuration
    public let retryPolicy: RetryPolicy
    private let control: UploadControl
    private let session: CurlSession
    private var random = SystemRandomNumberGenerator()

    /// `control` lets another thread stop or abort what this client is doing.
    public init(configuration: S3Configuration, retryPolicy: RetryPolicy = RetryPolicy(), control: UploadControl = UploadControl()) {
        self.configuration = configuration
        self.retryPolicy = retryPolicy
        self.control = control
        self.session = CurlSession(configuration: configuration, control: control)
    }

    // MARK: The whole upload

    /// Uploads the file at `path` as `key` (a full key: see `S3Configuration.objectKey`):
    /// one PutObject below `multipartThreshold`, else a multipart upload (a failed one is
    /// aborted). Every request is retried on its own per `retryPolicy`, reported through
    /// `onRetry` before the back-off. Ends with HeadObject: the object must have the file's
    /// size (and the ETag the upload returned), else `.confirmation`.
    public func upload(path: String, key: String, contentType: String, onRetry: (S3RetryNotice) -> Void = { _ in }) throws(S3Error) -> S3ObjectInfo {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .file(path: path, errno: errno) }
        defer { close(fd) }
        var status = stat()
        guard fstat(fd, &status) == 0 else { throw .file(path: path, errno: errno) }
        let size = Int64(status.st_size)
        let file = FileRange(fd: fd, path: path, offset: 0, length: size)

        let etag: String?
        if size < configuration.multipartThreshold {
            etag = try retrying("PutObject", onRetry) { () throws(S3Error) in try putObject(key: key, file: file, contentType: contentType) }
        } else {
            etag = try multipartUpload(key: key, file: file, contentType: contentType, onRetry: onRetry)
        }
        let info = try retrying("HeadObject", onRetry) { () throws(S3Error) in try headObject(key: key) }
        guard info.size == size else {
            throw .confirmation(detail: "\(key) is \(info.size) bytes, the file \(size)")
        }
        if let etag, let found = info.etag, etag != found {
            throw .confirmation(detail: "\(key) has ETag \(found), the upload returned \(etag)")
        }
        return info
    }

    private func multipartUpload(key: String, file: FileRange, contentType: String, onRetry: (S3RetryNotice) -> Void) throws(S3Error) -> String? {
        guard let plan = MultipartPlan(fileSize: file.length, preferredPartSize: configuration.partSize) else {
            throw .invalidRequest("\(file.path): \(file.length) bytes cannot be cut into 10,000 parts of at most 5 GiB")
        }
        let uploadID = try retrying("CreateMultipartUpload", onRetry) { () throws(S3Error) in
            try createMultipartUpload(key: key, contentType: contentType)
        }
        do throws(S3Error) {
            var parts: [(number: Int, etag: String)] = []
            parts.reserveCapacity(plan.partCount)
            for number in 1...plan.partCount {
                let (offset, length) = plan.range(ofPart: number)
                let part = FileRange(fd: file.fd, path: file.path, offset: offset, length: length)
                let etag = try retrying("UploadPart \(number)", onRetry) { () throws(S3Error) in
                    try uploadPart(key: key, uploadID: uploadID, partNumber: number, file: part)
                }
                parts.append((number, etag))
            }
            var tries = 0
            return try retrying("CompleteMultipartUpload", onRetry) { () throws(S3Error) -> String? in
                tries += 1
                do throws(S3Error) {
                    return try completeMultipartUpload(key: key, uploadID: uploadID, parts: parts)
                } catch .status(_, 404, "NoSuchUpload", _) where tries > 1 {
                    // An earlier try completed the upload but its answer was lost: HeadObject
                    // (next) tells whether the object is there and whole.
                    return nil
                }
            }
        } catch {
            abandon(key: key, uploadID: uploadID)
            throw error
        }
    }

    /// Aborts a multipart upload that cannot end, so its parts are not kept (and billed).
    /// A few quick tries; not after an abort of the transfers (shutdown past its deadline),
    /// where a bucket lifecycle rule (AbortIncompleteMultipartUpload) must clean up.
    private func abandon(key: String, uploadID: String) {
        guard !control.abortRequested else { return }
        let policy = RetryPolicy(maxAttempts: min(retryPolicy.maxAttempts, 3), baseDelay: retryPolicy.baseDelay, maxDelay: retryPolicy.maxDelay)
        var attempt = 1
        while true {
            do throws(S3Error) {
                try abortMultipartUpload(key: key, uploadID: uploadID)
                return
            } catch {
                guard let delay = policy.nextDelay(after: error, attempt: attempt, using: &random), control.sleep(for: delay) else { return }
                attempt += 1
            }
        }
    }

    /// Runs `body` until it succeeds, gives up (not retryable, or out of tries: the last error
    /// is thrown) or a stop is requested at a retry point (`.interrupted`).
    private func retrying<T>(_ operation: String, _ onRetry: (S3RetryNotice) -> Void, _ body: () throws(S3Error) -> T) throws(S3Error) -> T {
        var attempt = 1
        while true {
            do throws(S3Error) {
                return try body()
            } catch {
                if case .interrupted = error { throw error }
                guard let delay = retryPolicy.nextDelay(after: error, attempt: attempt, using: &random) else { throw error }
                if control.stopRequested { throw .interrupted(operation: operation) }
                onRetry(S3RetryNotice(operation: operation, attempt: attempt, delay: delay, reason: error.description))
                guard control.sleep(for: delay) else { throw .interrupted(operation: operation) }
                attempt += 1
            }
        }
    }

    // MARK: One try of each operation

    /// A byte range of an open file: the body of a PutObject or UploadPart.
    public struct FileRange: Sendable {
        public var fd: Int32
        public var path: String
        public var offset: Int64
        public var length: Int64

        public init(fd: Int32, path: String, offset: Int64, length: Int64) {
            self.fd = fd
            self.path = path
            self.offset = offset
            self.length = length
        }
    }

    /// PutObject; returns the ETag.
    public func putObject(key: String, file: FileRange, contentType: String) throws(S3Error) -> String? {
        let response = try send(
            "PutObject", "PUT", key: key, headers: ["Content-Type: \(contentType)"],
            body: .file(fd: file.fd, path: file.path, offset: file.offset, length: file.length),
            payloadHash: try PayloadHash.of(fd: file.fd, offset: file.offset, length: file.length, path: file.path))
        return response.etag
    }

    /// CreateMultipartUpload; returns the UploadId. `contentType` is the object's.
    public func createMultipartUpload(key: String, contentType: String) throws(S3Error) -> String {
        let response = try send("CreateMultipartUpload", "POST", key: key, query: [("uploads", "")], headers: ["Content-Type: \(contentType)"])
        guard let id = S3XML.field("UploadId", in: response.body), !id.isEmpty else {
            throw .malformedResponse(operation: "CreateMultipartUpload", detail: "no UploadId")
        }
        return id
    }

    /// UploadPart; returns the part's ETag.
    public func uploadPart(key: String, uploadID: String, partNumber: Int, file: FileRange) throws(S3Error) -> String {
        let operation = "UploadPart \(partNumber)"
        let response = try send(
            operation, "PUT", key: key, query: [("partNumber", String(partNumber)), ("uploadId", uploadID)],
            body: .file(fd: file.fd, path: file.path, offset: file.offset, length: file.length),
            payloadHash: try PayloadHash.of(fd: file.fd, offset: file.offset, length: file.length, path: file.path))
        guard let etag = response.etag, !etag.isEmpty else { throw .malformedResponse(operation: operation, detail: "no ETag") }
        return etag
    }

    /// CompleteMultipartUpload; returns the object's ETag. An `<Error>` in a 200 answer (S3
    /// sends one when it fails after it started answering) is an error.
    public func completeMultipartUpload(key: String, uploadID: String, parts: [(number: Int, etag: String)]) throws(S3Error) -> String? {
        let body = Array(S3XML.completeMultipartUpload(parts: parts).utf8)
        let response = try send(
            "CompleteMultipartUpload", "POST", key: key, query: [("uploadId", uploadID)], headers: ["Content-Type: application/xml"],
            body: .bytes(body), payloadHash: PayloadHash.of(body))
        if S3XML.isError(response.body) { throw Self.error("CompleteMultipartUpload", response) }
        return S3XML.field("ETag", in: response.body) ?? response.etag
    }

    /// AbortMultipartUpload.
    public func abortMultipartUpload(key: String, uploadID: String) throws(S3Error) {
        _ = try send("AbortMultipartUpload", "DELETE", key: key, query: [("uploadId", uploadID)])
    }

    /// HeadObject: the object's size and ETag.
    public func headObject(key: String) throws(S3Error) -> S3ObjectInfo {
        let response = try send("HeadObject", "HEAD", key: key)
        guard let size = response.contentLength else { throw .malformedResponse(operation: "HeadObject", detail: "no Content-Length") }
        return S3ObjectInfo(size: size, etag: response.etag)
    }

    private func send(
        _ operation: String, _ method: String, key: String, query: [(String, String)] = [], headers: [String] = [],
        body: S3HTTPRequest.Body = .none, payloadHash: String = PayloadHash.empty
    ) throws(S3Error) -> S3HTTPResponse {
        guard !key.isEmpty, key.utf8.count <= 1024 else { throw .invalidRequest("S3 key `\(key.prefix(64))…` is empty or longer than 1024 bytes") }
        var request = S3HTTPRequest(operation: operation, method: method, url: configuration.url(forKey: key, query: query), payloadHash: payloadHash)
        // libcurl's own `Expect: 100-continue` (bodies over 1 MiB) stays: S3 refuses a bad
        // signature before the part is sent. It cannot be removed with an empty `Expect:`
        // header, which libcurl 7.88's SigV4 signs but does not send (SignatureDoesNotMatch).
        request.headers = headers
        request.body = body
        let response = try session.perform(request)
        guard (200..<300).contains(response.status) else { throw Self.error(operation, response) }
        return response
    }

    private static func error(_ operation: String, _ response: S3HTTPResponse) -> S3Error {
        .status(
            operation: operation, status: response.status, code: S3XML.field("Code", in: response.body),
            message: S3XML.field("Message", in: response.body))
    }
}
