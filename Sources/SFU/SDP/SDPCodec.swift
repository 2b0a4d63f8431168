/// One payload type of an m-line with its `a=rtpmap`, `a=fmtp` and `a=rtcp-fb` lines.
public struct SDPCodec: Hashable, Sendable, CustomStringConvertible {
    /// The codecs the server knows how to forward (and how to detect keyframes in).
    public enum Name: String, Hashable, Sendable, CaseIterable {
        case opus
        case vp8
        case vp9
        case h264
        case av1

        /// Matches an rtpmap encoding name, case-insensitively.
        public init?(encodingName: String) {
            switch encodingName.lowercased() {
            case "opus": self = .opus
            case "vp8": self = .vp8
            case "vp9": self = .vp9
            case "h264": self = .h264
            case "av1", "av1x": self = .av1
            default: return nil
            }
        }

        public var kind: MediaKind { self == .opus ? .audio : .video }
        /// The rtpmap encoding name as browsers write it.
        public var encodingName: String {
            switch self {
            case .opus: "opus"
            case .vp8: "VP8"
            case .vp9: "VP9"
            case .h264: "H264"
            case .av1: "AV1"
            }
        }
        public var clockRate: UInt32 { self == .opus ? 48000 : 90000 }
        public var channels: UInt16? { self == .opus ? 2 : nil }
    }

    /// fmtp parameters that describe the sender of the stream, never copied into an answer:
    /// Opus's `sprop-stereo` and `sprop-maxcapturerate` (RFC 7587), H.264's
    /// `sprop-parameter-sets` (RFC 6184).
    public static let senderOnlyParameters: Set<String> = ["sprop-stereo", "sprop-maxcapturerate", "sprop-parameter-sets"]

    /// One `a=fmtp` parameter: `key=value`, or a bare `key` (e.g. RED's `111/111`).
    public struct Parameter: Hashable, Sendable {
        public var key: String
        public var value: String?
        public init(_ key: String, _ value: String?) {
            self.key = key
            self.value = value
        }
    }

    /// One `a=rtcp-fb` value: `nack`, `nack pli`, `ccm fir`, `goog-remb`, `transport-cc`…
    public struct Feedback: Hashable, Sendable, CustomStringConvertible {
        public var type: String
        public var parameter: String?
        public init(_ type: String, _ parameter: String? = nil) {
            self.type = type
            self.parameter = parameter
        }
        public static let nack = Feedback("nack")
        public static let nackPLI = Feedback("nack", "pli")
        public static let ccmFIR = Feedback("ccm", "fir")
        public static let remb = Feedback("goog-remb")
        public static let transportCC = Feedback("transport-cc")

        public var description: String {
            if let parameter { return "\(type) \(parameter)" }
            return type
        }
    }

    /// 0-127.
    public var payloadType: UInt8
    /// As written in the rtpmap (case kept for echoing).
    public var encodingName: String
    public var clockRate: UInt32
    /// Audio channels; nil when the rtpmap has none.
    public var channels: UInt16?
    /// `a=fmtp` parameters in the order written; empty when there is no fmtp line.
    public var parameters: [Parameter]
    /// `a=rtcp-fb` for this payload type, in the order written.
    public var feedback: [Feedback]

    public init(
        payloadType: UInt8, encodingName: String, clockRate: UInt32, channels: UInt16? = nil,
        parameters: [Parameter] = [], feedback: [Feedback] = []
    ) {
        self.payloadType = payloadType
        self.encodingName = encodingName
        self.clockRate = clockRate
        self.channels = channels
        self.parameters = parameters
        self.feedback = feedback
    }

    /// A known codec with the clock rate (and channels) it must have, else nil.
    public var name: Name? {
        guard let name = Name(encodingName: encodingName), clockRate == name.clockRate else {
            return nil
        }
        if name == .opus, channels != 2 { return nil }
        return name
    }

    /// `rtx` (RFC 4588).
    public var isRTX: Bool { encodingName.lowercased() == "rtx" }

    /// The payload type an RTX codec repairs (`apt=`).
    public var associatedPayloadType: UInt8? {
        guard isRTX, let apt = parameter("apt"), let pt = UInt8(apt), pt < 128 else { return nil }
        return pt
    }

    /// The value of a fmtp parameter (keys compared case-insensitively).
    public func parameter(_ key: String) -> String? {
        let lower = key.lowercased()
        return parameters.first { $0.key.lowercased() == lower }?.value
    }

    public func hasFeedback(_ f: Feedback) -> Bool { feedback.contains(f) }

    /// `a=rtpmap` value after the payload type: `opus/48000/2`.
    public var rtpmapValue: String {
        var s = "\(encodingName)/\(clockRate)"
        if let channels { s += "/\(channels)" }
        return s
    }

    /// `a=fmtp` value after the payload type, nil when there are no parameters.
    public var fmtpValue: String? {
        guard !parameters.isEmpty else { return nil }
        var s = ""
        for (i, p) in parameters.enumerated() {
            if i > 0 { s += ";" }
            s += p.key
            if let value = p.value { s += "=" + value }
        }
        return s
    }

    /// Splits a fmtp value into parameters; `;` separated, spaces around them ignored.
    static func parseParameters(_ value: Substring) -> [Parameter] {
        SDPSyntax.split(value, UInt8(ascii: ";")).compactMap { item in
            let trimmed = item.trimmingSpaces
            guard !trimmed.isEmpty else { return nil }
            if let eq = SDPSyntax.firstIndex(of: UInt8(ascii: "="), in: trimmed) {
                return Parameter(
                    String(trimmed[..<eq]).trimmingSpacesString,
                    String(trimmed[trimmed.utf8.index(after: eq)...]).trimmingSpacesString)
            }
            return Parameter(String(trimmed), nil)
        }
    }

    public var description: String { "\(payloadType) \(rtpmapValue)" + (fmtpValue.map { " " + $0 } ?? "") }
}
