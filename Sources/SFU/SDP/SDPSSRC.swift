/// The `a=ssrc:<ssrc> <attribute>[:<value>]` lines (RFC 5576) of one SSRC, in the order written.
public struct SDPSSRC: Hashable, Sendable {
    public struct Attribute: Hashable, Sendable {
        public var name: String
        public var value: String?
        public init(_ name: String, _ value: String?) {
            self.name = name
            self.value = value
        }
    }

    public var ssrc: UInt32
    public var attributes: [Attribute]

    public init(ssrc: UInt32, attributes: [Attribute] = []) {
        self.ssrc = ssrc
        self.attributes = attributes
    }

    public var cname: String? { attributes.first { $0.name == "cname" }?.value ?? nil }
    public var msid: SDPMediaStreamID? {
        guard let value = attributes.first(where: { $0.name == "msid" })?.value else { return nil }
        return SDPMediaStreamID(attributeValue: Substring(value))
    }
}

/// `a=ssrc-group:<semantics> <ssrc>…` (RFC 5576 §4.2), e.g. `FID <media> <rtx>`.
public struct SDPSSRCGroup: Hashable, Sendable {
    public var semantics: String
    public var ssrcs: [UInt32]

    public init(semantics: String, ssrcs: [UInt32]) {
        self.semantics = semantics
        self.ssrcs = ssrcs
    }
}

/// `a=group:<semantics> <mid>…` (RFC 5888), e.g. `BUNDLE 0 1`.
public struct SDPGroup: Hashable, Sendable {
    public var semantics: String
    public var mids: [String]

    public init(semantics: String, mids: [String]) {
        self.semantics = semantics
        self.mids = mids
    }
}

/// An attribute the parser does not model, kept verbatim (`a=<name>[:<value>]`).
public struct SDPAttribute: Hashable, Sendable {
    public var name: String
    public var value: String?

    public init(_ name: String, _ value: String? = nil) {
        self.name = name
        self.value = value
    }

    public var line: String {
        if let value { return "a=\(name):\(value)" }
        return "a=\(name)"
    }
}
