/// Encodes spans as an OTLP `ExportTraceServiceRequest` in protobuf wire format
/// (opentelemetry-proto, `trace/v1/trace.proto`, `common/v1/common.proto`,
/// `resource/v1/resource.proto`): the body of an OTLP/HTTP `http/protobuf` request. Written
/// by hand (a few field numbers) rather than pulling swift-protobuf and its plugin into the
/// build; the interop test decodes it with the official Python definitions.
public enum OTLPProtobuf {
    public static func exportRequest(spans: [Span], resource: [(String, Span.Value)], scope: String) -> [UInt8] {
        var scopeSpans: [UInt8] = []
        var scopeMessage: [UInt8] = []
        string(1, scope, into: &scopeMessage)
        message(1, scopeMessage, into: &scopeSpans)
        for s in spans { message(2, span(s), into: &scopeSpans) }
        var resourceMessage: [UInt8] = []
        for (k, v) in resource { message(1, keyValue(k, v), into: &resourceMessage) }
        var resourceSpans: [UInt8] = []
        message(1, resourceMessage, into: &resourceSpans)
        message(2, scopeSpans, into: &resourceSpans)
        var request: [UInt8] = []
        message(1, resourceSpans, into: &request)
        return request
    }

    static func span(_ s: Span) -> [UInt8] {
        var out: [UInt8] = []
        bytes(1, bigEndian(s.context.traceIDHigh) + bigEndian(s.context.traceIDLow), into: &out)
        bytes(2, bigEndian(s.context.spanID), into: &out)
        if s.parentSpanID != 0 { bytes(4, bigEndian(s.parentSpanID), into: &out) }
        string(5, s.name, into: &out)
        varintField(6, UInt64(s.kind.rawValue), into: &out)
        fixed64(7, s.startUnixNanos, into: &out)
        fixed64(8, s.endUnixNanos, into: &out)
        for (k, v) in s.attributes { message(9, keyValue(k, v), into: &out) }
        for e in s.events {
            var event: [UInt8] = []
            fixed64(1, e.unixNanos, into: &event)
            string(2, e.name, into: &event)
            for (k, v) in e.attributes { message(3, keyValue(k, v), into: &event) }
            message(11, event, into: &out)
        }
        if s.isError {
            var status: [UInt8] = []
            varintField(3, 2, into: &status)  // STATUS_CODE_ERROR
            message(15, status, into: &out)
        }
        return out
    }

    static func keyValue(_ key: String, _ value: Span.Value) -> [UInt8] {
        var any: [UInt8] = []
        switch value {
        case .string(let s): string(1, s, into: &any)
        case .bool(let b): varintField(2, b ? 1 : 0, into: &any)
        case .int(let i): varintField(3, UInt64(bitPattern: i), into: &any)
        }
        var kv: [UInt8] = []
        string(1, key, into: &kv)
        message(2, any, into: &kv)
        return kv
    }

    // MARK: wire format

    static func varint(_ v: UInt64, into out: inout [UInt8]) {
        var v = v
        while v >= 0x80 {
            out.append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
    }

    static func tag(_ field: Int, _ wireType: UInt64, into out: inout [UInt8]) {
        varint(UInt64(field) << 3 | wireType, into: &out)
    }

    static func varintField(_ field: Int, _ v: UInt64, into out: inout [UInt8]) {
        tag(field, 0, into: &out)
        varint(v, into: &out)
    }

    static func fixed64(_ field: Int, _ v: UInt64, into out: inout [UInt8]) {
        tag(field, 1, into: &out)
        for i in 0..<8 { out.append(UInt8(truncatingIfNeeded: v >> (8 * UInt64(i)))) }
    }

    static func bytes(_ field: Int, _ b: [UInt8], into out: inout [UInt8]) {
        tag(field, 2, into: &out)
        varint(UInt64(b.count), into: &out)
        out += b
    }

    static func string(_ field: Int, _ s: String, into out: inout [UInt8]) { bytes(field, Array(s.utf8), into: &out) }
    static func message(_ field: Int, _ m: [UInt8], into out: inout [UInt8]) { bytes(field, m, into: &out) }

    static func bigEndian(_ v: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: v >> (56 - 8 * UInt64($0))) } }
}
