/// Percent-encoding of keys and query strings as SigV4 canonicalises them for S3 (AWS
/// "Create a canonical request"): unreserved bytes (`A-Z a-z 0-9 - . _ ~`) stay, every other
/// byte of the UTF-8 form becomes `%XX` with upper-case hex; in a path `/` stays too. S3
/// paths are encoded once (unlike other services), so the URL is its own canonical form.
public enum S3Encoding {
    /// `key` for a URL path (keeps `/`).
    public static func path(_ key: String) -> String { encode(key, keepSlash: true) }

    /// A query name or value (encodes `/`).
    public static func queryComponent(_ text: String) -> String { encode(text, keepSlash: false) }

    /// `name=value` pairs sorted by encoded name (then value), joined with `&`.
    public static func canonicalQuery(_ pairs: [(String, String)]) -> String {
        pairs.map { (queryComponent($0.0), queryComponent($0.1)) }
            .sorted { $0.0 == $1.0 ? $0.1 < $1.1 : $0.0 < $1.0 }
            .map { "\($0.0)=\($0.1)" }
            .joined(separator: "&")
    }

    private static let hex = Array("0123456789ABCDEF".utf8)

    private static func encode(_ text: String, keepSlash: Bool) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.append(byte)
            case UInt8(ascii: "/") where keepSlash:
                out.append(byte)
            default:
                out.append(UInt8(ascii: "%"))
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0x0F)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
