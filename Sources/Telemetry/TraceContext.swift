/// A W3C Trace Context (`traceparent`, https://www.w3.org/TR/trace-context/): the trace a
/// request belongs to, the span that made it, and whether that trace is sampled.
public struct TraceContext: Sendable, Equatable {
    public var traceIDHigh: UInt64
    public var traceIDLow: UInt64
    public var spanID: UInt64
    public var sampled: Bool

    public init(traceIDHigh: UInt64, traceIDLow: UInt64, spanID: UInt64, sampled: Bool) {
        self.traceIDHigh = traceIDHigh
        self.traceIDLow = traceIDLow
        self.spanID = spanID
        self.sampled = sampled
    }

    /// Parses a `traceparent` header: `00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>`.
    /// Invalid values (wrong lengths, upper-case or non-hex digits, all-zero ids, version
    /// `ff`) give nil, and the request starts a new trace, as the specification asks. A
    /// version above 00 is read by its 00 prefix.
    public init?(traceparent value: String) {
        let bytes = Array(value.utf8)
        guard bytes.count >= 55, bytes[2] == 0x2D, bytes[35] == 0x2D, bytes[52] == 0x2D else { return nil }
        guard let version = Self.hex(bytes[0..<2]), version != 0xFF else { return nil }
        if version == 0, bytes.count != 55 { return nil }
        if version > 0, bytes.count > 55, bytes[55] != 0x2D { return nil }
        guard let high = Self.hex(bytes[3..<19]), let low = Self.hex(bytes[19..<35]), let span = Self.hex(bytes[36..<52]),
            let flags = Self.hex(bytes[53..<55]), high | low != 0, span != 0
        else { return nil }
        self.init(traceIDHigh: high, traceIDLow: low, spanID: span, sampled: flags & 1 == 1)
    }

    /// The `traceparent` value of this context.
    public var traceparent: String {
        "00-\(Self.hex(traceIDHigh, 16))\(Self.hex(traceIDLow, 16))-\(Self.hex(spanID, 16))-\(sampled ? "01" : "00")"
    }

    /// The trace id as 32 lower-case hex digits.
    public var traceIDHex: String { Self.hex(traceIDHigh, 16) + Self.hex(traceIDLow, 16) }

    static func hex(_ digits: ArraySlice<UInt8>) -> UInt64? {
        var v: UInt64 = 0
        for c in digits {
            let d: UInt8
            switch c {
            case 0x30...0x39: d = c - 0x30
            case 0x61...0x66: d = c - 0x61 + 10
            default: return nil
            }
            v = v << 4 | UInt64(d)
        }
        return v
    }

    static func hex(_ v: UInt64, _ width: Int) -> String {
        let s = String(v, radix: 16)
        return String(repeating: "0", count: max(0, width - s.count)) + s
    }
}
