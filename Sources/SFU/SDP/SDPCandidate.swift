import Reactor

/// `a=candidate:` (RFC 8839 §5.1): one ICE candidate.
///
/// `candidate:<foundation> <component> <transport> <priority> <address> <port> typ <type>
/// [raddr <address>] [rport <port>] *(<name> <value>)`
public struct SDPCandidate: Hashable, Sendable, CustomStringConvertible {
    /// A trailing `<name> <value>` pair such as `generation 0` or `tcptype active`.
    public struct Extension: Hashable, Sendable {
        public var name: String
        public var value: String
        public init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }

    public var foundation: String
    /// 1 for RTP (the only component with rtcp-mux), 2 for RTCP.
    public var component: UInt16
    /// Lowercased: `udp` or `tcp`.
    public var transport: String
    public var priority: UInt32
    /// An IP literal, or a host name (mDNS `.local` names from browsers).
    public var address: String
    public var port: UInt16
    /// `host`, `srflx`, `prflx` or `relay`.
    public var type: String
    public var relatedAddress: String?
    public var relatedPort: UInt16?
    public var extensions: [Extension]

    public init(
        foundation: String, component: UInt16 = 1, transport: String = "udp", priority: UInt32,
        address: String, port: UInt16, type: String = "host", relatedAddress: String? = nil,
        relatedPort: UInt16? = nil, extensions: [Extension] = []
    ) {
        self.foundation = foundation
        self.component = component
        self.transport = transport.lowercased()
        self.priority = priority
        self.address = address
        self.port = port
        self.type = type
        self.relatedAddress = relatedAddress
        self.relatedPort = relatedPort
        self.extensions = extensions
    }

    /// A host UDP candidate for one of the server's sockets. `index` orders several addresses:
    /// the first gets the highest priority (RFC 8445 §5.1.2.1, type preference 126).
    public init(host address: SocketAddress, index: Int = 0) {
        let localPreference = UInt32(65535 - min(max(index, 0), 65535))
        self.init(
            foundation: String(index + 1), priority: (126 << 24) | (localPreference << 8) | 255,
            address: address.ipString, port: address.port)
    }

    /// Parses the attribute value (what follows `a=candidate:`); the reason on failure.
    public static func parse(_ value: Substring) -> Result<SDPCandidate, CandidateSyntaxError> {
        let fields = SDPSyntax.fields(value)
        guard fields.count >= 8 else { return .failure(.init("fewer than 8 fields")) }
        let foundation = fields[0]
        guard foundation.utf8.count <= 32, foundation.utf8.allSatisfy(SDPSyntax.isICEChar) else {
            return .failure(.init("foundation must be 1-32 ice-chars"))
        }
        guard let component = UInt16(fields[1]), (1...256).contains(component) else {
            return .failure(.init("component must be 1-256"))
        }
        guard SDPSyntax.isToken(fields[2]) else { return .failure(.init("bad transport")) }
        guard let priority = UInt32(fields[3]), priority > 0 else {
            return .failure(.init("priority must be 1-4294967295"))
        }
        guard SDPSyntax.isAddressToken(fields[4]) else { return .failure(.init("bad address")) }
        guard let port = UInt16(fields[5]) else { return .failure(.init("port must be 0-65535")) }
        guard fields[6] == "typ", SDPSyntax.isToken(fields[7]) else {
            return .failure(.init("expected 'typ <type>'"))
        }
        var candidate = SDPCandidate(
            foundation: String(foundation), component: component, transport: String(fields[2]),
            priority: priority, address: String(fields[4]), port: port, type: String(fields[7]))
        var i = 8
        while i < fields.count {
            guard i + 1 < fields.count else {
                return .failure(.init("extension '\(fields[i].prefix(32))' has no value"))
            }
            let name = fields[i]
            let value = fields[i + 1]
            switch name {
            case "raddr" where candidate.relatedAddress == nil && candidate.extensions.isEmpty:
                guard SDPSyntax.isAddressToken(value) else { return .failure(.init("bad raddr")) }
                candidate.relatedAddress = String(value)
            case "rport" where candidate.relatedPort == nil && candidate.extensions.isEmpty:
                guard let port = UInt16(value) else { return .failure(.init("rport must be 0-65535")) }
                candidate.relatedPort = port
            default:
                candidate.extensions.append(Extension(name: String(name), value: String(value)))
            }
            i += 2
        }
        return .success(candidate)
    }

    /// The numeric address and port, or nil for a host name (mDNS) candidate.
    public var socketAddress: SocketAddress? { SocketAddress(ip: address, port: port) }

    /// The attribute value, without the `candidate:` prefix.
    public var attributeValue: String {
        var s = "\(foundation) \(component) \(transport) \(priority) \(address) \(port) typ \(type)"
        if let relatedAddress { s += " raddr \(relatedAddress)" }
        if let relatedPort { s += " rport \(relatedPort)" }
        for e in extensions { s += " \(e.name) \(e.value)" }
        return s
    }

    public var description: String { "candidate:" + attributeValue }
}

/// Why a candidate attribute could not be parsed.
public struct CandidateSyntaxError: Error, Hashable, Sendable {
    public var reason: String
    init(_ reason: String) { self.reason = "candidate: " + reason }
}
