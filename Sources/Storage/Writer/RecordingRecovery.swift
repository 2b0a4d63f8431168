import Glibc
import SFU

/// At start-up, before anything records: the files whose sidecar still says `recording` were
/// left by a server that stopped without closing them (kill -9, power loss). Each is cut back
/// to its last whole frame or page and completed (IVF frame count, Ogg end-of-stream page), so
/// it plays and can be uploaded like any other; its entry says `recovered`.
enum RecordingRecovery {
    /// Recovers every unfinished file of `catalog`; returns the entries it finalised.
    static func run(_ catalog: RecordingCatalog, log: (String) -> Void) -> [RecordingEntry] {
        var finished: [RecordingEntry] = []
        for entry in catalog.entries() where entry.state == .recording {
            let path = catalog.directory + "/" + entry.name
            let outcome = recover(path: path, name: entry.name)
            let updated = catalog.update(entry.name) { e in
                e.recovered = true
                switch outcome {
                case .success(let r):
                    e.state = .finalised
                    e.bytes = UInt64(r.length)
                    if let frames = r.frames { e.frames = frames }
                case .failure(let reason):
                    e.state = .damaged
                    e.damage = reason.text
                }
            }
            switch outcome {
            case .success(let r): log("recovered \(entry.name): \(r.length) bytes kept")
            case .failure(let reason): log("cannot recover \(entry.name): \(reason.text)")
            }
            if let updated, updated.state == .finalised { finished.append(updated) }
        }
        return finished
    }

    struct Recovered {
        var length: Int
        var frames: UInt64?
    }

    struct Failure: Error {
        var text: String
    }

    static func recover(path: String, name: String) -> Result<Recovered, Failure> {
        let fd = open(path, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { return .failure(Failure(text: "cannot open: \(FileSystem.errorText(errno))")) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { return .failure(Failure(text: FileSystem.errorText(errno))) }
        let length = Int(st.st_size)
        var keep = length
        var frames: UInt64?
        var write: (bytes: [UInt8], offset: Int)?
        if name.hasSuffix(".ivf") {
            var r = IVFRecovery(fileLength: length)
            guard walk(fd, next: { r.nextRead }, feed: { r.feed($0) }) else { return readFailure() }
            guard let header = r.finalHeader else { return .failure(Failure(text: "not an IVF file")) }
            keep = r.validLength
            frames = UInt64(r.frameCount)
            write = (header, 0)
        } else if name.hasSuffix(".ogg") {
            var r = OggRecovery(fileLength: length)
            guard walk(fd, next: { r.nextRead }, feed: { r.feed($0) }) else { return readFailure() }
            keep = r.validLength
            if let page = r.finalPage, let at = r.lastPage?.offset { write = (page, at) }
        } else if name.hasSuffix(".h264") {
            let offset = max(0, length - AnnexBRecovery.tailLength)
            var tail = [UInt8](repeating: 0, count: length - offset)
            guard FileSystem.readFully(fd, into: &tail, at: offset) else { return readFailure() }
            keep = tail.withUnsafeBytes { AnnexBRecovery.validLength(tail: $0, tailOffset: offset) } ?? length
        }
        if let write, let code = write.bytes.withUnsafeBytes({ FileSystem.writeFully(fd, $0, at: write.offset) }) {
            return .failure(Failure(text: FileSystem.errorText(code)))
        }
        guard ftruncate(fd, off_t(keep)) == 0, fsync(fd) == 0 else {
            return .failure(Failure(text: FileSystem.errorText(errno)))
        }
        return .success(Recovered(length: keep, frames: frames))
    }

    /// Runs a sans-IO recovery walk: reads what it asks for until it asks for nothing.
    private static func walk(
        _ fd: Int32, next: () -> (offset: Int, count: Int)?, feed: (UnsafeRawBufferPointer) -> Void
    ) -> Bool {
        var bytes: [UInt8] = []
        while let r = next() {
            bytes = [UInt8](repeating: 0, count: r.count)
            guard FileSystem.readFully(fd, into: &bytes, at: r.offset) else { return false }
            bytes.withUnsafeBytes(feed)
        }
        return true
    }

    private static func readFailure() -> Result<Recovered, Failure> {
        .failure(Failure(text: "cannot read: \(FileSystem.errorText(errno))"))
    }
}
