import Glibc
import HTTPTypes

/// Serves the files of one folder (the project's `web/`) under `/web/`: content types by
/// extension, `index.html` for folders, and nothing outside the folder — `..` and `.`
/// segments (also when percent-encoded), backslashes, NULs and hidden files are refused with
/// 404 before touching the file system, and the real path (symlinks resolved) must still lie
/// inside the folder's real path.
///
/// Every answer carries the pages' security headers (`PageSecurity`).
///
/// Files are read when requested (the pages are a few small files; a blocking `read` of a
/// page-cache-hot file costs microseconds) and are capped at `maxFileBytes`.
public struct StaticFiles: Sendable {
    public let root: String
    public var maxFileBytes = 8 << 20
    public var security: PageSecurity

    public init(root: String, security: PageSecurity = .sameOriginOnly) {
        self.root = root
        self.security = security
    }

    /// Answers `GET /web/<relativePath>` (`relativePath` already percent-decoded).
    public func response(relativePath: String, isHead: Bool = false) -> HTTPServerResponse {
        guard let safe = Self.sanitize(relativePath) else { return .error(.notFound, "not found") }
        guard let rootReal = Self.realPath(root) else { return .error(.notFound, "not found") }
        var candidate = safe.isEmpty ? rootReal : rootReal + "/" + safe
        guard let real = Self.realPath(candidate), real == rootReal || real.hasPrefix(rootReal + "/") else {
            return .error(.notFound, "not found")
        }
        candidate = real
        var info = stat()
        guard stat(candidate, &info) == 0 else { return .error(.notFound, "not found") }
        if (info.st_mode & S_IFMT) == S_IFDIR {
            candidate += "/index.html"
            guard stat(candidate, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
                return .error(.notFound, "not found")
            }
            // The index's real path must also stay inside (index.html may be a symlink).
            guard let indexReal = Self.realPath(candidate), indexReal.hasPrefix(rootReal + "/") else {
                return .error(.notFound, "not found")
            }
        } else if (info.st_mode & S_IFMT) != S_IFREG {
            return .error(.notFound, "not found")
        }
        guard Int(info.st_size) <= maxFileBytes else { return .error(.forbidden, "file too large to serve") }
        guard let bytes = Self.readFile(candidate, limit: maxFileBytes) else {
            return .error(.notFound, "not found")
        }
        var fields = security.headers
        fields[.contentType] = Self.contentType(forPath: candidate)
        fields[.cacheControl] = "no-cache"
        return HTTPServerResponse(status: .ok, headerFields: fields, body: bytes)
    }

    /// The relative path if every segment is an ordinary name; nil otherwise.
    static func sanitize(_ path: String) -> String? {
        if path.utf8.contains(0) || path.contains("\\") { return nil }
        var segments: [Substring] = []
        for segment in path.split(separator: "/", omittingEmptySubsequences: true) {
            if segment == "." || segment == ".." || segment.hasPrefix(".") { return nil }
            segments.append(segment)
        }
        return segments.joined(separator: "/")
    }

    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    static func readFile(_ path: String, limit: Int) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                return nil
            }
            if n == 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
            if bytes.count > limit { return nil }
        }
        return bytes
    }

    /// Content type by extension (the types the pages use, then common ones).
    public static func contentType(forPath path: String) -> String {
        let name = path.split(separator: "/").last.map(String.init) ?? path
        guard let dot = name.lastIndex(of: ".") else { return "application/octet-stream" }
        switch name[name.index(after: dot)...].lowercased() {
        case "html", "htm": return "text/html; charset=utf-8"
        case "js", "mjs": return "text/javascript; charset=utf-8"
        case "css": return "text/css; charset=utf-8"
        case "json", "map": return "application/json"
        case "svg": return "image/svg+xml"
        case "png": return "image/png"
        case "jpg", "jpeg": return "image/jpeg"
        case "gif": return "image/gif"
        case "webp": return "image/webp"
        case "ico": return "image/x-icon"
        case "txt": return "text/plain; charset=utf-8"
        case "wasm": return "application/wasm"
        case "woff2": return "font/woff2"
        case "webm": return "video/webm"
        case "mp4": return "video/mp4"
        default: return "application/octet-stream"
        }
    }
}
