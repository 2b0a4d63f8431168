/// A small streaming JSON text builder for the API's answers (no Foundation in the server).
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
    public mutating func bool(_ b: Bool) { raw(b ? "true" : "false") }
    public mutating func null() { raw("null") }
    /// Already-serialised JSON.
    public mutating func raw(_ json: String) { separator(); text += json; needsComma = true }

    public mutating func field(_ name: String, _ s: String) { key(name); string(s) }
    public mutating func field<N: BinaryInteger>(_ name: String, _ n: N) { key(name); number(n) }
    public mutating func field(_ name: String, _ b: Bool) { key(name); bool(b) }

    private mutating func separator() {
        if needsComma { text += "," }
        needsComma = false
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
