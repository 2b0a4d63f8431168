/// What `OTEL_*` configure (parsed and validated by `Configuration`): where spans go, with
/// which headers, how they are sampled, and the resource they describe.
public struct TracingSettings: Sendable, Equatable {
    /// The traces URL: `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` as given, or
    /// `OTEL_EXPORTER_OTLP_ENDPOINT` + `/v1/traces`.
    public var tracesURL: String
    /// `OTEL_EXPORTER_OTLP_HEADERS` (`k=v,k2=v2`, values percent-decoded).
    public var headers: [(String, String)]
    public var sampler: TraceSampler
    /// `service.name` (`OTEL_SERVICE_NAME`, else `OTEL_RESOURCE_ATTRIBUTES`' own, else
    /// `livesfu`) first, then the other `OTEL_RESOURCE_ATTRIBUTES`.
    public var resource: [(String, String)]

    public init(tracesURL: String, headers: [(String, String)], sampler: TraceSampler, resource: [(String, String)]) {
        self.tracesURL = tracesURL
        self.headers = headers
        self.sampler = sampler
        self.resource = resource
    }

    public static func == (a: TracingSettings, b: TracingSettings) -> Bool {
        a.tracesURL == b.tracesURL && a.sampler == b.sampler && a.headers.elementsEqual(b.headers, by: ==)
            && a.resource.elementsEqual(b.resource, by: ==)
    }

    /// `k=v,k2=v2` as the OTel specification writes headers and resource attributes: items
    /// split on `,`, key and value trimmed, the value percent-decoded. Nil when an item has
    /// no `=` or an empty key.
    public static func parseList(_ text: String) -> [(String, String)]? {
        var out: [(String, String)] = []
        for item in text.split(separator: ",") {
            let entry = item.trimmingCharacters(in: " \t")
            if entry.isEmpty { continue }
            guard let eq = entry.firstIndex(of: "=") else { return nil }
            let key = String(entry[..<eq]).trimmingCharacters(in: " \t")
            let raw = String(entry[entry.index(after: eq)...]).trimmingCharacters(in: " \t")
            guard !key.isEmpty, let value = percentDecoded(raw) else { return nil }
            out.append((key, value))
        }
        return out
    }

    static func percentDecoded(_ s: String) -> String? {
        var bytes: [UInt8] = []
        var it = Array(s.utf8)[...]
        while let c = it.popFirst() {
            if c == 0x25 {
                guard it.count >= 2, let v = TraceContext.hex(it.prefix(2).map { $0 | 0x20 }[...]) else { return nil }
                bytes.append(UInt8(v))
                it = it.dropFirst(2)
            } else {
                bytes.append(c)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }
}

/// `OTEL_TRACES_SAMPLER` (+ `OTEL_TRACES_SAMPLER_ARG` for the ratio ones).
public enum TraceSampler: Sendable, Equatable {
    case alwaysOn, alwaysOff, traceIDRatio(Double)
    case parentBasedAlwaysOn, parentBasedAlwaysOff, parentBasedTraceIDRatio(Double)

    public init?(name: String, argument: Double?) {
        let ratio = min(max(argument ?? 1, 0), 1)
        switch name {
        case "always_on": self = .alwaysOn
        case "always_off": self = .alwaysOff
        case "traceidratio": self = .traceIDRatio(ratio)
        case "parentbased_always_on": self = .parentBasedAlwaysOn
        case "parentbased_always_off": self = .parentBasedAlwaysOff
        case "parentbased_traceidratio": self = .parentBasedTraceIDRatio(ratio)
        default: return nil
        }
    }

    /// Whether a new span of trace `traceIDLow` is sampled, given its remote parent.
    public func sample(parent: TraceContext?, traceIDLow: UInt64) -> Bool {
        switch self {
        case .alwaysOn: return true
        case .alwaysOff: return false
        case .traceIDRatio(let r): return Self.ratio(r, traceIDLow)
        case .parentBasedAlwaysOn: return parent?.sampled ?? true
        case .parentBasedAlwaysOff: return parent?.sampled ?? false
        case .parentBasedTraceIDRatio(let r): return parent?.sampled ?? Self.ratio(r, traceIDLow)
        }
    }

    /// The lower 63 bits of the trace id against the ratio: the same trace gets the same
    /// answer on every server.
    static func ratio(_ r: Double, _ id: UInt64) -> Bool {
        if r >= 1 { return true }
        if r <= 0 { return false }
        return Double(id & 0x7FFF_FFFF_FFFF_FFFF) < r * Double(Int64.max)
    }
}

extension String {
    fileprivate func trimmingCharacters(in set: String) -> String {
        let s = Set(set)
        return String(drop { s.contains($0) }.reversed().drop { s.contains($0) }.reversed())
    }
}

extension Substring {
    fileprivate func trimmingCharacters(in set: String) -> String { String(self).trimmingCharacters(in: set) }
}
