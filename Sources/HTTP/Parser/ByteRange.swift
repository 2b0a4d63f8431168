/// A `Range` request (RFC 9110 §14.2) resolved against a representation of `size` bytes. One
/// range is served: `bytes=a-b`, `bytes=a-` and `bytes=-n`. A request for several ranges, in
/// another unit, or malformed, is ignored and the whole representation is sent, as §14.2
/// allows ("a server MAY ignore the Range header field"), which spares multipart answers.
public enum ByteRange: Equatable, Sendable {
    /// No (usable) range: send everything with 200.
    case whole
    /// Send `length` bytes from `offset` with 206.
    case partial(offset: Int, length: Int)
    /// No byte of the range exists: 416 with `Content-Range: bytes */size`.
    case unsatisfiable

    public static func resolve(_ header: String?, size: Int) -> ByteRange {
        guard let header else { return .whole }
        var spec = header[...]
        spec = spec.drop { $0 == " " || $0 == "\t" }
        guard spec.count > 6, spec.prefix(6).lowercased() == "bytes=" else { return .whole }
        spec = spec.dropFirst(6)
        spec = Substring(spec.trimmingASCIISpaces())
        guard !spec.contains(","), let dash = spec.firstIndex(of: "-") else { return .whole }
        let first = spec[..<dash]
        let last = spec[spec.index(after: dash)...]
        if first.isEmpty {
            // A suffix: the last n bytes.
            guard let n = number(last) else { return .whole }
            guard n > 0, size > 0 else { return .unsatisfiable }
            let length = min(n, size)
            return .partial(offset: size - length, length: length)
        }
        guard let start = number(first) else { return .whole }
        var end = size - 1
        if !last.isEmpty {
            guard let e = number(last), e >= start else { return .whole }
            end = min(e, size - 1)
        }
        guard start < size else { return .unsatisfiable }
        return .partial(offset: start, length: end - start + 1)
    }

    /// Decimal digits only; a value past `Int.max` saturates (it is past any file's end).
    private static func number(_ text: Substring) -> Int? {
        guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else { return nil }
        return Int(text) ?? .max
    }

    /// The `Content-Range` value of a 206 (`bytes a-b/size`) or a 416 (`bytes */size`).
    public func contentRange(size: Int) -> String? {
        switch self {
        case .whole: nil
        case .partial(let offset, let length): "bytes \(offset)-\(offset + length - 1)/\(size)"
        case .unsatisfiable: "bytes */\(size)"
        }
    }
}
