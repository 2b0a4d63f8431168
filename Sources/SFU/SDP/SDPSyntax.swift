/// Character classes of the SDP grammar (RFC 8866 §9, RFC 8839 §5.1) and the splitting the
/// parsers need, on UTF-8 bytes: SDP's syntax is ASCII, and byte-level work avoids grapheme
/// breaking on every character (a 6 KB offer parses in a fraction of the Character-based time).
enum SDPSyntax {
    static let space: UInt8 = 0x20

    static func isDigit(_ a: UInt8) -> Bool { a >= 0x30 && a <= 0x39 }

    static func isHexDigit(_ a: UInt8) -> Bool {
        isDigit(a) || (a >= 0x41 && a <= 0x46) || (a >= 0x61 && a <= 0x66)
    }

    static func isAlnum(_ a: UInt8) -> Bool {
        isDigit(a) || (a >= 0x41 && a <= 0x5A) || (a >= 0x61 && a <= 0x7A)
    }

    /// ice-char: ALPHA / DIGIT / "+" / "/".
    static func isICEChar(_ a: UInt8) -> Bool {
        isAlnum(a) || a == UInt8(ascii: "+") || a == UInt8(ascii: "/")
    }

    /// token-char: visible ASCII except the separators the grammar excludes.
    static func isTokenChar(_ a: UInt8) -> Bool {
        guard a > 0x20, a < 0x7F else { return false }
        switch a {
        case 0x22, 0x28, 0x29, 0x2C, 0x2F, 0x3A, 0x3B, 0x3C, 0x3D, 0x3E, 0x3F, 0x40, 0x5B, 0x5C,
            0x5D, 0x7B, 0x7D:
            return false
        default:
            return true
        }
    }

    /// Visible ASCII, no spaces: IP literals, host names, URIs.
    static func isVisible(_ a: UInt8) -> Bool { a > 0x20 && a < 0x7F }

    static func isToken(_ s: Substring) -> Bool {
        let u = s.utf8
        return !u.isEmpty && u.count <= 256 && u.allSatisfy(isTokenChar)
    }

    static func isAddressToken(_ s: Substring) -> Bool {
        let u = s.utf8
        return !u.isEmpty && u.count <= 255 && u.allSatisfy(isVisible)
    }

    /// ice-ufrag / ice-pwd: ice-chars, at most 256 (RFC 8839 §5.4).
    static func isICECredential(_ s: Substring) -> Bool {
        let u = s.utf8
        return !u.isEmpty && u.count <= 256 && u.allSatisfy(isICEChar)
    }

    static func isDigits(_ s: Substring, max: Int) -> Bool {
        let u = s.utf8
        return !u.isEmpty && u.count <= max && u.allSatisfy(isDigit)
    }

    /// A value without control characters (attribute values we keep verbatim). Valid UTF-8
    /// above ASCII is allowed (session names); the parser never splits inside it.
    static func isPrintable(_ s: Substring) -> Bool {
        s.utf8.allSatisfy { $0 >= 0x20 && $0 != 0x7F }
    }

    /// Splits on an ASCII separator byte. With `omittingEmpty`, runs of separators count as
    /// one and the remainder after `maxSplits` starts at its first non-separator byte.
    static func split(
        _ s: Substring, _ separator: UInt8, maxSplits: Int = Int.max, omittingEmpty: Bool = true
    ) -> [Substring] {
        var out: [Substring] = []
        let u = s.utf8
        var start = u.startIndex
        var i = start
        while i != u.endIndex, out.count < maxSplits {
            if u[i] == separator {
                if !omittingEmpty || start != i { out.append(s[start..<i]) }
                start = u.index(after: i)
            }
            i = u.index(after: i)
        }
        if omittingEmpty {
            while start != u.endIndex, u[start] == separator { start = u.index(after: start) }
            if start != u.endIndex { out.append(s[start..<u.endIndex]) }
        } else {
            out.append(s[start..<u.endIndex])
        }
        return out
    }

    /// Space-separated fields.
    static func fields(_ s: Substring, maxSplits: Int = Int.max) -> [Substring] {
        split(s, space, maxSplits: maxSplits)
    }

    /// Without leading and trailing spaces and tabs.
    static func trim(_ s: Substring) -> Substring {
        let u = s.utf8
        var a = u.startIndex
        var b = u.endIndex
        while a != b, u[a] == space || u[a] == 0x09 { a = u.index(after: a) }
        while a != b {
            let p = u.index(before: b)
            guard u[p] == space || u[p] == 0x09 else { break }
            b = p
        }
        return s[a..<b]
    }

    /// The index of the first `byte` in `s`.
    static func firstIndex(of byte: UInt8, in s: Substring) -> String.Index? {
        s.utf8.firstIndex(of: byte)
    }
}

extension Substring {
    var trimmingSpaces: Substring { SDPSyntax.trim(self) }
}

extension String {
    var trimmingSpacesString: String { String(SDPSyntax.trim(Substring(self))) }
}
