/// A small streaming JSON text builder (no Foundation in the server): the HTTP API's answers and
/// the load tool's report. In `SFU` because it is the one module both depend on.
public struct JSONWriter {
    public private(set) var text = ""
    private var needsComma = false

    public init() {}

    public mutating func beginObject() { separator(); text += "{"; needsComma = false }
    public mutating func endObject() { text += "}"; needsComma = true }
    public mutating func beginArray() { separator(); text += "["; needsComma = false }
    public mutating func endArray() { text += "]"; needsComma = true }

    /// An object key; the next value written belongs to it.
    public mutating func key(_ name: String) {
        separator()
        text += Self.quoted(name) + ":"
        needsComma = false
    }

    public mutating func string(_ s: String) { separator(); text += Self.quoted(s); needsComma = true }
    public mutating func number<N: BinaryInteger>(_ n: N) { separator(); text += "\(n)"; needsComma = true }
    /// `v` with exactly `decimals` digits after the point; `null` when it is not finite
    /// (JSON has no NaN or infinity).
    public mutating func number(_ v: Double, decimals: Int) { raw(Self.fixed(v, decimals: decimals) ?? "null") }
    public mutating func bool(_ b: Bool) { raw(b ? "true" : "false") }
    public mutating func null() { raw("null") }
    /// Already-serialised JSON.
    public mutating func raw(_ json: String) { separator(); text += json; needsComma = true }

    public mutating func field(_ name: String, _ s: String) { key(name); string(s) }
    public mutating func field<N: BinaryInteger>(_ name: String, _ n: N) { key(name); number(n) }
    public mutating func field(_ name: String, _ b: Bool) { key(name); bool(b) }
    public mutating func field(_ name: String, _ v: Double, decimals: Int) { key(name); number(v, decimals: decimals) }
    /// An array of strings.
    public mutating func field(_ name: String, _ strings: [String]) {
        key(name)
        beginArray()
        for s in strings { string(s) }
        endArray()
    }

    private mutating func separator() {
        if needsComma { text += "," }
        needsComma = false
    }

    /// `v` with exactly `decimals` digits after the point, rounded half away from zero,
    /// without Foundation's formatters; nil when `v` is not finite.
    public static func fixed(_ v: Double, decimals: Int) -> String? {
        guard v.isFinite else { return nil }
        var p = 1.0
        for _ in 0..<max(decimals, 0) { p *= 10 }
        let scaled = (abs(v) * p).rounded()
        // Beyond UInt64: Swift's shortest representation rather than a trap.
        guard scaled < 9.0e18 else { return String(v) }
        let n = UInt64(scaled)
        let whole = n / UInt64(p)
        var s = (v < 0 && n > 0 ? "-" : "") + String(whole)
        if decimals > 0 {
            let frac = String(n % UInt64(p))
            s += "." + String(repeating: "0", count: decimals - frac.count) + frac
        }
        return s
    }

    /// RFC 8259 string escaping.
    public static func quoted(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where u.value < 0x20:
                let hex = String(u.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(u)
            }
        }
        return out + "\""
    }
}
