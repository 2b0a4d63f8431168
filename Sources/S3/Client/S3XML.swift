/// The little XML S3 exchanges here: reading one element's text from an answer (`<Code>`,
/// `<Message>`, `<UploadId>`, `<ETag>`) and writing CompleteMultipartUpload's body. Not an
/// XML parser: a bounded search for `<Name>`…`</Name>` in at most `maximumBodyBytes` of the
/// body (S3's answers here are flat and small; anything else reads as "no such field"), with
/// the five predefined entities decoded. Element text is cut at `maximumFieldBytes` and its
/// control characters become spaces.
public enum S3XML {
    /// Bytes of an answer body that are kept and searched; the rest is discarded.
    public static let maximumBodyBytes = 64 * 1024
    /// Longest element text returned (S3 messages are one sentence).
    public static let maximumFieldBytes = 1024

    /// The text of the first `<name>` element, or nil when there is none (or it is not closed
    /// within the searched bytes).
    public static func field(_ name: String, in body: some Collection<UInt8>) -> String? {
        let bytes = Array(body.prefix(maximumBodyBytes))
        let open = Array("<\(name)>".utf8)
        let close = Array("</\(name)>".utf8)
        guard let start = firstIndex(of: open, in: bytes, from: 0) else { return nil }
        let textStart = start + open.count
        guard let end = firstIndex(of: close, in: bytes, from: textStart) else { return nil }
        let raw = bytes[textStart..<min(end, textStart + maximumFieldBytes)]
        // Control characters would break a log line or a JSON value built from the text.
        let text = decodeEntities(String(decoding: raw, as: UTF8.self))
        return String(String.UnicodeScalarView(text.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? " " : $0 }))
    }

    /// Whether the body is an S3 `<Error>` document (CompleteMultipartUpload can send one with
    /// status 200).
    public static func isError(_ body: some Collection<UInt8>) -> Bool {
        firstIndex(of: Array("<Error>".utf8), in: Array(body.prefix(maximumBodyBytes)), from: 0) != nil
    }

    /// CompleteMultipartUpload's body: the parts in order with the ETags S3 returned for them.
    public static func completeMultipartUpload(parts: [(number: Int, etag: String)]) -> String {
        var xml = "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        for part in parts {
            xml += "<Part><PartNumber>\(part.number)</PartNumber><ETag>\(escape(part.etag))</ETag></Part>"
        }
        return xml + "</CompleteMultipartUpload>"
    }

    /// `text` with `& < > " '` as entities.
    public static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            default: out.append(character)
            }
        }
        return out
    }

    private static func decodeEntities(_ text: String) -> String {
        guard text.contains("&") else { return text }
        var out = ""
        var rest = Substring(text)
        while let amp = rest.firstIndex(of: "&") {
            out += rest[..<amp]
            rest = rest[amp...]
            let entities = [("&amp;", "&"), ("&lt;", "<"), ("&gt;", ">"), ("&quot;", "\""), ("&apos;", "'")]
            if let (entity, value) = entities.first(where: { rest.hasPrefix($0.0) }) {
                out += value
                rest = rest.dropFirst(entity.count)
            } else {
                out += "&"
                rest = rest.dropFirst()
            }
        }
        return out + rest
    }

    private static func firstIndex(of needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
        guard !needle.isEmpty, haystack.count >= needle.count, start <= haystack.count - needle.count else { return nil }
        var i = start
        while i <= haystack.count - needle.count {
            if haystack[i] == needle[0], haystack[i..<(i + needle.count)].elementsEqual(needle) { return i }
            i += 1
        }
        return nil
    }
}
