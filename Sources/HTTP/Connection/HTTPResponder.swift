/// Answers one request, now or later. A handler may keep it while the request travels to
/// the core that owns a room and back; `respond` is then a no-op if the client has gone
/// (the connection is only weakly held, so a dead client leaves nothing behind but this
/// small object, which dies with the closure holding it). Only the first `respond` counts.
/// Not `Sendable`: it stays on the core that accepted the connection.
public final class HTTPResponder {
    weak var connection: HTTPConnection?
    let sequence: UInt64
    /// Applied in reverse order of registration before the response is written (the
    /// middleware's CORS headers, metrics and the request log).
    private var filters: [(inout HTTPServerResponse) -> Void] = []
    private var cancelHandlers: [() -> Void] = []
    public private(set) var hasResponded = false

    init(connection: HTTPConnection?, sequence: UInt64) {
        self.connection = connection
        self.sequence = sequence
    }

    /// A responder attached to no connection (tests, and internal requests).
    public static func detached(_ onResponse: @escaping (HTTPServerResponse) -> Void) -> HTTPResponder {
        let responder = HTTPResponder(connection: nil, sequence: 0)
        responder.sink = onResponse
        return responder
    }

    private var sink: ((HTTPServerResponse) -> Void)?

    /// Whether the client is still there to receive an answer.
    public var isConnectionAlive: Bool {
        if sink != nil { return !hasResponded }
        guard let connection else { return false }
        return !connection.isClosed && !hasResponded
    }

    /// Sends the response (after the filters). Later calls are ignored.
    public func respond(_ response: HTTPServerResponse) {
        guard !hasResponded else { return }
        hasResponded = true
        var response = response
        for filter in filters.reversed() { filter(&response) }
        filters = []
        cancelHandlers = []
        if let sink {
            sink(response)
            self.sink = nil
            return
        }
        connection?.complete(sequence: sequence, with: response)
    }

    /// Registers a transformation of the response (middleware).
    public func addFilter(_ filter: @escaping (inout HTTPServerResponse) -> Void) {
        filters.append(filter)
    }

    /// Registers work to undo if the connection closes before an answer (e.g. removing a
    /// pending cross-core entry). Runs at most once.
    public func onCancel(_ body: @escaping () -> Void) {
        if !hasResponded && connection?.isClosed == true {
            body()
            return
        }
        cancelHandlers.append(body)
    }

    func cancel() {
        guard !hasResponded else { return }
        hasResponded = true
        let handlers = cancelHandlers
        cancelHandlers = []
        filters = []
        for handler in handlers { handler() }
    }
}
