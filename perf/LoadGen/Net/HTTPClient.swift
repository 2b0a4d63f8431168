import Reactor

import CShim
import Glibc

/// A blocking HTTP/1.1 client for the signalling requests (WHIP/WHEP POST, DELETE): one
/// request per connection (`Connection: close`). It runs on worker threads, never on an
/// event loop, so it stays off the media path.
public struct HTTPClient: Sendable {
    public struct Response: Sendable {
        public var status: Int
        public var headers: [(String, String)]
        public var body: String
        public func header(_ name: String) -> String? {
            let n = name.lowercased()
            return headers.first { $0.0.lowercased() == n }?.1
        }
    }

    public enum Failure: Error, CustomStringConvertible, Sendable {
        case badURL(String)
        case connect(String)
        case io(String)
        case badResponse(String)
        public var description: String {
            switch self {
            case .badURL(let s): "bad URL: \(s)"
            case .connect(let s): "cannot connect: \(s)"
            case .io(let s): "I/O error: \(s)"
            case .badResponse(let s): "bad HTTP response: \(s)"
            }
        }
    }

    /// Server base, e.g. `http://127.0.0.1:8080`.
    public let host: String
    public let port: UInt16
    public let address: SocketAddress
    public var timeoutSeconds = 15

    public init(base: String) throws(Failure) {
        var s = Substring(base)
        guard s.hasPrefix("http://") else { throw .badURL("\(base) (only http:// is supported)") }
        s = s.dropFirst(7)
        if let slash = s.firstIndex(of: "/") { s = s[..<slash] }
        var h = String(s)
        var p: UInt16 = 80
        if let colon = s.lastIndex(of: ":") {
            h = String(s[..<colon])
            guard let pp = UInt16(s[s.index(after: colon)...]) else { throw .badURL(base) }
            p = pp
        }
        let ip = h == "localhost" ? "127.0.0.1" : h
        guard let a = SocketAddress(ip: ip, port: p) else { throw .badURL("\(base) (host must be a numeric IP or localhost)") }
        host = h
        port = p
        address = a
    }

    /// Turns a `Location` header (absolute or relative) into a path.
    public static func path(ofLocation location: String) -> String {
        if location.hasPrefix("http://") || location.hasPrefix("https://") {
            let rest = location.drop { $0 != "/" }.dropFirst(2)
            if let slash = rest.firstIndex(of: "/") { return String(rest[slash...]) }
            return "/"
        }
        return location.hasPrefix("/") ? location : "/" + location
    }

    public func request(method: String, path: String, contentType: String? = nil, body: String = "",
                        extraHeaders: [(String, String)] = []) throws(Failure) -> Response {
        let fd = socket(address.isIPv6 ? AF_INET6 : AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw .connect("socket: errno \(errno)") }
        defer { close(fd) }
        var tv = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        _ = setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var one: Int32 = 1
        _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        let rc = address.withSockAddr { connect(fd, $0, $1) }
        guard rc == 0 else { throw .connect("\(address): errno \(errno)") }
        var head = "\(method) \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\nConnection: close\r\nUser-Agent: livesfu-load\r\n"
        if let contentType { head += "Content-Type: \(contentType)\r\n" }
        for (k, v) in extraHeaders { head += "\(k): \(v)\r\n" }
        let bodyBytes = Array(body.utf8)
        if !bodyBytes.isEmpty || method == "POST" { head += "Content-Length: \(bodyBytes.count)\r\n" }
        head += "\r\n"
        let all = Array(head.utf8) + bodyBytes
        var sent = 0
        while sent < all.count {
            let n = all.withUnsafeBytes { send(fd, $0.baseAddress! + sent, all.count - sent, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw .io("send: errno \(errno)") }
            sent += n
        }
        var data: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 16384)
        var headerEnd: Int? = nil
        var contentLength: Int? = nil
        while true {
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 { throw .io("recv: errno \(errno)") }
            if n == 0 { break }
            data.append(contentsOf: buf[0..<n])
            if headerEnd == nil, let e = Self.findHeaderEnd(data) {
                headerEnd = e
                contentLength = Self.contentLength(in: data[0..<e])
            }
            if let e = headerEnd, let cl = contentLength, data.count >= e + cl { break }
        }
        guard let e = headerEnd ?? Self.findHeaderEnd(data) else { throw .badResponse("no header end (\(data.count) bytes)") }
        let headText = String(decoding: data[0..<e], as: UTF8.self)
        var lines = headText.split(separator: "\r\n", omittingEmptySubsequences: true)
        guard !lines.isEmpty else { throw .badResponse("empty") }
        let statusLine = lines.removeFirst().split(separator: " ")
        guard statusLine.count >= 2, let status = Int(statusLine[1]) else { throw .badResponse("status line") }
        var headers: [(String, String)] = []
        for l in lines {
            guard let c = l.firstIndex(of: ":") else { continue }
            headers.append((String(l[..<c]), String(l[l.index(after: c)...].drop { $0 == " " })))
        }
        var bodyEnd = data.count
        if let cl = contentLength { bodyEnd = min(data.count, e + cl) }
        return Response(status: status, headers: headers, body: String(decoding: data[e..<bodyEnd], as: UTF8.self))
    }

    static func findHeaderEnd(_ d: [UInt8]) -> Int? {
        guard d.count >= 4 else { return nil }
        for i in 0...(d.count - 4) where d[i] == 13 && d[i + 1] == 10 && d[i + 2] == 13 && d[i + 3] == 10 {
            return i + 4
        }
        return nil
    }

    static func contentLength(in head: ArraySlice<UInt8>) -> Int? {
        let text = String(decoding: head, as: UTF8.self)
        for l in text.split(separator: "\r\n") where l.lowercased().hasPrefix("content-length:") {
            return Int(l.dropFirst(15).trimmingCharacters(in: " "))
        }
        return nil
    }
}

extension Substring {
    func trimmingCharacters(in set: Character) -> Substring {
        var s = self
        while s.first == set { s.removeFirst() }
        while s.last == set { s.removeLast() }
        return s
    }
}
