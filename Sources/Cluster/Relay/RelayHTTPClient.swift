import CCurl
import CShim
import Glibc
import Reactor
import Synchronization

/// The edges' HTTP to their origins (`CLUSTER_MODE=edge`): the relay's WHEP POST and, when a
/// relay ends, the DELETE of its session. Blocking libcurl on one thread of its own, never on
/// a core: cores `submit` an exchange and get the answer through their mailbox (the `deliver`
/// closure they pass posts it there), as with the directory.
///
/// Each exchange is one attempt bounded by `timeout` (connect included) with a bounded answer
/// (`maxAnswerBytes`); the queue holds at most `maxQueued`. Exchanges run one after another:
/// a relay is set up once per room per edge, so they are few, and an origin that never answers
/// holds the others back by at most `timeout` each.
public final class RelayHTTPClient: Sendable {
    public struct Request: Sendable {
        /// `POST` or `DELETE`.
        public var method: String
        public var url: String
        public var headers: [String]
        public var body: String?

        public init(method: String, url: String, headers: [String], body: String? = nil) {
            self.method = method
            self.url = url
            self.headers = headers
            self.body = body
        }
    }

    public struct Response: Sendable, Equatable {
        public var status: Int
        /// The `Location` header, as sent.
        public var location: String?
        /// The first `maxAnswerBytes` of the body, as UTF-8 text.
        public var body: String

        public init(status: Int, location: String?, body: String) {
            self.status = status
            self.location = location
            self.body = body
        }
    }

    /// An answer (any status), or why there was none (connection, timeout, too large).
    public typealias Outcome = Result<Response, RelayHTTPError>

    public static let maxQueued = 256
    /// An SDP answer is a few kB; anything much larger is not one.
    public static let maxAnswerBytes = 64 * 1024

    public let timeout: Duration

    private struct Job: Sendable {
        var request: Request
        var deliver: @Sendable (Outcome) -> Void
    }

    private struct Inbox: Sendable {
        var jobs: [Job] = []
        var stopping = false
    }

    private let inbox = Mutex(Inbox())
    private let thread = Mutex<OSThread?>(nil)
    private let wakeFD: Int32

    public init(timeout: Duration) {
        self.timeout = timeout
        // libcurl's process-wide set-up, before the thread (not thread-safe in every build).
        _ = curl_global_init(Int(CURL_GLOBAL_DEFAULT))
        wakeFD = lsfu_eventfd()
        precondition(wakeFD >= 0, "eventfd failed")
    }

    deinit { close(wakeFD) }

    public func start() throws(ReactorError) {
        let started = try OSThread.spawn { [self] in run() }
        thread.withLock { $0 = started }
    }

    /// Ends the thread after the exchange in progress; queued ones are answered with an error.
    public func stop() {
        inbox.withLock { $0.stopping = true }
        lsfu_eventfd_signal(wakeFD)
        let running = thread.withLock { t -> OSThread? in
            defer { t = nil }
            return t
        }
        running?.join()
    }

    /// Makes the exchange; `deliver` runs once with its outcome, on the client's thread (or
    /// on the caller's, when refused at once): it should post to the caller's core.
    public func submit(_ request: Request, deliver: @escaping @Sendable (Outcome) -> Void) {
        let accepted = inbox.withLock { box -> Bool in
            guard !box.stopping, box.jobs.count < Self.maxQueued else { return false }
            box.jobs.append(Job(request: request, deliver: deliver))
            return true
        }
        guard accepted else {
            deliver(.failure(.busy))
            return
        }
        lsfu_eventfd_signal(wakeFD)
    }

    private func run() {
        let handle = curl_easy_init()
        defer { if let handle { curl_easy_cleanup(handle) } }
        while true {
            let (jobs, stopping) = inbox.withLock { box -> ([Job], Bool) in
                defer { box.jobs = [] }
                return (box.jobs, box.stopping)
            }
            if stopping {
                for job in jobs { job.deliver(.failure(.busy)) }
                return
            }
            for job in jobs {
                guard let handle else {
                    job.deliver(.failure(.transport("curl_easy_init failed")))
                    continue
                }
                job.deliver(perform(job.request, handle: handle))
            }
            var fd = pollfd(fd: wakeFD, events: Int16(POLLIN), revents: 0)
            _ = poll(&fd, 1, 60_000)
            lsfu_eventfd_drain(wakeFD)
        }
    }

    private func perform(_ request: Request, handle: UnsafeMutableRawPointer) -> Outcome {
        curl_easy_reset(handle)
        let answer = Answer()
        let context = Unmanaged.passRetained(answer)
        defer { context.release() }
        var headers: UnsafeMutablePointer<curl_slist>?
        for header in request.headers { headers = curl_slist_append(headers, header) }
        defer { curl_slist_free_all(headers) }
        var ok = true
        func set(_ result: CURLcode) { ok = ok && result == CURLE_OK }
        set(lsfu_curl_setopt_string(handle, CURLOPT_URL, request.url))
        set(lsfu_curl_setopt_long(handle, CURLOPT_NOSIGNAL, 1))
        // Only http(s), no redirects: an origin that sends the edge elsewhere does not hold
        // the room, which is a refusal here.
        set(lsfu_curl_setopt_string(handle, CURLOPT_PROTOCOLS_STR, "http,https"))
        set(lsfu_curl_setopt_long(handle, CURLOPT_FOLLOWLOCATION, 0))
        set(lsfu_curl_setopt_long(handle, CURLOPT_TIMEOUT_MS, Int(timeout.milliseconds)))
        set(lsfu_curl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, Int(timeout.milliseconds)))
        set(lsfu_curl_setopt_slist(handle, CURLOPT_HTTPHEADER, headers))
        set(lsfu_curl_setopt_write(handle, CURLOPT_WRITEFUNCTION, Answer.write))
        set(lsfu_curl_setopt_pointer(handle, CURLOPT_WRITEDATA, context.toOpaque()))
        set(lsfu_curl_setopt_write(handle, CURLOPT_HEADERFUNCTION, Answer.header))
        set(lsfu_curl_setopt_pointer(handle, CURLOPT_HEADERDATA, context.toOpaque()))
        if let body = request.body {
            let bytes = Array(body.utf8)
            set(lsfu_curl_setopt_off(handle, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(bytes.count)))
            bytes.withUnsafeBufferPointer { buffer in
                set(lsfu_curl_setopt_pointer(handle, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: buffer.baseAddress)))
            }
        }
        if request.method != "POST" || request.body == nil {
            set(lsfu_curl_setopt_string(handle, CURLOPT_CUSTOMREQUEST, request.method))
        }
        guard ok else { return .failure(.transport("libcurl refused an option")) }
        let result = curl_easy_perform(handle)
        if answer.tooLarge { return .failure(.answerTooLarge) }
        guard result == CURLE_OK else {
            return .failure(result == CURLE_OPERATION_TIMEDOUT ? .timeout : .transport(String(cString: curl_easy_strerror(result))))
        }
        var status = 0
        _ = lsfu_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        return .success(Response(status: status, location: answer.location, body: String(decoding: answer.body, as: UTF8.self)))
    }
}

/// Why an exchange with an origin gave no answer.
public enum RelayHTTPError: Error, Sendable, Equatable, CustomStringConvertible {
    case busy
    case timeout
    case answerTooLarge
    case transport(String)

    public var description: String {
        switch self {
        case .busy: "the relay client is busy or stopping"
        case .timeout: "no answer in time"
        case .answerTooLarge: "the answer is larger than \(RelayHTTPClient.maxAnswerBytes) bytes"
        case .transport(let why): why
        }
    }
}

/// What one exchange shares with libcurl's C callbacks through their user pointer.
private final class Answer {
    var body: [UInt8] = []
    var location: String?
    var tooLarge = false

    static func from(_ pointer: UnsafeMutableRawPointer?) -> Answer {
        Unmanaged<Answer>.fromOpaque(pointer!).takeUnretainedValue()
    }

    /// The body up to the bound; past it the exchange is aborted (returning less than given).
    static let write: curl_write_callback = { data, size, count, user in
        let answer = Answer.from(user)
        let total = size * count
        guard answer.body.count + total <= RelayHTTPClient.maxAnswerBytes else {
            answer.tooLarge = true
            return 0
        }
        if let data {
            data.withMemoryRebound(to: UInt8.self, capacity: total) { bytes in
                answer.body.append(contentsOf: UnsafeBufferPointer(start: bytes, count: total))
            }
        }
        return total
    }

    /// One header line per call: `Location` of the final answer.
    static let header: curl_write_callback = { data, size, count, user in
        let answer = Answer.from(user)
        let total = size * count
        guard let data, total < 4096 else { return total }
        let line = data.withMemoryRebound(to: UInt8.self, capacity: total) { bytes in
            String(decoding: UnsafeBufferPointer(start: bytes, count: total), as: UTF8.self)
        }
        if line.hasPrefix("HTTP/") {
            answer.location = nil
            return total
        }
        guard let colon = line.firstIndex(of: ":"), line[..<colon].lowercased() == "location" else { return total }
        var value = Substring(line[line.index(after: colon)...])
        // (`isWhitespace`: the line ends in "\r\n", one Character.)
        while let f = value.first, f.isWhitespace { value = value.dropFirst() }
        while let l = value.last, l.isWhitespace { value = value.dropLast() }
        answer.location = String(value)
        return total
    }
}
