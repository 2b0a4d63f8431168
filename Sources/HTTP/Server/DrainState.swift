import HTTPTypes
import Synchronization

/// Whether the server is draining for a graceful shutdown (SIGTERM/SIGINT received). Set
/// once by the first stop signal; read by `/healthz` (503 while draining, so a load balancer
/// stops sending) and by the WHIP/WHEP routes (503 + `Retry-After` instead of a new
/// session), on the accepting core and again on the room's core, so an offer already on its
/// way through a mailbox when the signal came is refused too. One atomic load per health
/// check or offer; nothing on the media path reads it.
public final class DrainState: Sendable {
    /// What a stop signal asks for.
    public enum SignalAction: Equatable, Sendable {
        /// The first signal: drain, then exit within the shutdown timeout.
        case drain
        /// A later signal while draining: exit at once.
        case exitNow
    }

    private let signals = Atomic<Int>(0)
    /// `Retry-After` (seconds) on the offers refused while draining: long enough for a load
    /// balancer to have moved the client to another server.
    public let retryAfterSeconds: Int

    public init(retryAfterSeconds: Int = 5) {
        self.retryAfterSeconds = retryAfterSeconds
    }

    public var isDraining: Bool { signals.load(ordering: .acquiring) > 0 }

    /// Counts a stop signal (from whichever thread reads the signalfd).
    public func signalReceived() -> SignalAction {
        signals.add(1, ordering: .acquiringAndReleasing).newValue == 1 ? .drain : .exitNow
    }

    /// The answer to an offer while draining.
    public var refusal: HTTPServerResponse {
        var response = HTTPServerResponse.error(.serviceUnavailable, "server is shutting down; try another server")
        response.head.headerFields[.retryAfter] = "\(retryAfterSeconds)"
        return response
    }
}
