import Glibc

/// The few file operations the recording side needs, over Glibc (no Foundation file APIs).
enum FileSystem {
    /// The names in a folder (not `.` and `..`); empty if it cannot be read.
    static func names(in directory: String) -> [String] {
        guard let dir = opendir(directory) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// A whole file of at most `limit` bytes; nil if it cannot be read or is larger.
    static func read(_ path: String, limit: Int) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_size <= limit else { return nil }
        var bytes = [UInt8](repeating: 0, count: Int(st.st_size))
        guard readFully(fd, into: &bytes, at: 0) else { return nil }
        return bytes
    }

    /// Reads `bytes.count` bytes at `offset`.
    static func readFully(_ fd: Int32, into bytes: inout [UInt8], at offset: Int) -> Bool {
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, $0.count - done, off_t(offset + done)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return false }
            done += n
        }
        return true
    }

    /// Writes all of `bytes` at the file's position, or at `offset`; nil on success, else errno.
    static func writeFully(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, at offset: Int? = nil) -> Int32? {
        var done = 0
        while done < bytes.count {
            let rest = bytes.count - done
            let n =
                if let offset { pwrite(fd, bytes.baseAddress! + done, rest, off_t(offset + done)) } else {
                    write(fd, bytes.baseAddress! + done, rest)
                }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return n == 0 ? EIO : errno }
            done += n
        }
        return nil
    }

    /// Replaces `path` atomically with `bytes` (a temporary file in the same folder, synced,
    /// then renamed over it). False if any step failed (the old file is then intact).
    @discardableResult
    static func replace(_ path: String, with bytes: [UInt8]) -> Bool {
        let temporary = path + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return false }
        let failed = bytes.withUnsafeBytes { writeFully(fd, $0) } != nil || fsync(fd) != 0
        close(fd)
        guard !failed, rename(temporary, path) == 0 else {
            unlink(temporary)
            return false
        }
        return true
    }

    static func size(_ path: String) -> UInt64? {
        var st = stat()
        return stat(path, &st) == 0 ? UInt64(st.st_size) : nil
    }

    /// `mkdir -p`.
    static func makeDirectories(_ path: String) -> Bool {
        var prefix = path.hasPrefix("/") ? "/" : ""
        for part in path.split(separator: "/") {
            prefix += part + "/"
            if mkdir(prefix, 0o755) != 0 && errno != EEXIST { return false }
        }
        return true
    }

    static func errorText(_ code: Int32) -> String { String(cString: strerror(code)) }
}
