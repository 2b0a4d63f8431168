import HTTPTypes

/// What the pages under `/web/` may do in a browser. A page that takes `?server=`, `?token=`
/// and `?autostart=1` would otherwise send a camera and a token to any server a link names,
/// so the pages talk to their own origin and to the origins of `WEB_ALLOWED_SERVERS` only:
/// the browser enforces it through the Content-Security-Policy's `connect-src` on every page,
/// and `whip.js` refuses any other `?server=` with a visible error (it reads the list from
/// `/web/livesfu-config.js`, served from this value). The pages cannot be framed
/// (`frame-ancestors 'none'`, clickjacking) and run no inline script.
public struct PageSecurity: Sendable, Equatable {
    /// Origins (`https://host[:port]`, port `*` for any) the pages may use besides their own.
    public let allowedServers: [String]

    /// The path of the generated script that tells the pages `allowedServers`.
    public static let configScriptPath = "livesfu-config.js"

    /// The pages talk to their own origin only (the default).
    public static let sameOriginOnly = PageSecurity(validated: [])

    private init(validated: [String]) { allowedServers = validated }

    /// Validates each origin strictly: it is written into a response header and a script.
    public init(allowedServers: [String]) throws(ConfigurationError) {
        for origin in allowedServers where !Self.isOrigin(origin) {
            throw .invalid(
                "WEB_ALLOWED_SERVERS",
                "`\(origin.prefix(100))` is not an origin like https://host or http://host:port (port may be *)")
        }
        self.allowedServers = allowedServers
    }

    /// Headers added to every file served under `/web/`.
    public var headers: HTTPFields {
        var fields = HTTPFields()
        let connect = (["'self'"] + allowedServers).joined(separator: " ")
        fields[.contentSecurityPolicy] =
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            + "media-src 'self' blob: mediastream:; connect-src \(connect); object-src 'none'; "
            + "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
        fields[HTTPField.Name("X-Frame-Options")!] = "DENY"
        // Links on the pages carry `?token=`: no Referer may take it elsewhere.
        fields[HTTPField.Name("Referrer-Policy")!] = "no-referrer"
        fields[.xContentTypeOptions] = "nosniff"
        return fields
    }

    /// `/web/livesfu-config.js`: the allowed servers as a frozen JavaScript array.
    public var configScript: HTTPServerResponse {
        // Every origin passed `isOrigin` (no quote, backslash or angle bracket), so quoting is safe.
        let list = allowedServers.map { "\"\($0)\"" }.joined(separator: ", ")
        var fields = headers
        fields[.contentType] = "text/javascript; charset=utf-8"
        fields[.cacheControl] = "no-cache"
        let body = "window.LIVESFU_ALLOWED_SERVERS = Object.freeze([\(list)]);\n"
        return HTTPServerResponse(status: .ok, headerFields: fields, body: Array(body.utf8))
    }

    /// `http(s)://` + a host name, IPv4 or bracketed IPv6 literal + an optional `:port` or `:*`;
    /// nothing else (no path, no user info, no wildcard host).
    static func isOrigin(_ text: String) -> Bool {
        let rest: Substring
        if text.hasPrefix("https://") {
            rest = text.dropFirst(8)
        } else if text.hasPrefix("http://") {
            rest = text.dropFirst(7)
        } else {
            return false
        }
        var host = rest
        var port: Substring?
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { return false }
            host = rest[rest.index(after: rest.startIndex)..<close]
            let after = rest[rest.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { return false }
                port = after.dropFirst()
            }
            guard !host.isEmpty, host.utf8.allSatisfy({ isHex($0) || $0 == UInt8(ascii: ":") || $0 == UInt8(ascii: ".") })
            else { return false }
        } else {
            if let colon = rest.firstIndex(of: ":") {
                host = rest[..<colon]
                port = rest[rest.index(after: colon)...]
            }
            guard !host.isEmpty, host.count <= 253,
                host.utf8.allSatisfy({ isAlphanumeric($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".") })
            else { return false }
        }
        if let port {
            if port == "*" { return true }
            guard (1...5).contains(port.count), port.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }), let n = Int(port),
                (1...65535).contains(n)
            else { return false }
        }
        return true
    }

    private static func isHex(_ c: UInt8) -> Bool {
        (c >= 48 && c <= 57) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70)
    }

    private static func isAlphanumeric(_ c: UInt8) -> Bool {
        (c >= 48 && c <= 57) || (c >= 97 && c <= 122) || (c >= 65 && c <= 90)
    }
}
