import HTTPTypes

/// The endpoints that need no rooms: `/healthz`, `/metrics`, `/`, `/web/…`.
public enum StandardRoutes {
    /// Gathers every core's snapshot (through the mailbox) and calls back on this core.
    public typealias MetricsGatherer = (@escaping (MetricsSnapshot) -> Void) -> Void

    /// - Parameter drain: while it says draining, `/healthz` answers 503 so a load balancer
    ///   stops sending new clients (nil: never draining).
    public static func register(
        on router: Router, staticFiles: StaticFiles, gatherMetrics: @escaping MetricsGatherer, drain: DrainState? = nil
    ) {
        router.add(.get, "/healthz") { _, responder in
            if drain?.isDraining == true {
                responder.respond(.text(.serviceUnavailable, "draining"))
            } else {
                responder.respond(.text(.ok, "ok"))
            }
        }
        router.add(.get, "/") { _, responder in
            responder.respond(redirect(.found, to: "/web/"))
        }
        router.add(.get, "/web") { _, responder in
            responder.respond(redirect(.movedPermanently, to: "/web/"))
        }
        // Before `/web/*path`: the first matching route wins.
        router.add(.get, "/web/\(PageSecurity.configScriptPath)") { _, responder in
            responder.respond(staticFiles.security.configScript)
        }
        router.add(.get, "/web/*path") { request, responder in
            responder.respond(staticFiles.response(relativePath: request.pathParameters["path"] ?? ""))
        }
        // Open unless METRICS_TOKEN is set: its room labels name every room.
        router.add(.get, "/metrics", policy: RoutePolicy(auth: .metrics)) { _, responder in
            gatherMetrics { snapshot in
                var all = snapshot
                ProcessMetrics.contribute(to: &all)
                var fields = HTTPFields()
                fields[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
                responder.respond(HTTPServerResponse(status: .ok, headerFields: fields, body: Array(all.renderPrometheus().utf8)))
            }
        }
    }

    static func redirect(_ status: HTTPResponse.Status, to location: String) -> HTTPServerResponse {
        var response = HTTPServerResponse.text(status, "see \(location)")
        response.head.headerFields[.location] = location
        return response
    }
}
