/// Parses SDP text (RFC 8866) into a `SessionDescription`.
///
/// Strict where the server acts on a value (line syntax, numbers and their ranges, m-lines,
/// credentials, fingerprints, duplicates that would make the description ambiguous), tolerant
/// of what it does not use (unknown attributes and line types are kept or skipped). Accepts
/// CRLF or LF line endings. Sizes are bounded by `SDPLimits` before anything is built.
public enum SDPParser {
    /// Parses a complete description. Errors name the 1-based line and the reason.
    public static func parse(_ text: String) throws(SDPError) -> SessionDescription {
        let lines = try splitLines(text)
        guard let first = lines.firstIndex(where: { !$0.isEmpty }) else {
            throw .malformed(line: 1, reason: "empty description; expected v=0")
        }
        guard lines[first] == "v=0" else {
            throw .malformed(line: first + 1, reason: "the first line must be v=0")
        }

        var session = SessionDescription(origin: .init(sessionID: "0", sessionVersion: "0"))
        var sawOrigin = false
        var current: MediaBuilder?
        var mids = Set<String>()

        for index in (first + 1)..<lines.count {
            let line = lines[index]
            let number = index + 1
            if line.isEmpty { continue }
            let (type, value) = try splitLine(line, number)

            if type == "m" {
                if let builder = current {
                    let media = try builder.finish()
                    try register(media, builder.line, in: &mids)
                    session.media.append(media)
                }
                guard session.media.count < SDPLimits.maxMediaSections else {
                    throw .tooLarge("more than \(SDPLimits.maxMediaSections) m-lines")
                }
                guard sawOrigin else { throw .malformed(line: number, reason: "m-line before o= line") }
                current = try MediaBuilder(mLine: value, line: number)
                continue
            }

            // take() leaves no second reference, so the builder's arrays are mutated in place.
            if var builder = current.take() {
                try builder.apply(type: type, value: value, line: number)
                current = builder
                continue
            }

            switch type {
            case "v":
                throw .malformed(line: number, reason: "second v= line")
            case "o":
                guard !sawOrigin else { throw .malformed(line: number, reason: "second o= line") }
                session.origin = try parseOrigin(value, line: number)
                sawOrigin = true
            case "s":
                session.sessionName = String(value)
            case "t":
                session.timing = String(value)
            case "c":
                session.connection = try parseConnection(value, line: number)
            case "b":
                session.bandwidths.append(String(value))
            case "a":
                try applySessionAttribute(value, to: &session, line: number)
            default:
                // i=, u=, e=, p=, z=, k=, r= and unknown types: nothing the server uses.
                break
            }
        }
        guard sawOrigin else {
            throw .malformed(line: lines.count, reason: "missing o= line")
        }
        if let builder = current {
            let media = try builder.finish()
            try register(media, builder.line, in: &mids)
            session.media.append(media)
        }
        return session
    }

    /// Splits on CRLF or LF after checking the byte and line limits; trailing empty lines are
    /// dropped. Line numbers (index + 1) match what an editor shows.
    static func splitLines(_ text: String) throws(SDPError) -> [Substring] {
        let u = text.utf8
        guard u.count <= SDPLimits.maxBytes else {
            throw .tooLarge("more than \(SDPLimits.maxBytes) bytes")
        }
        var lineCount = 1
        for byte in u where byte == 0x0A { lineCount += 1 }
        guard lineCount <= SDPLimits.maxLines + 1 else {
            throw .tooLarge("more than \(SDPLimits.maxLines) lines")
        }
        var lines = SDPSyntax.split(Substring(text), 0x0A, omittingEmpty: false)
        // CR of CRLF, and trailing spaces/tabs some stacks leave (`a=rtcp-mux `): never meaningful.
        for i in lines.indices {
            var line = lines[i]
            while let last = line.utf8.last, last == 0x0D || last == 0x20 || last == 0x09 {
                line = line[..<line.utf8.index(before: line.utf8.endIndex)]
            }
            lines[i] = line
        }
        while let last = lines.last, last.isEmpty { lines.removeLast() }
        guard lines.count <= SDPLimits.maxLines else {
            throw .tooLarge("more than \(SDPLimits.maxLines) lines")
        }
        return lines
    }

    /// Checks `<letter>=<value>` and the line's length and characters; returns the type letter
    /// and the value.
    static func splitLine(_ line: Substring, _ number: Int) throws(SDPError) -> (type: Character, value: Substring) {
        let u = line.utf8
        guard u.count <= SDPLimits.maxLineLength else {
            throw .malformed(line: number, reason: "line longer than \(SDPLimits.maxLineLength) bytes")
        }
        guard u.count >= 2, let t = u.first, t >= 0x61, t <= 0x7A, u[u.index(after: u.startIndex)] == 0x3D else {
            throw .malformed(line: number, reason: "expected <letter>=<value>")
        }
        guard SDPSyntax.isPrintable(line) else {
            throw .malformed(line: number, reason: "control character in line")
        }
        return (Character(Unicode.Scalar(t)), line[u.index(u.startIndex, offsetBy: 2)...])
    }

    private static func register(_ media: MediaDescription, _ line: Int, in mids: inout Set<String>)
        throws(SDPError)
    {
        guard let mid = media.mid else { return }
        guard mids.insert(mid).inserted else {
            throw .malformed(line: line, reason: "mid '\(mid)' used by two m-lines")
        }
    }

    static func parseOrigin(_ value: Substring, line: Int) throws(SDPError) -> SessionDescription.Origin {
        let f = SDPSyntax.fields(value)
        guard f.count == 6 else {
            throw .malformed(
                line: line, reason: "o= needs 6 fields: <username> <sess-id> <sess-version> IN <addrtype> <address>")
        }
        guard SDPSyntax.isDigits(f[1], max: 32) else {
            throw .malformed(line: line, reason: "o= session id must be 1-32 digits")
        }
        guard SDPSyntax.isDigits(f[2], max: 32) else {
            throw .malformed(line: line, reason: "o= session version must be 1-32 digits")
        }
        return .init(
            username: String(f[0]), sessionID: String(f[1]), sessionVersion: String(f[2]),
            address: f[3...].joined(separator: " "))
    }

    static func parseConnection(_ value: Substring, line: Int) throws(SDPError) -> String {
        let f = SDPSyntax.fields(value)
        guard f.count == 3, f[0] == "IN", f[1] == "IP4" || f[1] == "IP6",
            SDPSyntax.isAddressToken(f[2])
        else {
            throw .malformed(line: line, reason: "c= must be IN IP4|IP6 <address>")
        }
        return f.joined(separator: " ")
    }

    /// Splits `name[:value]`; the name must be a token.
    static func splitAttribute(_ value: Substring, line: Int) throws(SDPError) -> (name: Substring, value: Substring?) {
        let name: Substring
        let rest: Substring?
        if let colon = SDPSyntax.firstIndex(of: UInt8(ascii: ":"), in: value) {
            name = value[..<colon]
            rest = value[value.utf8.index(after: colon)...]
        } else {
            name = value
            rest = nil
        }
        guard SDPSyntax.isToken(name) else {
            throw .malformed(line: line, reason: "attribute name '\(name.prefix(40))' is not a token")
        }
        return (name, rest)
    }

    private static func applySessionAttribute(_ raw: Substring, to s: inout SessionDescription, line: Int)
        throws(SDPError)
    {
        let (name, value) = try splitAttribute(raw, line: line)
        switch name {
        case "group":
            s.groups.append(try parseGroup(value, line: line))
        case "ice-lite":
            s.iceLite = true
        case "ice-ufrag":
            s.iceUfrag = try parseCredential(value, "ice-ufrag", line: line)
        case "ice-pwd":
            s.icePassword = try parseCredential(value, "ice-pwd", line: line)
        case "ice-options":
            s.iceOptions = parseOptions(value)
        case "fingerprint":
            s.fingerprints.append(try parseFingerprint(value, line: line))
        case "setup":
            s.setup = try parseSetup(value, line: line)
        case "extmap-allow-mixed":
            s.extmapAllowMixed = true
        case "msid-semantic":
            s.msidSemantic = value.map(String.init) ?? ""
        default:
            s.otherAttributes.append(SDPAttribute(String(name), value.map(String.init)))
        }
    }

    static func parseGroup(_ value: Substring?, line: Int) throws(SDPError) -> SDPGroup {
        let f = SDPSyntax.fields(value ?? "")
        guard let semantics = f.first, SDPSyntax.isToken(semantics) else {
            throw .malformed(line: line, reason: "a=group needs <semantics> <mid>…")
        }
        var mids: [String] = []
        for mid in f.dropFirst() {
            guard isMid(mid) else { throw .malformed(line: line, reason: "a=group: bad mid '\(mid.prefix(40))'") }
            guard !mids.contains(String(mid)) else {
                throw .malformed(line: line, reason: "a=group lists mid '\(mid)' twice")
            }
            mids.append(String(mid))
        }
        return SDPGroup(semantics: String(semantics), mids: mids)
    }

    static func isMid(_ s: Substring) -> Bool { SDPSyntax.isToken(s) && s.utf8.count <= 64 }

    static func parseCredential(_ value: Substring?, _ what: String, line: Int) throws(SDPError) -> String {
        guard let value = value?.trimmingSpaces, SDPSyntax.isICECredential(value) else {
            throw .malformed(line: line, reason: "\(what) must be 1-256 characters of [A-Za-z0-9+/]")
        }
        return String(value)
    }

    static func parseOptions(_ value: Substring?) -> [String] {
        SDPSyntax.fields(value ?? "").map(String.init)
    }

    static func parseFingerprint(_ value: Substring?, line: Int) throws(SDPError) -> SDPFingerprint {
        guard let value, let fingerprint = SDPFingerprint(attributeValue: value) else {
            throw .malformed(line: line, reason: "fingerprint must be <hash> <hex bytes separated by ':'>")
        }
        return fingerprint
    }

    static func parseSetup(_ value: Substring?, line: Int) throws(SDPError) -> SDPSetupRole {
        guard let value, let role = SDPSetupRole(rawValue: value.trimmingSpaces.lowercased()) else {
            throw .malformed(line: line, reason: "setup must be active, passive, actpass or holdconn")
        }
        return role
    }

    /// Parses an unsigned decimal within `range`, naming `what` in the error.
    static func number<T: FixedWidthInteger>(
        _ s: Substring, _ range: ClosedRange<T>, _ what: String, line: Int
    ) throws(SDPError) -> T {
        guard SDPSyntax.isDigits(s, max: 20) else {
            throw .malformed(line: line, reason: "\(what) '\(s.prefix(24))' is not a number")
        }
        guard let v = T(s), range.contains(v) else {
            throw .malformed(line: line, reason: "\(what) \(s) out of range \(range.lowerBound)-\(range.upperBound)")
        }
        return v
    }
}
