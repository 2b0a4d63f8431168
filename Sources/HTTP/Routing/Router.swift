import HTTPTypes

/// What a route requires before its handler runs.
public struct RoutePolicy: Sendable {
    /// Which credentials the route needs (see `Authenticator`).
    public var auth: AuthRequirement
    /// Whether the per-IP rate limit applies (the WHIP/WHEP/session/rooms/records endpoints).
    public var rateLimited: Bool
    /// `Accept-Post` announced in OPTIONS answers (`application/sdp` on WHIP/WHEP).
    public var acceptPost: String?
    /// For `AuthRequirement.roomResource`: the room the path parameter's value belongs to
    /// (nil: none, or no such thing). Called on the accepting core before the handler.
    public var roomOf: (@Sendable (String) -> String?)?

    public init(
        auth: AuthRequirement = .none, rateLimited: Bool = false, acceptPost: String? = nil,
        roomOf: (@Sendable (String) -> String?)? = nil
    ) {
        self.auth = auth
        self.rateLimited = rateLimited
        self.acceptPost = acceptPost
        self.roomOf = roomOf
    }
}

/// Maps method and path to a handler. Patterns are literal segments, `:name` (one segment)
/// and a final `*name` (the rest of the path, possibly empty). Handlers are asynchronous:
/// they get the request and a responder to call now or later.
/// Not `Sendable`: each core builds its own (handlers capture core-confined state).
public final class Router {
    public typealias Handler = (HTTPServerRequest, HTTPResponder) -> Void

    public struct Route {
        public let method: HTTPRequest.Method
        public let pattern: String
        public let policy: RoutePolicy
        let segments: [Segment]
        let handler: Handler
    }

    enum Segment: Equatable {
        case literal(String)
        case parameter(String)
        case rest(String)
    }

    /// The outcome of matching a request.
    public enum Match {
        case found(Route, parameters: [String: String])
        /// The path exists but not for this method; `allow` lists what it has (with HEAD
        /// wherever GET is, and OPTIONS).
        case methodNotAllowed(allow: [HTTPRequest.Method], policy: RoutePolicy)
        case notFound
    }

    private(set) var routes: [Route] = []

    public init() {}

    /// Adds a route. HEAD is served by the GET route of the same path unless one is added.
    public func add(
        _ method: HTTPRequest.Method, _ pattern: String, policy: RoutePolicy = RoutePolicy(),
        _ handler: @escaping Handler
    ) {
        routes.append(Route(method: method, pattern: pattern, policy: policy, segments: Self.compile(pattern), handler: handler))
    }

    static func compile(_ pattern: String) -> [Segment] {
        pattern.split(separator: "/", omittingEmptySubsequences: true).map { part in
            if part.hasPrefix(":") { return .parameter(String(part.dropFirst())) }
            if part.hasPrefix("*") { return .rest(String(part.dropFirst())) }
            return .literal(String(part))
        }
    }

    /// Finds the route for a method and a (percent-encoded, query-less) path.
    public func match(method: HTTPRequest.Method, path: String) -> Match {
        let parts = Self.splitPath(path)
        var allowed: [HTTPRequest.Method] = []
        var policy: RoutePolicy?
        var headFallback: (Route, [String: String])?
        for route in routes {
            guard let parameters = Self.match(route.segments, parts) else { continue }
            if route.method == method { return .found(route, parameters: parameters) }
            if method == .head && route.method == .get && headFallback == nil {
                headFallback = (route, parameters)
            }
            if !allowed.contains(route.method) { allowed.append(route.method) }
            if policy == nil { policy = route.policy }
        }
        if let (route, parameters) = headFallback { return .found(route, parameters: parameters) }
        guard let policy else { return .notFound }
        if allowed.contains(.get) && !allowed.contains(.head) { allowed.append(.head) }
        if !allowed.contains(.options) { allowed.append(.options) }
        return .methodNotAllowed(allow: allowed, policy: policy)
    }

    /// Path segments; an empty path or "/" has none. A trailing slash is a distinct empty
    /// last segment only for `*rest` routes (so `/web/` maps to the index).
    static func splitPath(_ path: String) -> [Substring] {
        var parts = path.split(separator: "/", omittingEmptySubsequences: false)
        if parts.first == "" { parts.removeFirst() }
        if parts == [""] { return [] }  // "/" itself
        return parts
    }

    private static func match(_ segments: [Segment], _ parts: [Substring]) -> [String: String]? {
        var parameters: [String: String] = [:]
        var i = 0
        for segment in segments {
            switch segment {
            case .literal(let literal):
                guard i < parts.count, parts[i] == literal else { return nil }
                i += 1
            case .parameter(let name):
                guard i < parts.count, !parts[i].isEmpty, let value = PercentDecoding.decode(parts[i]) else { return nil }
                parameters[name] = value
                i += 1
            case .rest(let name):
                let rest = parts[min(i, parts.count)...].joined(separator: "/")
                guard let value = PercentDecoding.decode(Substring(rest)) else { return nil }
                parameters[name] = value
                return parameters
            }
        }
        // Every path segment must be consumed: `/api/rooms/` is not `/api/rooms`.
        return i == parts.count ? parameters : nil
    }
}

/// Percent-decoding of path segments (RFC 3986 §2.1); nil for malformed escapes or
/// non-UTF-8 results.
public enum PercentDecoding {
    public static func decode(_ text: Substring) -> String? {
        guard text.utf8.contains(UInt8(ascii: "%")) else { return String(text) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var iterator = text.utf8.makeIterator()
        while let b = iterator.next() {
            if b == UInt8(ascii: "%") {
                guard let h = iterator.next().flatMap(hex), let l = iterator.next().flatMap(hex) else { return nil }
                bytes.append(h << 4 | l)
            } else {
                bytes.append(b)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hex(_ b: UInt8) -> UInt8? {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return b - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return b - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return b - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
