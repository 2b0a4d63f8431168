import SFU

/// Number formatting for the text report, without Foundation.
enum Format {
    /// `v` with `decimals` digits after the point (rounded half away from zero); the JSON
    /// report writes the same digits through `JSONWriter`.
    static func fixed(_ v: Double, _ decimals: Int) -> String {
        JSONWriter.fixed(v, decimals: decimals) ?? (v.isNaN ? "nan" : (v > 0 ? "inf" : "-inf"))
    }

    static func ms(_ nanos: UInt64) -> String { fixed(Double(nanos) / 1e6, 3) }

    static func mib(_ bytes: UInt64) -> String { fixed(Double(bytes) / 1_048_576, 1) }
}
