/// One finished span, as the exporter encodes it (OTLP `Span`).
public struct Span: Sendable {
    public enum Kind: Int, Sendable { case `internal` = 1, server = 2 }
    public enum Value: Sendable, Equatable {
        case string(String)
        case int(Int64)
        case bool(Bool)
    }
    public struct Event: Sendable {
        public var name: String
        public var unixNanos: UInt64
        public var attributes: [(String, Value)]
        public init(name: String, unixNanos: UInt64, attributes: [(String, Value)] = []) {
            self.name = name
            self.unixNanos = unixNanos
            self.attributes = attributes
        }
    }

    public var context: TraceContext
    /// 0 for a root span.
    public var parentSpanID: UInt64
    public var name: String
    public var kind: Kind
    public var startUnixNanos: UInt64
    public var endUnixNanos: UInt64 = 0
    public var attributes: [(String, Value)]
    public var events: [Event] = []
    /// OTLP status: an error (a 5xx answer, a failed session) or unset.
    public var isError = false

    public init(
        context: TraceContext, parentSpanID: UInt64, name: String, kind: Kind, startUnixNanos: UInt64,
        attributes: [(String, Value)] = []
    ) {
        self.context = context
        self.parentSpanID = parentSpanID
        self.name = name
        self.kind = kind
        self.startUnixNanos = startUnixNanos
        self.attributes = attributes
    }
}
