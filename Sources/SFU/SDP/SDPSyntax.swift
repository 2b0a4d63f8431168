/// Character classes of the SDP grammar (RFC 8866 §9, RFC 8839 §5.1), shared by the parsers.
enum SDPSyntax {
    /// ice-char: ALPHA / DIGIT / "+" / "/".
    static func isICEChar(_ c: Character) -> Bool {
        guard let a = c.asciiValue else { return false }
        return isAlnum(a) || a == UInt8(ascii: "+") || a == UInt8(ascii: "/")
    }

    static func isAlnum(_ a: UInt8) -> Bool {
        (a >= 0x30 && a <= 0x39) || (a >= 0x41 && a <= 0x5A) || (a >= 0x61 && a <= 0x7A)
    }

    /// token-char: visible ASCII except the separators the grammar excludes.
    static func isTokenChar(_ c: Character) -> Bool {
        guard let a = c.asciiValue, a > 0x20, a < 0x7F else { return false }
        switch a {
        case 0x22, 0x28, 0x29, 0x2C, 0x2F, 0x3A, 0x3B, 0x3C, 0x3D, 0x3E, 0x3F, 0x40, 0x5B, 0x5C,
            0x5D, 0x7B, 0x7D:
            return false
        default:
            return true
        }
    }

    static func isToken(_ s: Substring) -> Bool {
        !s.isEmpty && s.count <= 256 && s.allSatisfy(isTokenChar)
    }

    /// Visible ASCII, no spaces: IP literals and host names.
    static func isVisible(_ c: Character) -> Bool {
        guard let a = c.asciiValue else { return false }
        return a > 0x20 && a < 0x7F
    }

    static func isAddressToken(_ s: Substring) -> Bool {
        !s.isEmpty && s.count <= 255 && s.allSatisfy(isVisible)
    }

    /// ice-ufrag / ice-pwd: ice-chars, at most 256 (RFC 8839 §5.4).
    static func isICECredential(_ s: Substring) -> Bool {
        !s.isEmpty && s.count <= 256 && s.allSatisfy(isICEChar)
    }

    /// A value without control characters (attribute values we keep verbatim).
    static func isPrintable(_ s: Substring) -> Bool {
        s.unicodeScalars.allSatisfy { $0.value >= 0x20 && $0.value != 0x7F }
    }
}
