/// Where the directory's Redis is: `redis://[[user]:password@]host[:port][/db]`
/// (`CLUSTER_REDIS_URL`). The host is an IPv4 literal, `[IPv6]` or a name (resolved by
/// hiredis on the directory thread); the port defaults to 6379, the database to 0.
public struct RedisEndpoint: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var database: Int
    public var username: String?
    public var password: String?

    public init(host: String, port: Int = 6379, database: Int = 0, username: String? = nil, password: String? = nil) {
        self.host = host
        self.port = port
        self.database = database
        self.username = username
        self.password = password
    }

    /// Why a URL is refused (the reason of a start-up error).
    public struct ParseError: Error, Equatable, CustomStringConvertible {
        public let description: String
    }

    /// Parses and checks a `redis://` URL.
    public init(parsing text: String) throws(ParseError) {
        guard text.hasPrefix("redis://") else { throw ParseError(description: "`\(Self.redacted(text))` does not start with redis://") }
        var rest = Substring(text.dropFirst("redis://".count))
        var database = 0
        if let slash = rest.firstIndex(of: "/") {
            let dbText = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
            if !dbText.isEmpty {
                guard let db = Int(dbText), (0...65535).contains(db) else {
                    throw ParseError(description: "database `\(dbText)` is not a number from 0 to 65535")
                }
                database = db
            }
        }
        var username: String?
        var password: String?
        if let at = rest.lastIndex(of: "@") {
            let userinfo = rest[..<at]
            rest = rest[rest.index(after: at)...]
            let user: Substring
            let secret: Substring?
            if let colon = userinfo.firstIndex(of: ":") {
                user = userinfo[..<colon]
                secret = userinfo[userinfo.index(after: colon)...]
            } else {
                // `redis://secret@host`: a lone userinfo is the password (as redis-cli reads it).
                user = ""
                secret = userinfo
            }
            guard let u = Self.percentDecoded(user), let p = secret.flatMap(Self.percentDecoded) else {
                throw ParseError(description: "the user or password has a malformed %-escape")
            }
            username = u.isEmpty ? nil : u
            password = p.isEmpty ? nil : p
        }
        var host: Substring
        var port = 6379
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { throw ParseError(description: "unclosed [ in the host") }
            host = rest[rest.index(after: rest.startIndex)..<close]
            let after = rest[rest.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":"), let p = Int(after.dropFirst()), (1...65535).contains(p) else {
                    throw ParseError(description: "`\(after)` is not :port")
                }
                port = p
            }
        } else {
            if let colon = rest.lastIndex(of: ":") {
                guard let p = Int(rest[rest.index(after: colon)...]), (1...65535).contains(p) else {
                    throw ParseError(description: "`\(rest[rest.index(after: colon)...])` is not a port from 1 to 65535")
                }
                port = p
                host = rest[..<colon]
            } else {
                host = rest
            }
        }
        guard !host.isEmpty, host.utf8.count <= 253,
            host.utf8.allSatisfy({ NodeURL.isHostByte($0) || $0 == UInt8(ascii: ":") })
        else {
            throw ParseError(description: "`\(host)` is not a host name or IP address")
        }
        self.init(host: String(host), port: port, database: database, username: username, password: password)
    }

    /// The URL without its password, for logs and errors.
    public var description: String {
        let shownHost = host.contains(":") ? "[\(host)]" : host
        let auth = password == nil ? "" : "\(username ?? ""):***@"
        return "redis://\(auth)\(shownHost):\(port)/\(database)"
    }

    /// `text` with anything between `//` and `@` hidden (a password must not reach a log).
    static func redacted(_ text: String) -> String {
        guard let at = text.lastIndex(of: "@") else { return text }
        let scheme = text.hasPrefix("redis://") ? "redis://" : ""
        return scheme + "***" + String(text[at...])
    }

    private static func percentDecoded(_ text: Substring) -> String? {
        var bytes: [UInt8] = []
        var i = text.utf8.makeIterator()
        while let b = i.next() {
            if b == UInt8(ascii: "%") {
                guard let h = i.next().flatMap(hex), let l = i.next().flatMap(hex) else { return nil }
                bytes.append(h << 4 | l)
            } else {
                bytes.append(b)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hex(_ b: UInt8) -> UInt8? {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): b - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): b - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): b - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
