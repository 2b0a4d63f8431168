import Logging
import Reactor
import Telemetry

extension HTTPServer {
    /// Builds one core's server from the configuration: CORS, rate limiter and metrics of its
    /// own, the shared `Authenticator`, the standard routes (`/healthz`, `/metrics`, `/`,
    /// `/web/…`) plus whatever `routes` adds (the WHIP/WHEP/room handlers). Call on the core's
    /// thread (in `ReactorGroup`'s setup), then `start(bind:)`.
    ///
    /// - Parameters:
    ///   - gatherMetrics: collects the merged snapshot of every core for `/metrics` (see
    ///     `MetricsGathering.acrossCores`); it receives this core's server to read from.
    ///   - drain: the graceful shutdown's state (`/healthz` answers 503 while draining).
    public static func make(
        loop: EventLoop, configuration: Configuration, authenticator: Authenticator, tls: TLSServerContext?,
        logger: Logger, drain: DrainState? = nil, tracer: Tracer? = nil, gatherMetrics: @escaping StandardRoutes.MetricsGatherer,
        routes: (Router) -> Void
    ) -> HTTPServer {
        let router = Router()
        StandardRoutes.register(
            on: router, staticFiles: StaticFiles(root: configuration.webDirectory, security: configuration.pageSecurity),
            gatherMetrics: gatherMetrics, drain: drain)
        routes(router)
        let handle = loop.handle
        let application = HTTPApplication(
            router: router, cors: configuration.cors,
            rateLimiter: RateLimiter(ratePerSecond: configuration.rateLimitRPS, burst: configuration.rateLimitBurst),
            authenticator: authenticator, metrics: HTTPMetrics(), logger: logger, coreIndex: loop.index,
            // A real clock read (vDSO, ~20 ns) so logged durations are not the loop turn's.
            clock: { Instant.now() },
            hop: MailboxCoreHop(post: { job in handle.execute(job) }))
        application.tracer = tracer
        return HTTPServer(loop: loop, application: application, limits: configuration.httpLimits, tls: tls, logger: logger)
    }

    /// This core's figures as a snapshot (for `MetricsGathering`): the HTTP counters, then
    /// every contributor added with `addMetricsContributor` (the rooms of this core).
    public func metricsSnapshot() -> MetricsSnapshot {
        var snapshot = MetricsSnapshot()
        application.metrics.contribute(to: &snapshot)
        for contributor in metricsContributors { contributor(&snapshot) }
        return snapshot
    }

    /// Adds figures of this core to every scrape (called on this core at scrape time).
    public func addMetricsContributor(_ contributor: @escaping (inout MetricsSnapshot) -> Void) {
        metricsContributors.append(contributor)
    }
}
