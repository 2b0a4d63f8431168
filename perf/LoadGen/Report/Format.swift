import SFU

/// Number formatting without Foundation: fixed decimals, and JSON string escaping.
enum Format {
    /// `v` with `decimals` digits after the point (rounded half away from zero).
    static func fixed(_ v: Double, _ decimals: Int) -> String {
        guard v.isFinite else { return v.isNaN ? "nan" : (v > 0 ? "inf" : "-inf") }
        var p = 1.0
        for _ in 0..<decimals { p *= 10 }
        let neg = v < 0
        let scaled = (abs(v) * p).rounded()
        guard scaled < 9.0e18 else { return String(v) }
        let n = UInt64(scaled)
        let whole = n / UInt64(p)
        var s = (neg && n > 0 ? "-" : "") + String(whole)
        if decimals > 0 {
            var frac = String(n % UInt64(p))
            while frac.count < decimals { frac = "0" + frac }
            s += "." + frac
        }
        return s
    }

    static func ms(_ nanos: UInt64) -> String { fixed(Double(nanos) / 1e6, 3) }

    static func mib(_ bytes: UInt64) -> String { fixed(Double(bytes) / 1_048_576, 1) }

    /// RFC 8259 string escaping: the server's own writer.
    static func jsonString(_ s: String) -> String { JSONWriter.quoted(s) }

    static func jsonNumber(_ v: Double) -> String {
        v.isFinite ? fixed(v, 6) : "null"
    }
}

/// A tiny JSON object writer (keys in insertion order).
struct JSONObject {
    private var parts: [String] = []
    mutating func add(_ key: String, _ v: Double) { parts.append("\(Format.jsonString(key)):\(Format.jsonNumber(v))") }
    mutating func add(_ key: String, _ v: Int) { parts.append("\(Format.jsonString(key)):\(v)") }
    mutating func add(_ key: String, _ v: UInt64) { parts.append("\(Format.jsonString(key)):\(v)") }
    mutating func add(_ key: String, _ v: Bool) { parts.append("\(Format.jsonString(key)):\(v)") }
    mutating func add(_ key: String, _ v: String) { parts.append("\(Format.jsonString(key)):\(Format.jsonString(v))") }
    mutating func add(_ key: String, _ v: JSONObject) { parts.append("\(Format.jsonString(key)):\(v.text)") }
    mutating func add(_ key: String, raw: String) { parts.append("\(Format.jsonString(key)):\(raw)") }
    mutating func addNull(_ key: String) { parts.append("\(Format.jsonString(key)):null") }
    var text: String { "{" + parts.joined(separator: ",") + "}" }
}
