import Reactor

/// A set of metric families, built per core and summed across cores at scrape time, then
/// rendered in the Prometheus text format (version 0.0.4). Anything that can say "here are my
/// figures" contributes: `HTTPMetrics` now, the rooms later (`add(...)` with their names).
/// Counters and gauges from different cores are added together, which is right for counts
/// and totals; a per-core figure should carry a `core` label instead.
public struct MetricsSnapshot: Sendable, Equatable {
    public enum Kind: String, Sendable { case counter, gauge, histogram }

    struct Family: Sendable, Equatable {
        var kind: Kind
        var help: String
        /// Rendered label set (`{a="b"}` or "") → value, in insertion order for stable output.
        var samples: [String: Double]
        var order: [String]
    }

    private var families: [String: Family] = [:]
    private var familyOrder: [String] = []

    public init() {}

    /// Adds `value` to the sample `name{labels}` (labels in the order given).
    public mutating func add(_ name: String, _ kind: Kind, help: String, labels: [(String, String)] = [], value: Double) {
        let key = Self.renderLabels(labels)
        if families[name] == nil {
            families[name] = Family(kind: kind, help: help, samples: [:], order: [])
            familyOrder.append(name)
        }
        if families[name]!.samples[key] == nil { families[name]!.order.append(key) }
        families[name]!.samples[key, default: 0] += value
    }

    /// Adds a histogram `name` (`_bucket{le=…}` cumulative, `_sum`, `_count`): `counts[i]`
    /// observations fell at or below `bounds[i]` and above the bound before; `counts` has one
    /// more element, for those above every bound.
    public mutating func addHistogram(_ name: String, help: String, bounds: [Double], counts: [UInt64], sum: Double) {
        precondition(counts.count == bounds.count + 1, "one count per bucket and one over")
        var cumulative: UInt64 = 0
        for (bound, count) in zip(bounds, counts) {
            cumulative += count
            addSample(name, .histogram, help: help, key: "_bucket" + Self.renderLabels([("le", Self.format(bound))]), value: Double(cumulative))
        }
        cumulative += counts[bounds.count]
        addSample(name, .histogram, help: help, key: "_bucket{le=\"+Inf\"}", value: Double(cumulative))
        addSample(name, .histogram, help: help, key: "_sum", value: sum)
        addSample(name, .histogram, help: help, key: "_count", value: Double(cumulative))
    }

    /// A sample whose rendered suffix (`_bucket{le="1"}`) follows the family's name.
    private mutating func addSample(_ name: String, _ kind: Kind, help: String, key: String, value: Double) {
        if families[name] == nil {
            families[name] = Family(kind: kind, help: help, samples: [:], order: [])
            familyOrder.append(name)
        }
        if families[name]!.samples[key] == nil { families[name]!.order.append(key) }
        families[name]!.samples[key, default: 0] += value
    }

    /// Adds a histogram's `_bucket` (cumulative, `le` last), `_sum` and `_count` samples to
    /// `name{labels}`; the same histogram from every core sums into one.
    public mutating func addHistogram(_ name: String, help: String, labels: [(String, String)] = [], _ histogram: FixedHistogram) {
        if families[name] == nil {
            families[name] = Family(kind: .histogram, help: help, samples: [:], order: [])
            familyOrder.append(name)
        }
        var cumulative: UInt64 = 0
        var keys: [(String, Double)] = []
        for (i, bound) in histogram.boundsSeconds.enumerated() {
            cumulative += histogram.counts[i]
            keys.append(("_bucket" + Self.renderLabels(labels + [("le", Self.format(bound))]), Double(cumulative)))
        }
        keys.append(("_bucket" + Self.renderLabels(labels + [("le", "+Inf")]), Double(histogram.count)))
        keys.append(("_sum" + Self.renderLabels(labels), Double(histogram.sumNanoseconds) / 1e9))
        keys.append(("_count" + Self.renderLabels(labels), Double(histogram.count)))
        for (key, value) in keys {
            if families[name]!.samples[key] == nil { families[name]!.order.append(key) }
            families[name]!.samples[key, default: 0] += value
        }
    }

    /// A histogram's observation count for `labels` (tests).
    public func histogramCount(_ name: String, labels: [(String, String)] = []) -> Double? {
        families[name]?.samples["_count" + Self.renderLabels(labels)]
    }

    /// Every metric family name (tests: what the dashboard and the alert rules may use).
    public var familyNames: [String] { familyOrder }

    /// Sums another core's snapshot into this one.
    public mutating func merge(_ other: MetricsSnapshot) {
        for name in other.familyOrder {
            guard let family = other.families[name] else { continue }
            if families[name] == nil {
                families[name] = Family(kind: family.kind, help: family.help, samples: [:], order: [])
                familyOrder.append(name)
            }
            for key in family.order {
                if families[name]!.samples[key] == nil { families[name]!.order.append(key) }
                families[name]!.samples[key, default: 0] += family.samples[key] ?? 0
            }
        }
    }

    /// The value of one sample (tests).
    public func value(_ name: String, labels: [(String, String)] = []) -> Double? {
        families[name]?.samples[Self.renderLabels(labels)]
    }

    /// Prometheus text exposition.
    public func renderPrometheus() -> String {
        var out = ""
        for name in familyOrder {
            guard let family = families[name] else { continue }
            out += "# HELP \(name) \(Self.escapeHelp(family.help))\n# TYPE \(name) \(family.kind.rawValue)\n"
            for key in family.order {
                out += "\(name)\(key) \(Self.format(family.samples[key] ?? 0))\n"
            }
        }
        return out
    }

    static func renderLabels(_ labels: [(String, String)]) -> String {
        guard !labels.isEmpty else { return "" }
        return "{" + labels.map { "\($0.0)=\"\(escapeLabelValue($0.1))\"" }.joined(separator: ",") + "}"
    }

    /// Label values escape `\`, `"` and line feed (the exposition format's rules).
    static func escapeLabelValue(_ value: String) -> String {
        var out = ""
        for c in value.unicodeScalars {
            switch c {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// HELP text escapes `\` and line feed.
    static func escapeHelp(_ value: String) -> String {
        var out = ""
        for c in value.unicodeScalars {
            switch c {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    static func format(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return String(value)
    }
}
