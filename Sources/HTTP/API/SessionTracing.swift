import Reactor
import SFU
import Telemetry

/// A session's span: opened when its offer is answered (a child of the offer's request
/// span, so a WHIP client's trace continues into it), given an event per milestone the
/// room layer notes (`SessionLifecycle`), ended with the session's end reason.
public enum SessionTracing {
    static func started(
        tracer: Tracer, request: TraceContext, startUnixNanos: UInt64, sessionID: String, room: String,
        role: PeerSession.Role, core: Int, answeredAt: Instant
    ) {
        var context = tracer.newContext(parent: request)
        context.sampled = true
        var span = Span(
            context: context, parentSpanID: request.spanID, name: role == .publisher ? "session publish" : "session play",
            kind: .internal, startUnixNanos: startUnixNanos,
            attributes: [
                ("livesfu.room", .string(room)), ("livesfu.role", .string(role.rawValue)),
                ("livesfu.session_id", .string(sessionID)), ("livesfu.core", .int(Int64(core))),
            ])
        span.events.append(Span.Event(name: "offer.answered", unixNanos: tracer.unixNanos(answeredAt)))
        tracer.sessionStarted(id: sessionID, span)
    }

    /// Hands every milestone of `rooms`' sessions to `tracer` (set once on the core).
    public static func observe(_ rooms: RoomManager, tracer: Tracer) {
        rooms.lifecycle.observer = { s, event, now in
            let t = tracer.unixNanos(now)
            switch event {
            case .ended(let reason):
                let failed = reason == .failed || reason == .setupTimeout || reason == .consentExpired
                tracer.sessionEnded(id: s.id, unixNanos: t, reason: reason.rawValue, error: failed)
            default:
                tracer.sessionEvent(id: s.id, Span.Event(name: name(event), unixNanos: t))
            }
        }
    }

    /// Event names, in the order a session meets them.
    static func name(_ event: SessionLifecycle.Event) -> String {
        switch event {
        case .iceConnected: return "ice.connected"
        case .dtlsConnected: return "dtls.connected"
        case .connected: return "connected"
        case .firstMediaIn: return "media.first_in"
        case .firstMediaOut: return "media.first_out"
        case .iceRestart: return "ice.restart"
        case .ended: return "session.ended"
        }
    }
}
