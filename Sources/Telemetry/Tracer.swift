import Glibc
import Reactor
import Synchronization

/// Traces of one process: the cores hand finished request spans and session milestones to
/// it as small messages (`record`, `sessionStarted`, `sessionEvent`, `sessionEnded`: a
/// bounded queue, a few per request or session, never per packet); one exporter thread of
/// its own assembles the session spans and sends batches as OTLP/HTTP protobuf through
/// libcurl (`OTLPHTTPClient`). A full queue drops (counted), it never blocks a core. Without
/// `OTEL_EXPORTER_OTLP_ENDPOINT` there is no `Tracer` at all: nothing is created, queued or
/// sent, and the code paths test one optional.
public final class Tracer: Sendable {
    public let settings: TracingSettings

    enum Message: Sendable {
        case finished(Span)
        case sessionStarted(id: String, Span)
        case sessionEvent(id: String, Span.Event)
        case sessionEnded(id: String, unixNanos: UInt64, reason: String, error: Bool)
    }

    private struct Inbox {
        var messages: [Message] = []
        var dropped = 0
        var stopping = false
    }

    /// At most this many messages wait for the exporter; more are dropped.
    public static let maxQueued = 16_384
    /// Session spans open at once (the cores' 20 000 sessions each, with room); more are not traced.
    public static let maxOpenSessions = 100_000
    /// Spans per OTLP request.
    public static let batchSize = 512

    private let inbox = Mutex(Inbox())
    private let exported = Atomic<Int>(0)
    private let finished = Atomic<Bool>(false)
    /// CLOCK_REALTIME − CLOCK_MONOTONIC at start: turns the loops' `Instant`s into Unix time.
    private let wallOffsetNanos: Int64

    public init(settings: TracingSettings) throws(ReactorError) {
        self.settings = settings
        var wall = timespec()
        clock_gettime(CLOCK_REALTIME, &wall)
        let mono = Instant.now().nanoseconds
        wallOffsetNanos = Int64(wall.tv_sec) * 1_000_000_000 + Int64(wall.tv_nsec) - Int64(mono)
        let resource = settings.resource.map { ($0.0, Span.Value.string($0.1)) }
        // The client is made on the exporter thread and never leaves it.
        _ = try OSThread.spawn { [self] in
            self.run(client: OTLPHTTPClient(url: settings.tracesURL, headers: settings.headers), resource: resource)
        }
    }

    /// Unix time of a loop's `Instant`.
    public func unixNanos(_ instant: Instant) -> UInt64 { UInt64(Int64(instant.nanoseconds) + wallOffsetNanos) }

    public func nowUnixNanos() -> UInt64 { unixNanos(Instant.now()) }

    /// A new span's context: in the parent's trace, or a new one; sampled per the sampler.
    public func newContext(parent: TraceContext?) -> TraceContext {
        var g = SystemRandomNumberGenerator()
        let high = parent?.traceIDHigh ?? g.next()
        var low = parent?.traceIDLow ?? g.next()
        if parent == nil, high == 0, low == 0 { low = 1 }
        var span: UInt64 = g.next()
        if span == 0 { span = 1 }
        return TraceContext(
            traceIDHigh: high, traceIDLow: low, spanID: span, sampled: settings.sampler.sample(parent: parent, traceIDLow: low))
    }

    // MARK: from the cores

    /// A finished span (an HTTP request's).
    public func record(_ span: Span) { post(.finished(span)) }

    /// Opens a session's span under `id`; its events and end follow under the same id.
    public func sessionStarted(id: String, _ span: Span) { post(.sessionStarted(id: id, span)) }

    public func sessionEvent(id: String, _ event: Span.Event) { post(.sessionEvent(id: id, event)) }

    public func sessionEnded(id: String, unixNanos: UInt64, reason: String, error: Bool) {
        post(.sessionEnded(id: id, unixNanos: unixNanos, reason: reason, error: error))
    }

    private func post(_ m: Message) {
        inbox.withLock { b in
            if b.messages.count < Self.maxQueued, !b.stopping { b.messages.append(m) } else { b.dropped += 1 }
        }
    }

    /// Spans sent and acknowledged (2xx) so far; messages dropped on a full queue.
    public var exportedSpans: Int { exported.load(ordering: .relaxed) }
    public var droppedMessages: Int { inbox.withLock { $0.dropped } }

    /// Shutdown: what is queued (and the session spans still open, ended now) is sent, within
    /// `timeout`; then the thread ends. Returns whether it finished in time.
    @discardableResult
    public func shutdown(timeout: Duration) -> Bool {
        inbox.withLock { $0.stopping = true }
        let deadline = Instant.now() + timeout
        while !finished.load(ordering: .acquiring), Instant.now() < deadline { usleep(2000) }
        return finished.load(ordering: .acquiring)
    }

    // MARK: the exporter thread

    private func run(client: OTLPHTTPClient, resource: [(String, Span.Value)]) {
        var open: [String: Span] = [:]
        var ready: [Span] = []
        var batch: [Message] = []
        while true {
            let stopping = inbox.withLock { b -> Bool in
                swap(&batch, &b.messages)
                return b.stopping
            }
            for m in batch {
                switch m {
                case .finished(let s): ready.append(s)
                case .sessionStarted(let id, let s):
                    if open.count < Self.maxOpenSessions { open[id] = s }
                case .sessionEvent(let id, let e):
                    open[id]?.events.append(e)
                case .sessionEnded(let id, let t, let reason, let error):
                    guard var s = open.removeValue(forKey: id) else { continue }
                    s.endUnixNanos = t
                    s.attributes.append(("livesfu.end_reason", .string(reason)))
                    s.events.append(Span.Event(name: "session.ended", unixNanos: t, attributes: [("reason", .string(reason))]))
                    s.isError = error
                    ready.append(s)
                }
            }
            batch.removeAll(keepingCapacity: true)
            if stopping {
                let now = nowUnixNanos()
                for (_, var s) in open {
                    s.endUnixNanos = now
                    s.attributes.append(("livesfu.end_reason", .string("exporter_shutdown")))
                    ready.append(s)
                }
                open.removeAll()
            }
            while !ready.isEmpty {
                let part = Array(ready.prefix(Self.batchSize))
                ready.removeFirst(part.count)
                let body = OTLPProtobuf.exportRequest(spans: part, resource: resource, scope: "livesfu")
                if client.post(body) { exported.add(part.count, ordering: .relaxed) }
            }
            if stopping { break }
            // Batches leave about five times a second: a span costs the cores only its message.
            usleep(200_000)
        }
        client.close()
        finished.store(true, ordering: .releasing)
    }
}
