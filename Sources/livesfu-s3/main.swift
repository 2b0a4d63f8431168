import Glibc
import S3
import SFU
import Synchronization

// Uploads files with S3's UploadQueue (the code livesfu's recorder uses) and prints each
// event as one JSON line, then the queue's counters. Tests/Interop/test_s3_upload.py drives
// it against a real S3 server (moto). Settings come from the environment (the names of
// livesfu's S3_* and UPLOAD_* variables) and flags (test knobs: smaller delays and sizes).
//
//   livesfu-s3 [--retry-base-ms N] [--retry-cap-ms N] [--multipart-threshold BYTES]
//              [--part-size BYTES] [--stall-seconds N] FILE KEY CONTENT-TYPE [FILE KEY CONTENT-TYPE]...
//
// Exit status: 0 when every file was uploaded, 1 when one was not, 2 for a usage error.

func fail(_ message: String) -> Never {
    writeAll(2, "livesfu-s3: \(message)\n")
    exit(2)
}

func writeAll(_ fd: Int32, _ text: String) {
    var bytes = Array(text.utf8)[...]
    while !bytes.isEmpty {
        let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { return }
        bytes = bytes.dropFirst(n)
    }
}

func env(_ name: String) -> String? {
    guard let value = getenv(name) else { return nil }
    let text = String(cString: value)
    return text.isEmpty ? nil : text
}

func required(_ name: String) -> String {
    guard let value = env(name) else { fail("\(name) is not set") }
    return value
}

func boolean(_ name: String, _ fallback: Bool) -> Bool {
    guard let value = env(name)?.lowercased() else { return fallback }
    return ["1", "true", "yes", "on"].contains(value)
}

func integer(_ text: String?, _ name: String) -> Int64? {
    guard let text else { return nil }
    guard let value = Int64(text), value >= 0 else { fail("\(name): `\(text)` is not a whole number") }
    return value
}

func json(_ text: String) -> String { JSONWriter.quoted(text) }

func milliseconds(_ duration: Duration) -> Int64 {
    let (seconds, attoseconds) = duration.components
    return seconds * 1000 + attoseconds / 1_000_000_000_000_000
}

// Flags, then FILE KEY CONTENT-TYPE triples.
var flags: [String: String] = [:]
var positional: [String] = []
var arguments = CommandLine.arguments.dropFirst()
while let argument = arguments.popFirst() {
    if argument.hasPrefix("--") {
        guard let value = arguments.popFirst() else { fail("\(argument) needs a value") }
        flags[String(argument.dropFirst(2))] = value
    } else {
        positional.append(argument)
    }
}
let known: Set = ["retry-base-ms", "retry-cap-ms", "multipart-threshold", "part-size", "stall-seconds"]
if let unknown = flags.keys.first(where: { !known.contains($0) }) { fail("unknown flag --\(unknown)") }
guard !positional.isEmpty, positional.count % 3 == 0 else { fail("expected FILE KEY CONTENT-TYPE triples") }

var configuration = S3Configuration(
    endpoint: required("S3_ENDPOINT"), region: env("S3_REGION") ?? "us-east-1", bucket: required("S3_BUCKET"),
    accessKey: required("S3_ACCESS_KEY"), secretKey: required("S3_SECRET_KEY"), keyPrefix: env("S3_PREFIX") ?? "",
    useSSL: boolean("S3_USE_SSL", true), pathStyle: boolean("S3_PATH_STYLE", false), caFile: env("S3_CA_FILE"))
if let threshold = integer(flags["multipart-threshold"], "--multipart-threshold") { configuration.multipartThreshold = threshold }
if let size = integer(flags["part-size"], "--part-size") { configuration.partSize = size }
if let seconds = integer(flags["stall-seconds"], "--stall-seconds") { configuration.stallTimeout = .seconds(seconds) }
let retry = RetryPolicy(
    maxAttempts: Int(integer(env("UPLOAD_MAX_ATTEMPTS"), "UPLOAD_MAX_ATTEMPTS") ?? 5),
    baseDelay: .milliseconds(integer(flags["retry-base-ms"], "--retry-base-ms") ?? 500),
    maxDelay: .milliseconds(integer(flags["retry-cap-ms"], "--retry-cap-ms") ?? 30_000))
let concurrency = Int(integer(env("UPLOAD_CONCURRENCY"), "UPLOAD_CONCURRENCY") ?? 2)

// Events arrive on the workers' threads: one line each, written whole.
let outputLock = Mutex<Void>(())
@Sendable func emit(_ line: String) {
    outputLock.withLock { _ in writeAll(1, line + "\n") }
}

let jobs = stride(from: 0, to: positional.count, by: 3).map { (i: Int) in
    UploadJob(id: String(i / 3), path: positional[i], key: positional[i + 1], contentType: positional[i + 2])
}
let ended = UnsafeMutablePointer<sem_t>.allocate(capacity: 1)
sem_init(ended, 0, 0)
nonisolated(unsafe) let endedSignal = ended

let queue: UploadQueue
do throws(S3Error) {
    queue = try UploadQueue(configuration: configuration, retryPolicy: retry, concurrency: concurrency) { event in
        switch event {
        case .started(let job, let key):
            emit("{\"event\":\"started\",\"id\":\(json(job.id)),\"key\":\(json(key))}")
        case .retrying(let job, let notice):
            emit(
                "{\"event\":\"retrying\",\"id\":\(json(job.id)),\"operation\":\(json(notice.operation)),\"attempt\":\(notice.attempt),"
                    + "\"delay_ms\":\(milliseconds(notice.delay)),\"reason\":\(json(notice.reason))}")
        case .uploaded(let job, let key, let size, let etag):
            emit("{\"event\":\"uploaded\",\"id\":\(json(job.id)),\"key\":\(json(key)),\"size\":\(size),\"etag\":\(etag.map(json) ?? "null")}")
            sem_post(endedSignal)
        case .failed(let job, let error):
            emit("{\"event\":\"failed\",\"id\":\(json(job.id)),\"code\":\(error.code.map(json) ?? "null"),\"message\":\(json(error.description))}")
            sem_post(endedSignal)
        case .interrupted(let job):
            emit("{\"event\":\"interrupted\",\"id\":\(json(job.id))}")
            sem_post(endedSignal)
        }
    }
} catch {
    fail(error.description)
}
for job in jobs where queue.enqueue(job) != .accepted { fail("queue refused job \(job.id)") }
for _ in jobs {
    while sem_wait(ended) != 0 && errno == EINTR {}
}
let counters = queue.counters
queue.shutdown(gracePeriod: .seconds(5))
emit(
    "{\"event\":\"counters\",\"uploaded\":\(counters.uploaded),\"failed\":\(counters.failed),\"interrupted\":\(counters.interrupted),"
        + "\"retries\":\(counters.retries),\"queued\":\(counters.queued),\"running\":\(counters.running)}")
exit(counters.uploaded == jobs.count ? 0 : 1)
