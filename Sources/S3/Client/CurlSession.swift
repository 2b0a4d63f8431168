import CCurl
import Glibc

/// One request as `S3Client` makes it: the method, the full URL, the headers besides the
/// ones libcurl adds (Host, Authorization, X-Amz-Date), and the body.
struct S3HTTPRequest {
    enum Body {
        case none
        case bytes([UInt8])
        /// `length` bytes of the open file `fd` from `offset`, streamed by a read callback.
        case file(fd: Int32, path: String, offset: Int64, length: Int64)
    }

    var operation: String
    /// GET, HEAD, PUT, POST or DELETE.
    var method: String
    var url: String
    /// `x-amz-content-sha256` (the hex SHA-256 of the body), signed by libcurl's SigV4.
    var payloadHash: String
    var headers: [String] = []
    var body: Body = .none
}

/// What `S3Client` reads of an answer.
struct S3HTTPResponse {
    var status: Int
    var etag: String?
    var contentLength: Int64?
    /// The first `S3XML.maximumBodyBytes` of the body.
    var body: [UInt8]
}

/// A libcurl easy handle, reused request after request: its connection cache keeps the
/// connection to the endpoint open between parts. Blocking; owned by one thread (not
/// `Sendable`). Signing is libcurl's CURLOPT_AWS_SIGV4, never hand-written.
final class CurlSession {
    private let configuration: S3Configuration
    private let control: UploadControl?
    private var handle: UnsafeMutableRawPointer?
    private let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE) + 1)

    /// libcurl's process-wide set-up, once, before any handle (curl_global_init is not
    /// thread-safe in every build).
    private static let globalInit: Void = { _ = curl_global_init(Int(CURL_GLOBAL_DEFAULT)) }()

    init(configuration: S3Configuration, control: UploadControl?) {
        Self.globalInit
        self.configuration = configuration
        self.control = control
        self.handle = curl_easy_init()
    }

    deinit {
        if let handle { curl_easy_cleanup(handle) }
        errorBuffer.deallocate()
    }

    /// Makes one exchange. An HTTP error status is a response here, not an error: only a
    /// failure to exchange at all (connection, timeout, abort, file read) throws.
    func perform(_ request: S3HTTPRequest) throws(S3Error) -> S3HTTPResponse {
        guard let handle else {
            throw .transport(operation: request.operation, curlCode: Int(CURLE_FAILED_INIT.rawValue), retryable: false, message: "curl_easy_init failed")
        }
        curl_easy_reset(handle)
        errorBuffer[0] = 0
        let transfer = Transfer(control: control)
        if case .file(let fd, let path, let offset, let length) = request.body {
            transfer.source = (fd, path, offset, length)
        }
        let context = Unmanaged.passRetained(transfer)
        defer { context.release() }
        let pointer = context.toOpaque()

        var headers: UnsafeMutablePointer<curl_slist>?
        for header in request.headers + ["x-amz-content-sha256: \(request.payloadHash)"] {
            headers = curl_slist_append(headers, header)
        }
        defer { curl_slist_free_all(headers) }

        var ok = true
        func set(_ result: CURLcode) { ok = ok && result == CURLE_OK }
        set(lsfu_curl_setopt_string(handle, CURLOPT_URL, request.url))
        set(lsfu_curl_setopt_pointer(handle, CURLOPT_ERRORBUFFER, errorBuffer))
        set(lsfu_curl_setopt_string(handle, CURLOPT_AWS_SIGV4, configuration.sigV4Provider))
        set(lsfu_curl_setopt_string(handle, CURLOPT_USERNAME, configuration.accessKey))
        set(lsfu_curl_setopt_string(handle, CURLOPT_PASSWORD, configuration.secretKey))
        if let caFile = configuration.caFile { set(lsfu_curl_setopt_string(handle, CURLOPT_CAINFO, caFile)) }
        // The key is sent as written: `./` and `../` are parts of S3 keys, not path steps.
        set(lsfu_curl_setopt_long(handle, CURLOPT_PATH_AS_IS, 1))
        // Worker threads: no SIGALRM-based resolver timeouts.
        set(lsfu_curl_setopt_long(handle, CURLOPT_NOSIGNAL, 1))
        set(lsfu_curl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, Int(configuration.connectTimeout.milliseconds)))
        set(lsfu_curl_setopt_long(handle, CURLOPT_LOW_SPEED_LIMIT, configuration.stallBytesPerSecond))
        set(lsfu_curl_setopt_long(handle, CURLOPT_LOW_SPEED_TIME, max(1, Int(configuration.stallTimeout.milliseconds / 1000))))
        if configuration.requestTimeout > .zero {
            set(lsfu_curl_setopt_long(handle, CURLOPT_TIMEOUT_MS, Int(configuration.requestTimeout.milliseconds)))
        }
        set(lsfu_curl_setopt_slist(handle, CURLOPT_HTTPHEADER, headers))
        set(lsfu_curl_setopt_write(handle, CURLOPT_WRITEFUNCTION, Transfer.write))
        set(lsfu_curl_setopt_pointer(handle, CURLOPT_WRITEDATA, pointer))
        set(lsfu_curl_setopt_write(handle, CURLOPT_HEADERFUNCTION, Transfer.header))
        set(lsfu_curl_setopt_pointer(handle, CURLOPT_HEADERDATA, pointer))
        set(lsfu_curl_setopt_long(handle, CURLOPT_NOPROGRESS, 0))
        set(lsfu_curl_setopt_xferinfo(handle, CURLOPT_XFERINFOFUNCTION, Transfer.progress))
        set(lsfu_curl_setopt_pointer(handle, CURLOPT_XFERINFODATA, pointer))

        switch request.body {
        case .none:
            switch request.method {
            case "HEAD": set(lsfu_curl_setopt_long(handle, CURLOPT_NOBODY, 1))
            case "GET": break
            case "POST":
                set(lsfu_curl_setopt_off(handle, CURLOPT_POSTFIELDSIZE_LARGE, 0))
                set(lsfu_curl_setopt_string(handle, CURLOPT_COPYPOSTFIELDS, ""))
            default: set(lsfu_curl_setopt_string(handle, CURLOPT_CUSTOMREQUEST, request.method))
            }
        case .bytes(let bytes):
            set(lsfu_curl_setopt_off(handle, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(bytes.count)))
            bytes.withUnsafeBufferPointer { buffer in
                set(lsfu_curl_setopt_pointer(handle, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: buffer.baseAddress)))
            }
            if request.method != "POST" { set(lsfu_curl_setopt_string(handle, CURLOPT_CUSTOMREQUEST, request.method)) }
        case .file(_, _, _, let length):
            set(lsfu_curl_setopt_long(handle, CURLOPT_UPLOAD, 1))
            set(lsfu_curl_setopt_off(handle, CURLOPT_INFILESIZE_LARGE, curl_off_t(length)))
            set(lsfu_curl_setopt_read(handle, CURLOPT_READFUNCTION, Transfer.read))
            set(lsfu_curl_setopt_pointer(handle, CURLOPT_READDATA, pointer))
            set(lsfu_curl_setopt_seek(handle, CURLOPT_SEEKFUNCTION, Transfer.seek))
            set(lsfu_curl_setopt_pointer(handle, CURLOPT_SEEKDATA, pointer))
            if request.method != "PUT" { set(lsfu_curl_setopt_string(handle, CURLOPT_CUSTOMREQUEST, request.method)) }
        }
        guard ok else {
            throw .transport(operation: request.operation, curlCode: Int(CURLE_BAD_FUNCTION_ARGUMENT.rawValue), retryable: false,
                             message: "libcurl refused an option (built without AWS SigV4 or HTTPS?)")
        }

        let result = curl_easy_perform(handle)
        if result != CURLE_OK {
            if let (path, code) = transfer.readFailure { throw .file(path: path, errno: code) }
            if result == CURLE_ABORTED_BY_CALLBACK { throw .interrupted(operation: request.operation) }
            let detail = errorBuffer[0] != 0 ? String(cString: errorBuffer) : String(cString: curl_easy_strerror(result))
            throw .transport(operation: request.operation, curlCode: Int(result.rawValue), retryable: Self.isRetryable(result), message: detail)
        }
        var status = 0
        _ = lsfu_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        return S3HTTPResponse(status: status, etag: transfer.etag, contentLength: transfer.contentLength, body: transfer.body)
    }

    /// Failures another try can get past: the network, the peer, time.
    static func isRetryable(_ code: CURLcode) -> Bool {
        [CURLE_COULDNT_RESOLVE_PROXY, CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_CONNECT, CURLE_WEIRD_SERVER_REPLY,
         CURLE_HTTP2, CURLE_PARTIAL_FILE, CURLE_OPERATION_TIMEDOUT, CURLE_SSL_CONNECT_ERROR, CURLE_GOT_NOTHING,
         CURLE_SEND_ERROR, CURLE_RECV_ERROR, CURLE_HTTP2_STREAM, CURLE_HTTP3].contains(code)
    }
}

/// The state one `perform` shares with libcurl's C callbacks through their user pointer.
private final class Transfer {
    let control: UploadControl?
    var source: (fd: Int32, path: String, offset: Int64, length: Int64)?
    var position: Int64 = 0
    var readFailure: (path: String, errno: Int32)?
    var body: [UInt8] = []
    var etag: String?
    var contentLength: Int64?

    init(control: UploadControl?) { self.control = control }

    static func from(_ pointer: UnsafeMutableRawPointer?) -> Transfer {
        Unmanaged<Transfer>.fromOpaque(pointer!).takeUnretainedValue()
    }

    /// Request body: the next bytes of the file range, read with pread (the file offset is
    /// never moved, so a seek is only a new position).
    static let read: curl_read_callback = { buffer, size, count, user in
        let transfer = Transfer.from(user)
        guard let source = transfer.source, let buffer else { return 0 }
        let want = min(size * count, Int(source.length - transfer.position))
        if want <= 0 { return 0 }
        while true {
            let n = pread(source.fd, buffer, want, off_t(source.offset + transfer.position))
            if n < 0, errno == EINTR { continue }
            if n <= 0 {
                // A file that shrank is as wrong as one that cannot be read.
                transfer.readFailure = (source.path, n < 0 ? errno : EIO)
                return 0x1000_0000  // CURL_READFUNC_ABORT
            }
            transfer.position += Int64(n)
            return n
        }
    }

    /// libcurl rewinds the body when it must send it again on the same request.
    static let seek: curl_seek_callback = { user, offset, origin in
        let transfer = Transfer.from(user)
        guard let source = transfer.source, origin == SEEK_SET, offset >= 0, Int64(offset) <= source.length else { return 2 }  // CANTSEEK
        transfer.position = Int64(offset)
        return 0  // CURL_SEEKFUNC_OK
    }

    /// Answer body: kept up to S3XML's bound (errors and XML answers are small), the rest
    /// counted as taken and dropped.
    static let write: curl_write_callback = { data, size, count, user in
        let transfer = Transfer.from(user)
        let total = size * count
        let room = S3XML.maximumBodyBytes - transfer.body.count
        if room > 0, let data {
            data.withMemoryRebound(to: UInt8.self, capacity: total) { bytes in
                transfer.body.append(contentsOf: UnsafeBufferPointer(start: bytes, count: min(room, total)))
            }
        }
        return total
    }

    /// Answer headers, one line per call: ETag and Content-Length of the final answer (a new
    /// status line, after `100 Continue`, starts over).
    static let header: curl_write_callback = { data, size, count, user in
        let transfer = Transfer.from(user)
        let total = size * count
        guard let data, total < 8192 else { return total }
        let line = data.withMemoryRebound(to: UInt8.self, capacity: total) { bytes in
            String(decoding: UnsafeBufferPointer(start: bytes, count: total), as: UTF8.self)
        }
        if line.hasPrefix("HTTP/") {
            transfer.etag = nil
            transfer.contentLength = nil
            return total
        }
        guard let colon = line.firstIndex(of: ":") else { return total }
        let name = line[..<colon].lowercased()
        let value = line[line.index(after: colon)...].trimmingCharacters(in: " \t\r\n")
        if name == "etag" { transfer.etag = value }
        if name == "content-length" { transfer.contentLength = Int64(value) }
        return total
    }

    /// Called by libcurl at least once a second during a transfer: non-zero makes it give up.
    static let progress: curl_xferinfo_callback = { user, _, _, _, _ in
        Transfer.from(user).control?.abortRequested == true ? 1 : 0
    }
}

extension Substring {
    fileprivate func trimmingCharacters(in set: String) -> String {
        var text = self
        while let first = text.first, set.contains(first) { text = text.dropFirst() }
        while let last = text.last, set.contains(last) { text = text.dropLast() }
        return String(text)
    }
}
