import CShim
import Glibc
import Synchronization
import Testing

@testable import S3

/// The queue's behaviour that needs no S3 server: jobs against an endpoint where nothing
/// listens (127.0.0.1:9, refused at once), missing files, shutdown. The uploads themselves
/// are tested against a real S3 server in Tests/Interop/test_s3_upload.py.
@Suite("Upload queue", .serialized)
struct UploadQueueTests {
    static let refusing = S3Configuration(
        endpoint: "127.0.0.1:9", region: "us-east-1", bucket: "b", accessKey: "AK", secretKey: "SK", useSSL: false, pathStyle: true,
        connectTimeout: .seconds(5))

    /// Events in arrival order, and a wait for a number of them.
    final class Recorder: Sendable {
        private let events = Mutex<[UploadEvent]>([])

        func record(_ event: UploadEvent) { events.withLock { $0.append(event) } }

        var all: [UploadEvent] { events.withLock { $0 } }

        /// Polls (the events come from worker threads) until `predicate` holds; bounded.
        func wait(until predicate: ([UploadEvent]) -> Bool) -> Bool {
            for _ in 0..<3000 {
                if predicate(all) { return true }
                usleep(10_000)
            }
            return false
        }
    }

    static func ended(_ events: [UploadEvent]) -> Int {
        events.filter {
            switch $0 {
            case .uploaded, .failed, .interrupted: return true
            default: return false
            }
        }.count
    }

    static func temporaryFile(bytes: Int) -> String {
        var template = Array("/tmp/livesfu-s3-test-XXXXXX".utf8CString)
        let fd = mkstemp(&template)
        precondition(fd >= 0)
        let chunk = [UInt8](repeating: 0x5A, count: bytes)
        _ = chunk.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        return String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    @Test("a connection failure is retried, then the job fails with libcurl's message")
    func connectionFailure() throws {
        let path = Self.temporaryFile(bytes: 1000)
        defer { unlink(path) }
        let recorder = Recorder()
        let queue = try UploadQueue(
            configuration: Self.refusing, retryPolicy: RetryPolicy(maxAttempts: 3, baseDelay: .milliseconds(1), maxDelay: .milliseconds(5)),
            concurrency: 1, onEvent: recorder.record)
        #expect(queue.enqueue(UploadJob(id: "j1", path: path, key: "a.ivf", contentType: "video/x-ivf")) == .accepted)
        #expect(recorder.wait { Self.ended($0) == 1 })
        queue.shutdown(gracePeriod: .seconds(5))
        let events = recorder.all
        #expect(events.first == .started(UploadJob(id: "j1", path: path, key: "a.ivf", contentType: "video/x-ivf"), objectKey: "a.ivf"))
        let retries = events.compactMap { if case .retrying(_, let notice) = $0 { return notice } else { return nil } }
        #expect(retries.map(\.attempt) == [1, 2])
        #expect(retries.allSatisfy { $0.operation == "PutObject" && $0.reason.contains("curl error 7") })
        guard case .failed(let job, let error) = events.last else {
            Issue.record("last event \(String(describing: events.last))")
            return
        }
        #expect(job.id == "j1")
        guard case .transport(let operation, 7, true, _) = error else {
            Issue.record("\(error)")
            return
        }
        #expect(operation == "PutObject")
        let counters = queue.counters
        #expect(counters.failed == 1 && counters.retries == 2 && counters.uploaded == 0 && counters.queued == 0)
    }

    @Test("a missing file fails at once, without a retry")
    func missingFile() throws {
        let recorder = Recorder()
        let queue = try UploadQueue(configuration: Self.refusing, concurrency: 1, onEvent: recorder.record)
        _ = queue.enqueue(UploadJob(id: "gone", path: "/nonexistent/livesfu.ivf", key: "k", contentType: "video/x-ivf"))
        #expect(recorder.wait { Self.ended($0) == 1 })
        queue.shutdown(gracePeriod: .seconds(1))
        #expect(recorder.all.last == .failed(
            UploadJob(id: "gone", path: "/nonexistent/livesfu.ivf", key: "k", contentType: "video/x-ivf"),
            error: .file(path: "/nonexistent/livesfu.ivf", errno: ENOENT)))
        #expect(queue.counters.retries == 0)
    }

    @Test("shutdown ends an upload waiting to retry, returns it and the jobs not started, and refuses new ones")
    func shutdownDuringBackoff() throws {
        let path = Self.temporaryFile(bytes: 10)
        defer { unlink(path) }
        let recorder = Recorder()
        // Back-off of at least an hour: only shutdown can end the wait.
        let queue = try UploadQueue(
            configuration: Self.refusing, retryPolicy: RetryPolicy(maxAttempts: 5, baseDelay: .seconds(3600), maxDelay: .seconds(3600)),
            concurrency: 1, onEvent: recorder.record)
        let jobs = (1...3).map { UploadJob(id: "j\($0)", path: path, key: "k\($0)", contentType: "audio/ogg") }
        for job in jobs { #expect(queue.enqueue(job) == .accepted) }
        #expect(recorder.wait { $0.contains { if case .retrying = $0 { return true } else { return false } } })
        let counters = queue.counters
        #expect(counters.running == 1 && counters.queued == 2 && counters.oldestQueuedAge > .zero)

        let left = queue.shutdown(gracePeriod: .seconds(600))
        #expect(Set(left.map(\.id)) == ["j1", "j2", "j3"])
        #expect(recorder.all.last == .interrupted(jobs[0]))
        #expect(queue.counters.interrupted == 1 && queue.counters.queued == 0 && queue.counters.running == 0)
        #expect(queue.enqueue(jobs[0]) == .shuttingDown)
        #expect(queue.shutdown(gracePeriod: .zero).isEmpty)
    }

    @Test("past the grace period, shutdown cuts off a transfer that is waiting on a silent server")
    func shutdownAbortsTransfer() throws {
        // A listening socket nobody accepts on: the kernel completes the connection, takes
        // the request, and no answer ever comes.
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(listener) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, length) == 0 && getsockname(listener, $0, &length) == 0 }
        }
        try #require(bound && listen(listener, 4) == 0)
        var configuration = Self.refusing
        configuration.endpoint = "127.0.0.1:\(UInt16(bigEndian: address.sin_port))"
        // Without the abort, the stall check would end the transfer after 20 s, and with one
        // attempt allowed the job would fail rather than be interrupted.
        configuration.stallTimeout = .seconds(20)

        let path = Self.temporaryFile(bytes: 100)
        defer { unlink(path) }
        let recorder = Recorder()
        let queue = try UploadQueue(configuration: configuration, retryPolicy: RetryPolicy(maxAttempts: 1), concurrency: 1, onEvent: recorder.record)
        let job = UploadJob(id: "silent", path: path, key: "k", contentType: "audio/ogg")
        #expect(queue.enqueue(job) == .accepted)
        #expect(recorder.wait { $0.contains(.started(job, objectKey: "k")) })
        #expect(queue.shutdown(gracePeriod: .milliseconds(200)) == [job])
        #expect(recorder.all.last == .interrupted(job))
    }

    @Test("the queue holds at most `capacity` waiting jobs")
    func capacity() throws {
        let recorder = Recorder()
        let queue = try UploadQueue(
            configuration: Self.refusing, retryPolicy: RetryPolicy(maxAttempts: 2, baseDelay: .seconds(3600), maxDelay: .seconds(3600)),
            concurrency: 1, capacity: 2, onEvent: recorder.record)
        let path = Self.temporaryFile(bytes: 10)
        defer { unlink(path) }
        let job = UploadJob(id: "x", path: path, key: "k", contentType: "audio/ogg")
        #expect(queue.enqueue(job) == .accepted)
        // The worker takes the first; then two may wait.
        #expect(recorder.wait { $0.contains { if case .retrying = $0 { return true } else { return false } } })
        #expect(queue.enqueue(job) == .accepted)
        #expect(queue.enqueue(job) == .accepted)
        #expect(queue.enqueue(job) == .full)
        #expect(queue.shutdown(gracePeriod: .seconds(60)).count == 3)
    }

    @Test("an invalid configuration is refused before any worker starts")
    func invalid() {
        var configuration = Self.refusing
        configuration.endpoint = "http://host"
        #expect(throws: S3Error.self) { try UploadQueue(configuration: configuration, onEvent: { _ in }) }
    }
}
