/// A node's base URL (`NODE_URL`, and every URL read back from the directory): `http://` or
/// `https://`, a host (name, IPv4 or `[IPv6]`), an optional port, nothing else — no user,
/// path, query or fragment, at most `maxBytes`. A URL read from Redis is used as a
/// `Location` only once it passes here, so garbage in the directory can never redirect a
/// client to a path, a script or a header injection.
public struct NodeURL: Sendable, Equatable, Hashable, CustomStringConvertible {
    /// Normalised: scheme and host lower-case, no trailing `/`.
    public let text: String

    public static let maxBytes = 200

    /// nil when `raw` is not such a URL.
    public init?(validating raw: String) {
        guard raw.utf8.count <= Self.maxBytes else { return nil }
        var rest = Substring(raw)
        let scheme: String
        if rest.lowercased().hasPrefix("http://") {
            scheme = "http://"
        } else if rest.lowercased().hasPrefix("https://") {
            scheme = "https://"
        } else {
            return nil
        }
        rest = rest.dropFirst(scheme.count)
        if rest.hasSuffix("/") { rest = rest.dropLast() }
        var host: Substring
        var port: Substring?
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { return nil }
            host = rest[rest.index(after: rest.startIndex)..<close]
            guard !host.isEmpty, host.utf8.allSatisfy({ Self.isHexOrColon($0) }) else { return nil }
            let after = rest[rest.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { return nil }
                port = after.dropFirst()
            }
            host = "[" + host + "]"
        } else {
            if let colon = rest.firstIndex(of: ":") {
                host = rest[..<colon]
                port = rest[rest.index(after: colon)...]
            } else {
                host = rest
            }
            guard !host.isEmpty, host.utf8.allSatisfy(Self.isHostByte),
                host.utf8.first != UInt8(ascii: "."), host.utf8.first != UInt8(ascii: "-")
            else { return nil }
        }
        if let port {
            guard !port.isEmpty, port.utf8.count <= 5, port.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }),
                let p = Int(port), (1...65535).contains(p)
            else { return nil }
        }
        text = scheme + host.lowercased() + (port.map { ":\($0)" } ?? "")
    }

    /// The URL of `path` (already percent-encoded, starting with `/`) and `query` on this node.
    public func location(path: String, query: Substring? = nil) -> String {
        text + path + (query.map { "?\($0)" } ?? "")
    }

    public var description: String { text }

    /// Letters, digits, `.`, `-`, `_`: a host name or an IPv4 literal.
    static func isHostByte(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "-"), UInt8(ascii: "_"):
            true
        default: false
        }
    }

    private static func isHexOrColon(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "f"),
            UInt8(ascii: "A")...UInt8(ascii: "F"), UInt8(ascii: ":"), UInt8(ascii: "."):
            true
        default: false
        }
    }
}
