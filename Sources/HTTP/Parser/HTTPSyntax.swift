/// The character classes and small grammars of RFC 9110/9112 the parser needs.
enum HTTPSyntax {
    /// tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" /
    /// "|" / "~" / DIGIT / ALPHA
    @inline(__always)
    static func isTokenChar(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"),
            UInt8(ascii: "&"), UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"),
            UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "^"), UInt8(ascii: "_"),
            UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }

    /// field-vchar / SP / HTAB, with obs-text (0x80–0xFF) allowed as RFC 9110 §5.5 does.
    @inline(__always)
    static func isFieldValueChar(_ b: UInt8) -> Bool {
        b == 0x09 || (b >= 0x20 && b != 0x7F)
    }

    /// Characters of `uri-host [ ":" port ]` (reg-name, IPv4, IP-literal), no userinfo.
    static func isHostChar(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        case UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"),
            UInt8(ascii: ":"), UInt8(ascii: "["), UInt8(ascii: "]"), UInt8(ascii: "%"),
            UInt8(ascii: "!"), UInt8(ascii: "$"), UInt8(ascii: "&"), UInt8(ascii: "'"),
            UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: "*"), UInt8(ascii: "+"),
            UInt8(ascii: ","), UInt8(ascii: ";"), UInt8(ascii: "="):
            return true
        default:
            return false
        }
    }

    enum Version { case minor(Int), unsupportedMajor, invalid }

    /// HTTP-version = "HTTP/" DIGIT "." DIGIT
    static func parseVersion(_ bytes: ArraySlice<UInt8>) -> Version {
        guard bytes.count == 8, bytes.starts(with: "HTTP/".utf8) else { return .invalid }
        let i = bytes.startIndex
        let major = bytes[i + 5]
        let dot = bytes[i + 6]
        let minor = bytes[i + 7]
        guard dot == UInt8(ascii: "."), isDigit(major), isDigit(minor) else { return .invalid }
        guard major == UInt8(ascii: "1") else { return .unsupportedMajor }
        return .minor(Int(minor - UInt8(ascii: "0")))
    }

    static func isDigit(_ b: UInt8) -> Bool { b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") }

    enum ContentLength { case value(Int), tooLarge, invalid }

    /// `Content-Length = 1*DIGIT`; a list (`5, 5`) or a sign is invalid. Values above `max`
    /// are `tooLarge` however many digits they have (no overflow).
    static func parseContentLength(_ bytes: ArraySlice<UInt8>, max: Int) -> ContentLength {
        guard !bytes.isEmpty, bytes.allSatisfy(isDigit) else { return .invalid }
        var value = 0
        for b in bytes {
            value = value * 10 + Int(b - UInt8(ascii: "0"))
            if value > max { return .tooLarge }
        }
        return .value(value)
    }

    /// The elements of a comma-separated list with optional whitespace, empty ones skipped.
    static func commaList(_ bytes: ArraySlice<UInt8>) -> [ArraySlice<UInt8>] {
        bytes.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: true).compactMap {
            var element = $0
            while let f = element.first, f == 0x20 || f == 0x09 { element = element.dropFirst() }
            while let l = element.last, l == 0x20 || l == 0x09 { element = element.dropLast() }
            return element.isEmpty ? nil : element
        }
    }

    /// ASCII case-insensitive comparison with a lowercase literal.
    static func equalsIgnoringCase(_ bytes: some Collection<UInt8>, _ lowercase: String) -> Bool {
        bytes.count == lowercase.utf8.count
            && zip(bytes, lowercase.utf8).allSatisfy { a, b in
                (a >= 0x41 && a <= 0x5A ? a | 0x20 : a) == b
            }
    }

    /// `http://authority/path?query` → (authority, "/path?query"); nil for other schemes.
    static func splitAbsoluteForm(_ target: ArraySlice<UInt8>) -> (authority: String, path: String)? {
        let rest: ArraySlice<UInt8>
        if target.count > 7, equalsIgnoringCase(target.prefix(7), "http://") {
            rest = target.dropFirst(7)
        } else if target.count > 8, equalsIgnoringCase(target.prefix(8), "https://") {
            rest = target.dropFirst(8)
        } else {
            return nil
        }
        let authorityEnd =
            rest.firstIndex(where: { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "?") })
            ?? rest.endIndex
        let authority = rest[rest.startIndex..<authorityEnd]
        guard !authority.isEmpty, authority.allSatisfy(isHostChar) else { return nil }
        let remainder = rest[authorityEnd...]
        let path: String
        if remainder.isEmpty {
            path = "/"
        } else if remainder.first == UInt8(ascii: "?") {
            path = "/" + String(decoding: remainder, as: UTF8.self)
        } else {
            path = String(decoding: remainder, as: UTF8.self)
        }
        return (String(decoding: authority, as: UTF8.self), path)
    }
}
