import HTTPTypes

/// Cross-origin rules from `ALLOWED_ORIGIN`: `*` (any origin), one origin, or a
/// comma-separated list; empty means no CORS headers at all (same-origin pages only).
///
/// Preflights are answered with the methods and headers WHIP/WHEP clients use, and every
/// response to an allowed origin exposes `Location, ETag, Link, Accept-Patch` so a page can
/// read the session URL. `Access-Control-Allow-Credentials` is never sent: WHIP/WHEP
/// authenticate with a bearer token, not cookies, and it must never accompany `*`.
public struct CORSPolicy: Sendable, Equatable {
    public enum Origins: Sendable, Equatable {
        case none
        case any
        /// Exact origins (`https://app.example.com`), compared case-insensitively.
        case list([String])
    }

    public var origins: Origins
    public static let allowedMethods = "GET, POST, PATCH, DELETE, OPTIONS"
    public static let allowedHeaders = "Authorization, Content-Type, If-Match, X-Auth-Token"
    public static let exposedHeaders = "Location, ETag, Link, Accept-Patch"
    /// How long a browser may cache a preflight, in seconds.
    public var maxAgeSeconds = 600

    public init(origins: Origins) { self.origins = origins }

    /// Parses `ALLOWED_ORIGIN`.
    public init(allowedOrigin: String) throws(ConfigurationError) {
        let trimmed = allowedOrigin.trimmingASCIIWhitespace()
        if trimmed.isEmpty {
            origins = .none
            return
        }
        let items = trimmed.split(separator: ",").map { String($0).trimmingASCIIWhitespace() }.filter { !$0.isEmpty }
        if items.contains("*") {
            guard items.count == 1 else {
                throw .invalid("ALLOWED_ORIGIN", "`*` cannot be combined with other origins")
            }
            origins = .any
            return
        }
        for item in items {
            guard item.hasPrefix("http://") || item.hasPrefix("https://"), !item.hasSuffix("/"),
                item.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F })
            else {
                throw .invalid("ALLOWED_ORIGIN", "`\(item)` is not an origin like https://example.com (no path, no trailing slash)")
            }
        }
        origins = .list(items.map { $0.lowercased() })
    }

    /// The `Access-Control-Allow-Origin` value for a request's `Origin`, nil if refused.
    public func allowOrigin(for origin: String?) -> String? {
        switch origins {
        case .none: return nil
        case .any: return "*"
        case .list(let list):
            guard let origin, list.contains(origin.lowercased()) else { return nil }
            return origin
        }
    }

    /// Whether a request is a CORS preflight (OPTIONS with `Origin` and
    /// `Access-Control-Request-Method`).
    public static func isPreflight(_ request: HTTPRequest) -> Bool {
        request.method == .options && request.headerFields[.origin] != nil
            && request.headerFields[.accessControlRequestMethod] != nil
    }

    /// The answer to a preflight: 204 with the allowed methods and headers, or 403 for an
    /// origin not on the list.
    public func preflightResponse(for request: HTTPRequest, acceptPost: String? = nil) -> HTTPServerResponse {
        guard let allow = allowOrigin(for: request.headerFields[.origin]) else {
            var refused = HTTPServerResponse.error(.forbidden, "origin not allowed")
            refused.head.headerFields[.vary] = "Origin"
            return refused
        }
        var fields = HTTPFields()
        fields[.accessControlAllowOrigin] = allow
        fields[.accessControlAllowMethods] = Self.allowedMethods
        fields[.accessControlAllowHeaders] = Self.allowedHeaders
        fields[.accessControlMaxAge] = String(maxAgeSeconds)
        fields[.accessControlExposeHeaders] = Self.exposedHeaders
        fields[.vary] = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"
        if let acceptPost { fields[HTTPField.Name("Accept-Post")!] = acceptPost }
        return HTTPServerResponse(status: .noContent, headerFields: fields)
    }

    /// Adds the CORS fields to an actual (non-preflight) response for `origin`.
    public func decorate(_ response: inout HTTPServerResponse, origin: String?) {
        if case .none = origins { return }
        if case .list = origins { response.head.headerFields.appendVary("Origin") }
        guard origin != nil, let allow = allowOrigin(for: origin) else { return }
        response.head.headerFields[.accessControlAllowOrigin] = allow
        response.head.headerFields[.accessControlExposeHeaders] = Self.exposedHeaders
    }
}

extension HTTPFields {
    /// Adds a name to `Vary` unless already there.
    mutating func appendVary(_ name: String) {
        if let existing = self[.vary] {
            if !existing.lowercased().contains(name.lowercased()) { self[.vary] = existing + ", " + name }
        } else {
            self[.vary] = name
        }
    }
}

extension String {
    func trimmingASCIIWhitespace() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" || f == "\n" || f == "\r" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" || l == "\n" || l == "\r" { s = s.dropLast() }
        return String(s)
    }
}
