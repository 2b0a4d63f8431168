import Glibc
import Reactor
import SFU
import Synchronization

/// The thread that owns every recording's file: it creates the file when a core hands one
/// over, moves the bytes from each recording's ring to disk, and closes the file (IVF header
/// with the frame count, sync) once its core has finished it and the ring is empty. A write the
/// disk refuses (full, I/O error) cuts the file back to its last whole chunk, marks the
/// recording damaged (its core then stops producing) and drops the rest; the cores never wait.
public final class RecordingWriter: Sendable {
    public struct Events: Sendable {
        public var log: @Sendable (String) -> Void
        /// A file was closed (finalised or damaged), with its final entry: uploads start here.
        public var closed: @Sendable (RecordingEntry) -> Void

        public init(log: @escaping @Sendable (String) -> Void, closed: @escaping @Sendable (RecordingEntry) -> Void) {
            self.log = log
            self.closed = closed
        }
    }

    private struct Inbox {
        var files: [RecordingFile] = []
        var stopAt: Instant?
    }

    public let catalog: RecordingCatalog
    public let counters: RecordingCounters
    private let events: Events
    private let inbox = Mutex(Inbox())
    private let thread = Mutex<OSThread?>(nil)
    /// How long the thread sleeps when no ring had anything: a recording at 2 Mbps queues
    /// about 2.5 KB in that time.
    static let pollInterval: Duration = .milliseconds(10)

    public init(catalog: RecordingCatalog, counters: RecordingCounters, events: Events) {
        self.catalog = catalog
        self.counters = counters
        self.events = events
    }

    /// Starts the thread.
    public func start() throws(ReactorError) {
        let t = try OSThread.spawn { [self] in run() }
        thread.withLock { $0 = t }
    }

    /// Any thread: a new file to create and fill.
    public func register(_ file: RecordingFile) {
        inbox.withLock { $0.files.append(file) }
    }

    /// Finishes the files whose cores have finished them, waiting at most `timeout` for the
    /// rest (a file still open then is closed as it is), and stops the thread.
    public func stop(timeout: Duration) {
        inbox.withLock { $0.stopAt = Instant.now() + timeout }
        thread.withLock { $0 }?.join()
    }

    /// The files being written (thread-confined).
    private final class OpenFile {
        let file: RecordingFile
        let name: String
        let fd: Int32
        var written = 0
        var failed = false
        var reportedAt = Instant(nanoseconds: 0)

        init(file: RecordingFile, name: String, fd: Int32) {
            self.file = file
            self.name = name
            self.fd = fd
        }
    }

    private func run() {
        var open: [OpenFile] = []
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let (new, stopAt) = inbox.withLock { s in
                defer { s.files.removeAll() }
                return (s.files, s.stopAt)
            }
            for file in new { open.append(create(file)) }
            var moved = 0
            for f in open { moved += drain(f, buffer: &buffer) }
            let now = Instant.now()
            let giveUp = stopAt.map { !(now < $0) } ?? false
            open.removeAll { f in
                guard giveUp || (f.file.finished != nil && f.file.ring.nextChunkLength() == nil) else { return false }
                close(f)
                return true
            }
            if stopAt != nil && open.isEmpty && inbox.withLock({ $0.files.isEmpty }) { return }
            if moved == 0 { Self.sleep(Self.pollInterval) }
        }
    }

    /// Creates the file under the wanted name, or the first free `name-N.ext`, and lists it.
    private func create(_ file: RecordingFile) -> OpenFile {
        let d = file.description
        var name = d.name
        var fd: Int32 = -1
        var failure: Int32 = 0
        for attempt in 1...100 {
            if attempt > 1 {
                let dot = d.name.lastIndex(of: ".") ?? d.name.endIndex
                name = "\(d.name[..<dot])-\(attempt)\(d.name[dot...])"
            }
            guard !catalog.contains(name) else { continue }
            fd = Glibc.open(catalog.directory + "/" + name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
            failure = fd < 0 ? errno : 0
            if fd >= 0 || failure != EEXIST { break }
        }
        var entry = RecordingEntry(
            name: name, room: d.room, track: d.track, kind: "\(d.kind)", codec: d.codec, publication: d.publication,
            state: .recording, startedAtUnixMillis: d.startedAtUnixMillis)
        if fd < 0 {
            file.markDamaged(.writeError)
            counters.damaged.add(1, ordering: .relaxed)
            entry.state = .damaged
            entry.damage = "cannot create the file: \(FileSystem.errorText(failure))"
            events.log("recording \(name): \(entry.damage!)")
        }
        catalog.add(entry)
        let f = OpenFile(file: file, name: name, fd: fd)
        f.failed = fd < 0
        return f
    }

    /// Moves what the ring holds to the file; returns the bytes taken from the ring.
    private func drain(_ f: OpenFile, buffer: inout [UInt8]) -> Int {
        var moved = 0
        while let length = f.file.ring.nextChunkLength() {
            if buffer.count < length { buffer = [UInt8](repeating: 0, count: length) }
            let n = buffer.withUnsafeMutableBytes { f.file.ring.read(into: $0) } ?? 0
            moved += n
            guard !f.failed else {
                counters.bytesDroppedWriteError.add(UInt64(n), ordering: .relaxed)
                continue
            }
            if let code = buffer.withUnsafeBytes({ FileSystem.writeFully(f.fd, UnsafeRawBufferPointer(rebasing: $0[0..<n])) }) {
                writeFailed(f, code: code, dropped: n)
            } else {
                f.written += n
                counters.bytesWritten.add(UInt64(n), ordering: .relaxed)
            }
        }
        let now = Instant.now()
        if moved > 0, now - f.reportedAt >= .seconds(1) {
            // The listing shows the size growing; the sidecar is rewritten only on state changes.
            f.reportedAt = now
            let size = UInt64(f.written)
            catalog.update(f.name, persist: false) { $0.bytes = size }
        }
        return moved
    }

    /// The disk refused a write: cut the file back to its last whole chunk (what precedes
    /// decodes), and drop the rest of the recording.
    private func writeFailed(_ f: OpenFile, code: Int32, dropped: Int) {
        f.failed = true
        _ = ftruncate(f.fd, off_t(f.written))
        counters.bytesDroppedWriteError.add(UInt64(dropped), ordering: .relaxed)
        if f.file.markDamaged(.writeError) { counters.damaged.add(1, ordering: .relaxed) }
        let reason = FileSystem.errorText(code)
        catalog.update(f.name) { e in
            e.state = .damaged
            e.damage = "write_error: \(reason)"
            e.bytes = UInt64(f.written)
        }
        events.log("recording \(f.name) stopped: \(reason); forwarding goes on")
    }

    /// Completes the file: the IVF header with the frame count at offset 0, synced, closed;
    /// its entry gets the core's figures and its final state.
    private func close(_ f: OpenFile) {
        let summary = f.file.finished
        if f.fd >= 0 {
            if !f.failed, f.file.damageReason == nil, let header = summary?.finalHeader, f.written >= header.count,
                let code = header.withUnsafeBytes({ FileSystem.writeFully(f.fd, $0, at: 0) })
            {
                writeFailed(f, code: code, dropped: 0)
            }
            if fsync(f.fd) != 0, !f.failed { writeFailed(f, code: errno, dropped: 0) }
            Glibc.close(f.fd)
        }
        let damage = f.file.damageReason
        if f.fd >= 0, f.written == 0, damage == nil, summary != nil {
            // A track that never sent a frame (a publisher of audio only, or one that left
            // before its first keyframe): no file is better than an empty one.
            unlink(catalog.directory + "/" + f.name)
            catalog.remove(f.name)
            return
        }
        let entry = catalog.update(f.name) { e in
            e.bytes = UInt64(max(f.written, 0))
            if let s = summary {
                e.frames = s.frames
                e.framesSkipped = s.framesSkipped
                e.durationMillis = s.durationNanoseconds / 1_000_000
                e.firstFrameUnixMicros = s.firstFrameUnixMicros
                e.firstFrameArrivalUnixMicros = s.firstFrameArrivalUnixMicros
            }
            if let damage {
                e.state = .damaged
                if e.damage == nil { e.damage = damage.rawValue }
            } else if summary == nil {
                e.state = .damaged
                e.damage = "not finished by its core before shutdown"
            } else {
                e.state = .finalised
            }
        }
        if let entry { events.closed(entry) }
    }

    private static func sleep(_ d: Duration) {
        var ts = timespec(tv_sec: Int(d.nanoseconds / 1_000_000_000), tv_nsec: Int(d.nanoseconds % 1_000_000_000))
        _ = nanosleep(&ts, nil)
    }
}
