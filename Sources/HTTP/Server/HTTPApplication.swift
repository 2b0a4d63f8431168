import HTTPTypes
import Logging
import Reactor
import Telemetry

/// The middleware pipeline of one core, in front of the router: request log and metrics,
/// CORS (preflights answered here, headers added to every response), 404/405/501, the per-IP
/// rate limit, authentication, then the route's handler. Sans-IO: it takes a parsed request
/// and its responder; `HTTPServer` wires it to connections.
/// Not `Sendable`: one per core.
public final class HTTPApplication {
    public let router: Router
    public let cors: CORSPolicy
    public let rateLimiter: RateLimiter
    public let authenticator: Authenticator
    public let metrics: HTTPMetrics
    public var logger: Logger
    public let coreIndex: Int
    private let clock: () -> Instant
    private let hop: CoreHop
    /// Spans for requests (`OTEL_EXPORTER_OTLP_ENDPOINT`); nil: no tracing and no cost.
    public var tracer: Tracer?

    static let traceparent = HTTPField.Name("traceparent")!
    static let knownMethods: Set<HTTPRequest.Method> = [.get, .head, .post, .put, .delete, .patch, .options]
    /// Longest method name repeated in a 501 answer or a log line.
    static let maxEchoedMethodLength = 32

    /// `method` cut to `maxEchoedMethodLength` characters (a token is ASCII), with `…` when cut.
    static func printable(_ method: String) -> String {
        method.utf8.count <= maxEchoedMethodLength ? method : String(method.prefix(maxEchoedMethodLength)) + "…"
    }

    public init(
        router: Router, cors: CORSPolicy, rateLimiter: RateLimiter, authenticator: Authenticator,
        metrics: HTTPMetrics, logger: Logger, coreIndex: Int, clock: @escaping () -> Instant, hop: CoreHop
    ) {
        self.router = router
        self.cors = cors
        self.rateLimiter = rateLimiter
        self.authenticator = authenticator
        self.metrics = metrics
        self.logger = logger
        self.coreIndex = coreIndex
        self.clock = clock
        self.hop = hop
    }

    /// Handles one request from a connection.
    public func handle(_ incoming: HTTPConnection.Request, remoteAddress: SocketAddress?) {
        handle(parsed: incoming.parsed, responder: incoming.responder, remoteAddress: remoteAddress, receivedAt: incoming.receivedAt)
    }

    public func handle(parsed: HTTPParsedRequest, responder: HTTPResponder, remoteAddress: SocketAddress?, receivedAt: Instant) {
        var request = HTTPServerRequest(
            head: parsed.head, body: parsed.body, remoteAddress: remoteAddress, coreIndex: coreIndex, receivedAt: receivedAt)
        let method = request.head.method
        let origin = request.head.headerFields[.origin]
        let start = clock()

        // Decided here, once the route is known: see `finish`.
        var routeName = "unmatched"
        let cors = self.cors
        let metrics = self.metrics
        let logger = self.logger
        let clock = self.clock
        let core = coreIndex
        let path = request.path
        // A method is any token up to the request line's length: log and echo a short prefix only.
        let methodText = Self.printable(method.rawValue)
        // Tracing: the client's `traceparent` (W3C) continues into this request's span. Only
        // the method, route template, status, room and core go into it: no path, query or
        // header (a token may be in any of them).
        let tracer = self.tracer
        var roomAttribute: String?
        var traceParent: TraceContext?
        var trace: TraceContext?
        var traceStart: UInt64 = 0
        if let tracer {
            traceParent = request.head.headerFields[Self.traceparent].flatMap { TraceContext(traceparent: $0) }
            trace = tracer.newContext(parent: traceParent)
            // The loop's receive time: the session's milestones are on the loops' clock too.
            traceStart = tracer.unixNanos(receivedAt)
            request.trace = trace
            request.traceStartUnixNanos = traceStart
        }
        responder.addFilter { response in
            if let tracer, let trace, trace.sampled {
                let label = HTTPMetrics.methodLabel(method.rawValue)
                var span = Span(
                    context: trace, parentSpanID: traceParent?.spanID ?? 0, name: "\(label) \(routeName)", kind: .server,
                    startUnixNanos: traceStart,
                    attributes: [
                        ("http.request.method", .string(label)), ("http.route", .string(routeName)),
                        ("http.response.status_code", .int(Int64(response.status.code))), ("livesfu.core", .int(Int64(core))),
                    ])
                if let roomAttribute { span.attributes.append(("livesfu.room", .string(roomAttribute))) }
                span.endUnixNanos = tracer.nowUnixNanos()
                span.isError = response.status.code >= 500
                tracer.record(span)
            }
            cors.decorate(&response, origin: origin)
            let duration = clock() - start
            metrics.record(route: routeName, method: method.rawValue, status: response.status.code, durationNanoseconds: duration.nanoseconds)
            // Path only: a query string may carry a token; bodies (SDP) are never logged at info.
            logger.info(
                "\(methodText) \(path) \(response.status.code)",
                metadata: ["ms": "\(Double(duration.nanoseconds / 1000) / 1000)", "core": "\(core)", "route": "\(routeName)"])
        }

        guard Self.knownMethods.contains(method) else {
            responder.respond(.error(.notImplemented, "method \(methodText) not implemented"))
            return
        }

        if request.head.path == "*" {
            if method == .options {
                if CORSPolicy.isPreflight(request.head) {
                    responder.respond(cors.preflightResponse(for: request.head))
                } else {
                    var fields = HTTPFields()
                    fields[.allow] = "GET, HEAD, POST, PATCH, DELETE, OPTIONS"
                    responder.respond(HTTPServerResponse(status: .noContent, headerFields: fields))
                }
            } else {
                responder.respond(.error(.badRequest, "bad request target"))
            }
            return
        }

        let match = router.match(method: method, path: request.path)
        switch match {
        case .notFound:
            responder.respond(.error(.notFound, "not found"))

        case .methodNotAllowed(let allow, let policy):
            if method == .options {
                if CORSPolicy.isPreflight(request.head) {
                    responder.respond(cors.preflightResponse(for: request.head, acceptPost: policy.acceptPost))
                } else {
                    var fields = HTTPFields()
                    fields[.allow] = allow.map(\.rawValue).joined(separator: ", ")
                    if let acceptPost = policy.acceptPost { fields[HTTPField.Name("Accept-Post")!] = acceptPost }
                    responder.respond(HTTPServerResponse(status: .noContent, headerFields: fields))
                }
                return
            }
            var response = HTTPServerResponse.error(.methodNotAllowed, "method \(method.rawValue) not allowed here")
            response.head.headerFields[.allow] = allow.map(\.rawValue).joined(separator: ", ")
            responder.respond(response)

        case .found(let route, let parameters):
            routeName = route.pattern
            roomAttribute = parameters["room"].map { String($0.prefix(128)) }
            request.pathParameters = parameters
            request.routeName = route.pattern

            if route.policy.rateLimited, case .limited(let retryAfter) = rateLimiter.check(remoteAddress, now: start) {
                var response = HTTPServerResponse.error(.tooManyRequests, "rate limit exceeded")
                response.head.headerFields[.retryAfter] = String(retryAfter)
                responder.respond(response)
                return
            }

            let requirement = route.policy.auth
            let room: String? = {
                switch requirement {
                case .room(let parameter): return parameters[parameter]
                case .roomResource(let parameter): return parameters[parameter].flatMap { route.policy.roomOf?($0) }
                default: return nil
                }
            }()
            switch authenticator.evaluate(requirement, room: room, fields: request.head.headerFields) {
            case .decided(let result):
                proceed(result, request: request, route: route, responder: responder)
            case .needsJWT(let token):
                let authenticator = self.authenticator
                hop.run({ await authenticator.verifyJWT(token) }) { [weak self] claims in
                    guard let self, responder.isConnectionAlive else { return }
                    let result = authenticator.decide(requirement, room: room, claims: claims)
                    self.proceed(result, request: request, route: route, responder: responder)
                }
            }
        }
    }

    private func proceed(_ result: AuthResult, request: HTTPServerRequest, route: Router.Route, responder: HTTPResponder) {
        switch result {
        case .denied(let status, let reason):
            var response = HTTPServerResponse.error(status, reason)
            if status == .unauthorized { response.head.headerFields[.wwwAuthenticate] = "Bearer" }
            responder.respond(response)
        case .allowed(let identity):
            var request = request
            request.identity = identity
            route.handler(request, responder)
        }
    }
}
